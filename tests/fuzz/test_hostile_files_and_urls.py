"""Hostile empirical CSV files and `sim live` URLs: a clean one-line error or a valid result.

CSV lines may carry a marker word; an error about a file's contents must never repeat it (the
file may be anybody's, e.g. `/etc/passwd`). URLs are built around loopback hosts and closed ports
only: the property is about parsing and messages, and a fuzzer must never send traffic elsewhere.
"""

from __future__ import annotations

import math
import socket
from urllib.parse import quote

from hypothesis import event, given, settings
from hypothesis import strategies as st

from sim.core.durations import MAX_DURATION
from sim.core.errors import EnvironmentProblem, ScenarioError
from sim.live import connect
from sim.scenario import load_scenario

MARKER = "SECRETROW"
SCENARIO = """
[scenario]
name = "csv"
[workload]
[[workload.script]]
customer = "m"
messages = ["0s"]
[services]
llm = { dist = "empirical", file = "latencies.csv" }
"""

cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(["", "seconds", "12s", "5 minutos", "1e16", "-0", "0x10", "1_000", MARKER, f"9{MARKER}"]),
    st.text(alphabet="0123456789.,-+eE smh\t\"'" + MARKER[:3], max_size=10),
)
lines = st.lists(st.builds(",".join, st.lists(cells, min_size=1, max_size=3)), max_size=8)


@settings(max_examples=200)
@given(rows=lines, ending=st.sampled_from(["\n", "\r\n", ""]))
def test_an_empirical_csv_loads_within_limits_or_is_one_line_that_never_echoes_it(tmp_path_factory, rows, ending):
    folder = tmp_path_factory.mktemp("csv")
    (folder / "latencies.csv").write_text(ending.join(rows) + ending, encoding="utf-8")
    (folder / "s.toml").write_text(SCENARIO)
    try:
        scenario = load_scenario(folder / "s.toml")
    except ScenarioError as error:
        message = str(error)
        assert "\n" not in message and MARKER not in message, message
        event("rejected")
        return
    event("valid")
    values = scenario.variants[0].services.llm.values  # type: ignore[union-attr]
    assert values and all(math.isfinite(v) and 0 <= v <= MAX_DURATION for v in values)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORT = closed_port()
SECRET = "Zq9"  # every password starts with it: a message that shows it has leaked a password
passwords = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=10).map(SECRET.__add__)
urls = st.builds(
    "{scheme}://{user}:{password}@{host}:{port}/{database}{query}".format,
    scheme=st.sampled_from(["redis", "rediss", "REDIS", "http", "unix", ""]),
    user=st.sampled_from(["", "default", "ops"]),
    # percent-encoded, or raw but without the characters that would end the authority part
    password=st.one_of(
        passwords.map(lambda p: quote(p, safe="")), passwords.filter(lambda p: not set(p) & set("@/?#"))
    ),
    host=st.sampled_from(["127.0.0.1", "localhost", "[::1]"]),
    port=st.sampled_from([str(PORT), "0", "99999", "-1", "x", ""]),
    database=st.sampled_from(["0", "15", "99", "-1", "abc", "", "0/extra", "%30"]),
    query=st.sampled_from(["", "?db=3", "?socket_timeout=abc", "?ssl_cert_reqs=none", "?decode_responses=maybe"]),
)


@settings(max_examples=150)
@given(url=urls)
def test_a_live_url_that_cannot_be_used_is_one_line_without_its_password(url):
    try:
        connect(url)
    except EnvironmentProblem as error:
        message = str(error)
        assert "\n" not in message and SECRET not in message, message
        event("refused")
    else:  # only hosts on loopback and a closed port are ever named: nothing can answer
        raise AssertionError(f"connected to {url!r}")
