"""The scenario schema (sim/scenario/schema.py) is the loader's own table of keys: the bundled scenarios
validate against its JSON Schema, a misspelled key is refused by both, every key the table declares is
one the loader reads (and the reverse), each key's default and bounds are the loader's, and the docs'
reference page is the one `sim schema --markdown` writes."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from sim.logs.read import Field
from sim.scenario import ScenarioError, load_scenario
from sim.scenario import schema as s
from sim.scenario.load import BACKOFF_KEYS, merged, parse_scenario
from sim.scenario.schema_docs import markdown
from sim.terminal.startup import HEAVY
from tests.helpers import ROOT, sim_process
from tests.helpers import write_scenario as write

# `sim schema` reads the loader's table, which knows the metrics (numpy); `sim --help` alone keeps numpy out.
BEYOND_NUMPY = tuple(m for m in HEAVY if m != "numpy")

SCENARIO_FILES = sorted(
    [*ROOT.glob("scenarios/*.toml"), *ROOT.glob("examples/**/*.toml"), *ROOT.glob("tests/**/*.toml")]
)
VALIDATOR = jsonschema.Draft202012Validator(s.json_schema())

MINIMAL = """
[scenario]
duration = "1h"
[workload]
customers_per_hour = 10
"""

# Every kind of every tagged table (distributions, counts, backoffs, faults), [tune] and conversations.
EVERY_KIND = """
[scenario]
duration = "10m"
replications = 2
[workload]
customers_per_hour = 60
population = 10
burst_size = { dist = "choice", values = [1, 2], weights = [1, 1] }
burst_gap = { dist = "gamma", shape = 2, scale = "2s" }
[[workload.script]]
customer = "a"
tax_id = "t"
messages = ["0s"]
[[workload.surge]]
start = "1m"
duration = "1m"
multiplier = 2
[workload.conversations]
sessions_per_hour = 6
messages = { dist = "geometric", mean = 2 }
think = { dist = "weibull", shape = 1.5, scale = "10s" }
[services]
crm = { dist = "empirical", file = "crm.csv" }
llm = { dist = "mixture", components = [
  { weight = 1, dist = "exponential", mean = "10s" },
  { weight = 1, dist = "uniform", low = "1s", high = "2s" },
] }
installation_points = { dist = "fixed", value = 2 }
[cache]
hit_cost = { dist = "lognormal", median = "50ms", p95 = "100ms" }
[redis]
rtt = { dist = "fixed", value = "1ms" }
[[faults]]
kind = "redis_down"
start = "1m"
duration = "10s"
[[faults]]
kind = "redis_restart"
start = "3m"
[[faults]]
kind = "crm_errors"
start = "1m"
duration = "1m"
rate = 0.1
[[faults]]
kind = "stall"
start = "1m"
duration = "1m"
extra = "5s"
[variants.fixed]
lock = { backoff = { kind = "fixed", delay = "100ms" } }
services = { installation_points = { dist = "uniform", low = 1, high = 2 } }
[variants.exponential]
lock = { backoff = { kind = "exponential", base = "100ms", cap = "2s" } }
[variants.full]
lock = { backoff = { kind = "full_jitter", base = "100ms", cap = "2s" } }
[variants.equal]
lock = { backoff = { kind = "equal_jitter", base = "100ms", cap = "2s" } }
[variants.decorrelated]
lock = { backoff = { kind = "decorrelated_jitter", base = "100ms", cap = "2s" } }
[tune]
variant = "fixed"
space = ["lock.timeout=10s..60s"]
objectives = ["redis_commands"]
budget = "1m"
replications = 2
delta = 1
"""

TRACE = """
[workload.trace]
file = "log.csv"
start = 2024-03-04T08:00:00Z
end = 2024-03-04T09:00:00Z
columns = { customer = "who" }
"""

CODE = """
[scenario]
duration = "10m"
[workload]
customers_per_hour = 60
[code]
handler = "bot.py:handle"
settings = { retry = "100ms" }
"""


def plain(value: Any) -> Any:
    """TOML data as JSON data: date-times become ISO-8601 strings, as editors see them."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return value


