"""A valid scenario always gets its report: plots stay a bounded size whatever the records hold."""

import re
import struct

import pytest

from sim.cli import main
from sim.metrics.comparison import compare
from sim.metrics.records import MessageRecord, RunResult
from sim.report.folder import write_report

DAY = 86400.0
NOT_A_NUMBER = re.compile(r"\b(nan|inf|infinity)\b", re.IGNORECASE)
MAX_PIXELS = 5000  # a side; matplotlib refuses 2**23, a report page wants far less


def png_size(path):
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def assert_bounded_plots(folder):
    pngs = sorted(folder.glob("*.png"))
    assert len(pngs) == 10
    for png in pngs:
        assert max(png_size(png)) <= MAX_PIXELS, png.name


ZERO_LATENCY = """
[scenario]
name = "zero"
replications = 1
[workload]
[[workload.script]]
customer = "m"
messages = ["20h", "20h"]
[services]
crm = "0s"
llm = "0s"
[redis]
rtt = "0s"
"""


def test_zero_latency_services_late_in_the_day_get_a_report_with_a_normal_sized_burst_plot(tmp_path):
    """The issue's case: every bar has zero width, the reply labels sat at hour 20 of an axis kept at
    [0, 1] s, and the busiest-burst image was tens of millions of pixels wide (exit 1, no report)."""
    path = tmp_path / "zero.toml"
    path.write_text(ZERO_LATENCY)
    assert main(["compare", str(path), "--out", str(tmp_path / "out"), "--quiet", "--processes", "1"]) == 0
    assert_bounded_plots(tmp_path / "out" / "zero")
    width, height = png_size(tmp_path / "out" / "zero" / "busiest_customer.png")
    assert width < 1200 and height < 400


def record(message, arrival=0.0, reply=None, **changes):
    reply = arrival if reply is None else reply
    fields = dict(
        message=message, customer="c", index=0, arrival=arrival, queue_wait=0.0, lock_wait=0.0, lock_attempts=1,
        outcome="answered", source="off", crm_s=0.0, llm_s=0.0, reply_at=reply, lock_lost=False, done_at=reply,
        redis_commands=0, cache_errors=0, lock_errors=0, started_at=arrival,
    )  # fmt: skip
    return MessageRecord(**{**fields, **changes})


EXTREMES = {
    "no messages": ([], {}),
    "all zeros": ([record(i, customer=f"c{i}") for i in range(50)], {0: 0}),
    "one message": ([record(0, 5.0)], {5: 3}),
    "huge latencies": (
        [
            record(0, 0.0, 999.9 * DAY, lock_wait=999 * DAY, lock_attempts=10**9, outcome="busy", source="hit"),
            record(1, 999 * DAY, 1000 * DAY, index=1, crm_s=1e-9, llm_s=0.5 * DAY, source="miss"),
        ],
        {0: 1, int(1000 * DAY): 10**9},
    ),
    "a 1000-message burst": ([record(i, i * 0.001, i * 0.001 + 1, index=i) for i in range(1000)], {0: 5000}),
}


@pytest.mark.parametrize("case", EXTREMES)
def test_extreme_but_valid_records_still_give_a_complete_report(tmp_path, case):
    records, commands_per_second = EXTREMES[case]
    runs = {
        v: [
            RunResult(variant=v, replication=r, records=tuple(records), commands_per_second=commands_per_second)
            for r in range(2)
        ]
        for v in ("a", "b")
    }
    comparison = compare("extreme", 1, "a", {"a": "one", "b": "two"}, runs)
    folder = write_report(comparison, tmp_path, "extreme")
    assert (folder / "results.json").exists() and (folder / "report.html").exists()
    assert_bounded_plots(folder)
    for name in ("report.md", "report.html", "results.json", "junit.xml", "timeseries.csv", "records.csv"):
        if (folder / name).exists():  # a metric that does not apply says so in words, never as a float's NaN or inf
            text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", (folder / name).read_text())
            assert not NOT_A_NUMBER.search(text), (name, NOT_A_NUMBER.search(text))
