"""Small scenarios written inline, for tests that pin one behaviour each."""

import textwrap
import tomllib

from sim.scenario.load import parse_scenario
from sim.world.model import simulate

MAGNA = """
[scenario]
seed = 3
[workload]
[[workload.script]]
customer = "magna"
messages = ["0s", "12s", "14s"]
[services]
crm = "9s"
llm = "17s"
[workers]
count = 4
[lock]
timeout = "60s"
backoff = { kind = "exponential", base = "100ms", factor = 2, cap = "2s" }
[cache]
enabled = true
"""


def merge(base: dict, extra: dict) -> dict:
    """`extra`'s keys over `base`'s, table by table (TOML cannot declare a table twice)."""
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged


def scenario(text: str, extra: str = ""):
    data = merge(tomllib.loads(textwrap.dedent(text)), tomllib.loads(textwrap.dedent(extra)))
    return parse_scenario(data, "inline.toml")


def run(text: str, extra: str = "", replication: int = 0):
    s = scenario(text, extra)
    result = simulate(s, s.variants[0], replication)
    assert result.violations == ()
    return result