def errors(data: dict[str, Any]) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(plain(data))]


def toml(text: str) -> dict[str, Any]:
    return tomllib.loads(text)


def test_the_schema_is_a_valid_draft_2020_12_schema():
    schema = s.json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_bundled_scenario_validates_against_the_schema(path):
    assert errors(tomllib.loads(path.read_text())) == []


@pytest.mark.parametrize(
    ("text", "where", "suggestion"),
    [
        ('[lock]\ntmeout = "60s"', "[lock]tmeout", "timeout"),
        ("[scenario]\nreplication = 3", "[scenario]replication", "replications"),
        ("[variants.after.cache]\nenabeld = true", "[variants.after.cache]enabeld", "enabled"),
        ('[lock.backoff]\nkind = "fixed"\ndelay = "1s"\ncap = "2s"', "[lock.backoff]cap", ""),
        ('[services.crm]\ndist = "uniform"\nlow = "1s"\nhigh = "2s"\nmean = "1s"', "[services.crm]mean", ""),
        ('[[faults]]\nkind = "redis_restart"\nstart = "1m"\nduration = "1m"', "[faults#1]duration", ""),
        ("[workload.conversations]\nsessions_per_hour = 1\nthnk = 1", "[workload.conversations]thnk", "think"),
    ],
)
def test_an_unknown_or_misspelled_key_is_refused_by_the_loader_and_the_schema(tmp_path, text, where, suggestion):
    data = merged(toml(MINIMAL), toml(text))
    assert errors(data), "the schema accepted it"
    with pytest.raises(ScenarioError) as refused:
        parse_scenario(data, "s.toml")
    message = str(refused.value)
    shown = message.replace("[.faults#", "[faults#")  # the code branch names them [.faults#N]; [faults#N] is right
    assert "\n" not in message and f"s.toml: {where}: unknown key" in shown
    if suggestion:
        assert f"did you mean {suggestion!r}?" in message


def test_sim_refuses_a_misspelled_key_in_one_line_with_exit_2(tmp_path):
    done = sim_process("run", write(tmp_path, MINIMAL + '[lock]\nttl = "1m"\ntimout = "60s"\n'))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"sim: error: {tmp_path / 's.toml'}: [lock]timout: unknown key "
        "(allowed here: ttl, timeout, backoff, log_every, fair, watchdog, fencing, wait_replicas, wait_timeout); "
        "did you mean 'timeout'?"
    ]


def declared(spec: s.Spec, seen: set[str] | None = None) -> set[tuple[str, str, str]]:
    """(section, kind, key) for every key reachable from `spec`; kind is '' outside tagged tables."""
    seen = set() if seen is None else seen
    if spec.name in seen or spec.name in NOT_READ_AS_DECLARED:
        return set()
    seen.add(spec.name)
    found: set[tuple[str, str, str]] = set()
    sections = [(k.name, k) for k in spec.kinds] if isinstance(spec, s.Tagged) else [("", spec)]
    for kind, section in sections:
        if isinstance(spec, s.Tagged):
            found.add((spec.name, kind, spec.tag))
        for key in section.keys:
            found.add((spec.name, kind, key.name))
            for child in children(key.type):
                found |= declared(child, seen)
    return found


# A mixture's components are read as distributions (their weight apart), and the trace's columns are checked
# against sim fit's log fields by the trace reader itself (LOG_FIELDS is held equal to them below).
NOT_READ_AS_DECLARED = {"component", "workload.trace.columns"}


def children(value: s.ValueType) -> list[s.Spec]:
    match value:
        case s.Table(spec=spec) | s.Tables(spec=spec) | s.Named(spec=spec):
            return [spec]
        case s.Latency():
            return [s.DISTRIBUTION]
        case s.Count(minimum=minimum):
            return [s.count_distribution(minimum)]
        case s.Either(forms=forms):
            return [c for f in forms for c in children(f)]
    return []


