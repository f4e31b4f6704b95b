"""Names that reach the report's labels: a `$` is drawn as a dollar, and sweep names are safe by construction."""

from pathlib import Path

import pytest

from sim.cli import main
from sim.experiment.sweep import parse_grid
from sim.metrics.comparison import compare
from sim.metrics.records import MessageRecord, Outcome, RunResult, Source
from sim.report.folder import write_report
from sim.scenario import ScenarioError

MAGNA = Path(__file__).parents[2] / "scenarios" / "magna.toml"


def record(message: int, customer: str) -> MessageRecord:
    return MessageRecord(
        message=message,
        customer=customer,
        index=message,
        arrival=float(message),
        started_at=float(message),
        queue_wait=0.0,
        lock_wait=0.5,
        lock_attempts=2,
        outcome=Outcome.ANSWERED,
        source=Source.OFF,
        crm_s=1.0,
        llm_s=2.0,
        reply_at=message + 3.5,
        lock_lost=False,
        done_at=message + 3.5,
        redis_commands=3,
        cache_errors=0,
        lock_errors=0,
    )


def test_dollar_signs_in_variant_and_customer_names_are_drawn_not_parsed_as_mathtext(tmp_path):
    """The attacker's `[variants.'a$\\foo{$']` reached matplotlib's mathtext parser after every simulation
    had run (exit 4). The loader now refuses such names; the plots must not depend on it."""
    names = ("a$\\foo{$", "$x$ and $")
    records = tuple(record(i, "cust$\\frac{1}{0}$") for i in range(3))
    runs = {
        v: [RunResult(variant=v, replication=r, records=records, commands_per_second={0: 9}) for r in range(2)]
        for v in names
    }
    comparison = compare("dollars", 1, names[0], {v: v for v in names}, runs)
    folder = write_report(comparison, tmp_path, "dollars")
    assert len(list(folder.glob("*.png"))) == 10


HUGE = "1" + "0" * 400


@pytest.mark.parametrize(
    "grid, expected",
    [
        (f"lock.log_every=1,{HUGE}", "a value must be letters, digits, '.', '_', '+' and '-', at most 32 characters"),
        ("lock.timeout=30s,$x$", "got '$x$'"),
        ("lock.timeout=30s,a|b", "got 'a|b'"),
        ("lock.timeout=1 h", "got '1 h'"),
        ("lock.time\nout=30s", "'lock.time\\nout' is not a setting name such as lock.timeout"),
        ("lock.timeout\x1b[2J=30s", "is not a setting name"),
    ],
)
def test_grid_keys_and_values_that_would_make_unsafe_variant_names_are_refused(grid, expected):
    with pytest.raises(ScenarioError) as error:
        parse_grid([grid])
    message = str(error.value)
    assert expected in message and "\n" not in message and "\x1b" not in message


def test_a_grid_value_too_big_for_a_float_is_one_line_and_exit_2(capsys):
    assert main(["sweep", str(MAGNA), "--grid", f"lock.log_every=1,{HUGE}", "--quiet"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "at most 32 characters" in err and HUGE not in err


@pytest.mark.parametrize(
    "grid", ["lock.timeout=30s,45s", "lock.backoff.kind=fixed,full_jitter", "services.llm.median=10s,1e1"]
)
def test_ordinary_grids_still_parse(grid):
    assert parse_grid([grid])[0][0] == grid.split("=")[0]