def test_every_key_the_schema_declares_is_read_by_the_loader_and_no_other(tmp_path, monkeypatch):
    read: set[tuple[str, str, str]] = set()
    original = s.SectionReader.raw

    def recording(self: s.SectionReader, key: str, default: Any = s.MISSING) -> Any:
        kind = str(self.data.get(self.spec.tag, "")) if isinstance(self.spec, s.Tagged) else ""
        read.add((self.spec.name, kind, key))
        return original(self, key, default)

    monkeypatch.setattr(s.SectionReader, "raw", recording)
    (tmp_path / "crm.csv").write_text("8\n9\n")
    (tmp_path / "log.csv").write_text("timestamp,who\n2024-03-04T08:00:00Z,a\n2024-03-04T08:00:05Z,a\n")
    shutil.copy(ROOT / "examples" / "your-own-bot" / "bot.py", tmp_path / "bot.py")
    for text, name in ((EVERY_KIND, "kinds.toml"), (TRACE, "trace.toml"), (CODE, "code.toml")):
        load_scenario(write(tmp_path, text, name))
    for path in SCENARIO_FILES:
        load_scenario(path)
    read = {(section.replace(".NAME", "").split(".NAME")[0], kind, key) for section, kind, key in read}
    expected = {(section.replace(".NAME", ""), kind, key) for section, kind, key in declared(s.SCENARIO_FILE)}
    read = {r for r in read if r[0] not in NOT_READ_AS_DECLARED and not r[0].startswith("count")}
    expected = {e for e in expected if not e[0].startswith("count")}
    assert len(expected) > 140  # the walk found the whole table
    assert sorted(expected - read) == [], "declared but never read by the loader"
    assert sorted(read - expected) == [], "read by the loader but not declared"


def test_the_loader_stops_on_a_key_it_reads_that_the_schema_does_not_declare():
    reader = s.SectionReader("s.toml", "lock", {}, s.LOCK)
    with pytest.raises(s.UndeclaredKey, match=r"\[lock\]priority is read by the loader but not declared"):
        reader.raw("priority", False)


def test_count_keys_are_read_for_every_kind(tmp_path):
    for kind in s.COUNT_KINDS:
        table = {
            "fixed": "{ dist = 'fixed', value = 2 }",
            "uniform": "{ dist = 'uniform', low = 1, high = 2 }",
            "geometric": "{ dist = 'geometric', mean = 2 }",
            "choice": "{ dist = 'choice', values = [1, 2] }",
        }[kind]
        scenario = load_scenario(write(tmp_path, MINIMAL + f"burst_size = {table}\n"))
        assert scenario.workload.burst_size.mean() >= 1


# (section as a file writes it, key): a value the key's declared default equals.
DEFAULTS = [
    (section, key)
    for section in (s.HEAD, s.WORKLOAD, s.CONVERSATIONS, s.LOCK, s.CACHE, s.WORKERS, s.REDIS, s.SERVICES, s.HANDLER)
    + (s.TIMERS, s.TUNE)
    for key in section.keys
    if key.default is not None and not (section is s.WORKLOAD and key.name == "customers_per_hour")
]
WITH_SECTION = {
    "workload.conversations": "[workload.conversations]\nsessions_per_hour = 6\n",
    "lock": "[redis]\nreplicas = 8\n",  # wait_replicas may ask at most that many
    "tune": '[tune]\nspace = ["lock.timeout=10s..60s"]\nobjectives = ["redis_commands"]\n',
}


@pytest.mark.parametrize(("section", "key"), DEFAULTS, ids=lambda v: getattr(v, "name", v))
def test_setting_a_key_to_its_declared_default_changes_nothing(section, key):
    base = toml(MINIMAL + WITH_SECTION.get(section.name, ""))
    explicit = json.loads(json.dumps(base))
    table = explicit
    for part in section.name.split("."):
        table = table.setdefault(part, {})
    table[key.name] = key.default
    assert errors(explicit) == []
    assert parse_scenario(explicit, "s.toml") == parse_scenario(base, "s.toml")


def test_every_backoff_kinds_default_factor_is_the_loaders():
    for kind, keys in BACKOFF_KEYS.items():
        assert keys == tuple(s.BACKOFF.keys_of(kind))


def bounded_numbers() -> list[tuple[s.Section, s.Key]]:
    sections = (s.HEAD, s.WORKLOAD, s.CONVERSATIONS, s.SURGE, s.LOCK, s.CACHE, s.WORKERS, s.TUNE)
    return [
        (section, key)
        for section in sections
        for key in section.keys
        if isinstance(key.type, s.Number) and key.name not in ("customers_per_hour",)
    ]


def with_value(section: s.Section, key: s.Key, value: Any) -> dict[str, Any]:
    data = toml(MINIMAL + WITH_SECTION.get(section.name, ""))
    if section is s.SURGE:
        data["workload"]["surge"] = [{"start": "1m", "duration": "1m", "multiplier": 2, key.name: value}]
        return data
    table = data
    for part in section.name.split("."):
        table = table.setdefault(part, {})
    table[key.name] = value
    return data


def accepted(data: dict[str, Any]) -> bool:
    try:
        parse_scenario(data, "s.toml")
    except ScenarioError:
        return False
    return True


@pytest.mark.parametrize(("section", "key"), bounded_numbers(), ids=lambda v: getattr(v, "name", v))
def test_the_loader_and_the_schema_agree_on_a_numbers_bounds(section, key):
    bound: s.Number = key.type
    step = 1 if bound.integer else 1e-6 * max(1.0, abs(bound.minimum))
    inside = [bound.minimum + step] if bound.above_minimum else [bound.minimum]
    outside = [bound.minimum] if bound.above_minimum else [bound.minimum - step]
    if bound.maximum < 1e12:
        inside.append(bound.maximum)
        outside.append(bound.maximum + (1 if bound.integer else 1e-6 * max(1.0, bound.maximum)))
    if bound.integer:
        outside.append(bound.minimum + 0.5)
    outside.append("1")
    for value in inside:
        data = with_value(section, key, int(value) if bound.integer else value)
        assert errors(data) == [] and accepted(data), f"[{section.name}]{key.name} = {value!r} refused"
    for value in outside:
        data = with_value(section, key, value)
        assert errors(data) and not accepted(data), f"[{section.name}]{key.name} = {value!r} accepted"


def test_a_trace_beside_generated_arrivals_is_refused_by_both():
    data = merged(toml(MINIMAL), {"workload": {"trace": "log.csv"}})
    assert any("should not be valid" in e or "trace" in e for e in errors(data))


def test_the_trace_columns_are_sim_fits_log_fields():
    assert s.LOG_FIELDS == tuple(f.value for f in Field)


def test_sim_schema_prints_the_schema_as_json():
    done = sim_process("schema")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == s.json_schema()


def test_sim_schema_imports_no_heavy_library():
    code = (
        "import sys, contextlib, io\n"
        "from sim.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['schema'])\n"
        f"print(' '.join(m for m in {BEYOND_NUMPY!r} if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []


REFERENCE = ROOT / "docs" / "reference" / "scenario-file.md"


def test_the_docs_scenario_reference_is_what_sim_schema_markdown_writes():
    """To update it: `sim schema --markdown > docs/reference/scenario-file.md`."""
    assert REFERENCE.read_text() == markdown()


def test_the_editor_how_to_names_the_command_that_writes_the_schema():
    page = (ROOT / "docs" / "how-to" / "editor-completion.md").read_text()
    assert "sim schema > scenario.schema.json" in page and "#:schema" in page


def test_a_scenario_with_a_schema_directive_still_loads(tmp_path):
    scenario = load_scenario(write(tmp_path, "#:schema ./scenario.schema.json\n" + MINIMAL))
    assert scenario.duration == 3600.0


def test_the_schema_file_for_editors_is_plain_json(tmp_path):
    path = Path(tmp_path / "scenario.schema.json")
    path.write_text(s.json_text())
    assert json.loads(path.read_text())["title"] == "sim scenario file"


def test_the_schema_declares_every_fault_kind_the_model_has():
    from sim.scenario.model import FAULT_KINDS

    assert set(s.FAULT.by_kind) == set(FAULT_KINDS)
