"""Every section and key of a scenario file, declared once: its type, bounds, default and meaning.

Three things read these tables, so they cannot drift apart:
- the loader (`sim.scenario.load`) reads a file through `SectionReader`s, which refuse a key the
  table does not declare for that section (a misspelling gets a suggestion) and stop with an
  internal error when the loader reads a key the table lacks;
- `sim schema` prints them as a JSON Schema (draft 2020-12) for editors and CI;
- `sim schema --markdown` prints the scenario-file reference page of the docs.

Rules that join several keys (`cap` at least `base`, a duration required with `customers_per_hour`,
a trace refused beside generated arrivals…) stay in the loader, where their messages are written;
tests hold each key's bounds, choices and default equal in the loader and here.

To add a key: one `Key(...)` in its section below, read by the loader with the same bounds; then
`sim schema --markdown > docs/reference/scenario-file.md` (a test compares the committed page).
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sim.code.loader import MAX_HANDLER_SPEC
from sim.core.durations import DURATION_PATTERN, MAX_DURATION
from sim.metrics.catalog import ALL_METRICS
from sim.metrics.precision import DEFAULT_MAXIMUM
from sim.scenario import trace as trace_limits
from sim.scenario import tune as tune_limits
from sim.scenario.limits import (
    DEFAULT_REPLICATIONS,
    DEFAULT_WORKERS,
    MAX_COUNT,
    MAX_ID,
    MAX_LOG_EVERY,
    MAX_MULTIPLIER,
    MAX_POPULATION,
    MAX_RATE,
    MAX_REPLICATIONS,
    MAX_SEED,
    MAX_SETTINGS_DEPTH,
    MAX_SHAPE,
    MAX_WORKERS,
    MIN_SHAPE,
)
from sim.scenario.model import BACKOFF_KINDS, MAX_HANDLING, MAX_REPLICAS, MAX_RETRIES, MIN_BACKOFF, WorkerModel
from sim.scenario.reader import MAX_FLOAT, MISSING, Reader

# The name becomes a folder under --out: a plain file name, never a path ("..", "/x", "a/b").
REPORT_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")
# A variant's name is shown in reports, plot labels (matplotlib reads `$` as maths), Markdown tables
# (`|`), HTML, CSV and the CI summary: plain characters only, no newline, `$`, `|`, `\` or markup.
VARIANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._+-]{0,63}")
# `[workload.trace]columns`: the fields of sim fit's log format (sim.logs.read.Field; a test holds them equal).
LOG_FIELDS = (
    "timestamp",
    "customer",
    "tax_id",
    "outcome",
    "reply_s",
    "cache",
    "service",
    "start",
    "duration_s",
    "error",
)
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


# --- What a key's value may be ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Duration:
    """A duration: `"100ms"`, `"30s"`, `"5m"`, `"1h"`, or a number of seconds."""

    positive: bool = False
    minimum: float = 0.0
    maximum: float = MAX_DURATION
    whole_ms: bool = False  # a TTL Redis keeps in whole milliseconds


@dataclass(frozen=True, slots=True, kw_only=True)
class Number:
    minimum: float = 0.0
    maximum: float = math.inf
    integer: bool = False
    above_minimum: bool = False  # the minimum itself is refused


@dataclass(frozen=True, slots=True, kw_only=True)
class Boolean:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Text:
    choices: tuple[str, ...] = ()
    pattern: str = ""  # the whole value matches it
    min_length: int = 0
    max_length: int = 0  # 0: no limit here


@dataclass(frozen=True, slots=True, kw_only=True)
class Latency:
    """A latency in seconds: a duration (always the same), or a distribution table (`dist = …`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Count:
    """A whole number from `minimum` to MAX_COUNT, or a count distribution table (`dist = …`)."""

    minimum: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Rates:
    """A rate per hour, or a list of 24 (one per hour of the day)."""

    maximum: float = MAX_RATE


@dataclass(frozen=True, slots=True, kw_only=True)
class Strings:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Numbers:
    """A list of numbers (whole numbers when `integer`)."""

    integer: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Durations:
    """A non-empty list of durations."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Instant:
    """A TOML date-time (`2024-03-04T08:00:00Z`) or the same as an ISO-8601 string."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FreeTable:
    """A table the user fills freely (`[code.settings]`), nested at most `depth` levels."""

    depth: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Targets:
    """Metric = target: `"busy_rate=0.2%,latency_answered_p95_s=1s"` or `{ busy_rate = 0.002 }`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Table:
    spec: Section | Tagged


@dataclass(frozen=True, slots=True, kw_only=True)
class Tables:
    """An array of tables, `[[section.key]]`."""

    spec: Section | Tagged


@dataclass(frozen=True, slots=True, kw_only=True)
class Named:
    """Tables under names the user chooses: `[variants.NAME]`."""

    spec: Section
    pattern: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Either:
    """One of several forms: `trace = "messages.csv"` or a trace table."""

    forms: tuple[ValueType, ...]


ValueType = (
    Duration
    | Number
    | Boolean
    | Text
    | Latency
    | Count
    | Rates
    | Strings
    | Numbers
    | Durations
    | Instant
    | FreeTable
    | Targets
    | Table
    | Tables
    | Named
    | Either
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Key:
    name: str
    type: ValueType
    about: str  # one line: what it means (docs and the editor's hover text)
    default: Any = None  # as written in a scenario file (`"120s"`); None: see default_text
    default_text: str = ""  # the docs' default when it is not a value: "the file name", "required"
    required: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Section:
    """A table of a scenario file and its keys; `excludes`: keys refused beside another key."""

    name: str  # as written in a file: "lock", "workload.conversations", "faults"
    keys: tuple[Key, ...]
    about: str = ""
    notes: str = ""  # Markdown for the docs, after the table
    excludes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    by_name: Mapping[str, Key] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {k.name: k for k in self.keys})
        if len(self.by_name) != len(self.keys):
            raise ValueError(f"[{self.name}] declares a key twice")


@dataclass(frozen=True, slots=True, kw_only=True)
class Tagged:
    """A table whose keys depend on one of them, the tag: a backoff's `kind`, a distribution's `dist`.
    Each kind is a Section named after its tag value, holding the keys other than the tag."""

    name: str
    tag: str
    kinds: tuple[Section, ...]
    about: str = ""
    by_kind: Mapping[str, Section] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_kind", {k.name: k for k in self.kinds})

    def keys_of(self, kind: Any) -> Mapping[str, Key]:
        """The keys a table of `kind` may hold (the tag included); every kind's for an unknown kind."""
        tag = {self.tag: Key(name=self.tag, type=Text(choices=tuple(self.by_kind)), about="", required=True)}
        if isinstance(kind, str) and kind in self.by_kind:
            return tag | dict(self.by_kind[kind].by_name)
        return tag | {k.name: k for s in self.kinds for k in s.keys}


Spec = Section | Tagged


# --- The distributions --------------------------------------------------------------------------------


def _latency_kinds(*, inside_mixture: bool) -> tuple[Section, ...]:
    kinds = (
        Section(
            name="fixed", about="always the same", keys=(Key(name="value", type=Duration(), about="", required=True),)
        ),
        Section(
            name="uniform",
            about="uniform between the two",
            keys=(
                Key(name="low", type=Duration(), about="", required=True),
                Key(name="high", type=Duration(), about="at least low", required=True),
            ),
        ),
        Section(
            name="exponential",
            about="memoryless (Poisson processes, textbook queues)",
            keys=(Key(name="mean", type=Duration(positive=True), about="", required=True),),
        ),
        Section(
            name="lognormal",
            about="as read off a dashboard",
            keys=(
                Key(name="median", type=Duration(positive=True), about="", required=True),
                Key(
                    name="p95", type=Duration(positive=True), about="above the median, at most 1000× it", required=True
                ),
            ),
        ),
        Section(
            name="gamma",
            about="shape k, scale θ; mean kθ (what `sim fit` may choose)",
            keys=(
                Key(name="shape", type=Number(minimum=MIN_SHAPE, maximum=MAX_SHAPE), about="", required=True),
                Key(name="scale", type=Duration(positive=True), about="", required=True),
            ),
        ),
        Section(
            name="weibull",
            about="shape k, scale λ; mean λ·Γ(1 + 1/k)",
            keys=(
                Key(name="shape", type=Number(minimum=MIN_SHAPE, maximum=MAX_SHAPE), about="", required=True),
                Key(name="scale", type=Duration(positive=True), about="", required=True),
            ),
        ),
        Section(
            name="empirical",
            about="observed seconds, one per line (first CSV column; a header line is skipped), resampled with "
            "replacement; the file is beside the scenario file",
            keys=(Key(name="file", type=Text(min_length=1), about="relative to the scenario file", required=True),),
        ),
    )
    if inside_mixture:
        weight = Key(name="weight", type=Number(), about="relative weight, finite and ≥ 0", required=True)
        return tuple(Section(name=k.name, about=k.about, keys=(weight, *k.keys)) for k in kinds if k.name != "mixture")
    component = Tagged(name="component", tag="dist", kinds=_latency_kinds(inside_mixture=True))
    mixture = Section(
        name="mixture",
        about="each sample from one component picked by weight, e.g. 2 % of CRM calls take 30 s",
        keys=(
            Key(
                name="components",
                type=Tables(spec=component),
                about="`{ weight = …, dist = …, … }` each; a mixture cannot hold a mixture",
                required=True,
            ),
        ),
    )
    return (*kinds, mixture)


DISTRIBUTION = Tagged(
    name="distribution",
    tag="dist",
    kinds=_latency_kinds(inside_mixture=False),
    about="A latency in seconds: a bare duration (fixed), or a table with `dist` and its parameters.",
)
DISTRIBUTION_KINDS = tuple(DISTRIBUTION.by_kind)


def count_distribution(minimum: int) -> Tagged:
    """Whole numbers from `minimum` to MAX_COUNT (burst sizes start at 1, installation points at 0)."""
    whole = Number(minimum=minimum, maximum=MAX_COUNT, integer=True)
    return Tagged(
        name=f"count{minimum}",
        tag="dist",
        about=f"A whole number from {minimum} to {MAX_COUNT:,}: a bare integer (fixed), or a table with `dist`.",
        kinds=(
            Section(
                name="fixed", about="always the same", keys=(Key(name="value", type=whole, about="", required=True),)
            ),
            Section(
                name="uniform",
                about="uniform, both ends included",
                keys=(
                    Key(name="low", type=whole, about="", required=True),
                    Key(name="high", type=whole, about="at least low", required=True),
                ),
            ),
            Section(
                name="geometric",
                about="geometric with this mean",
                keys=(
                    Key(
                        name="mean",
                        type=Number(minimum=max(1, minimum), maximum=MAX_COUNT / 10),
                        about="",
                        required=True,
                    ),
                ),
            ),
            Section(
                name="choice",
                about="one of the values, picked by weight",
                keys=(
                    Key(name="values", type=Numbers(integer=True), about="whole numbers", required=True),
                    Key(name="weights", type=Numbers(), about="one per value, each ≥ 0", default_text="equal"),
                ),
            ),
        ),
    )


COUNT_KINDS = tuple(count_distribution(0).by_kind)


# --- The sections ---------------------------------------------------------------------------------------

HEAD = Section(
    name="scenario",
    about="The run: its name, seed, length, replications, baseline and thresholds.",
    keys=(
        Key(
            name="name",
            type=Text(pattern=REPORT_NAME.pattern),
            about="the report folder's name: letters, digits, '-', '_' and '.' (not first), at most 100 characters",
            default_text="the file name",
        ),
        Key(
            name="seed",
            type=Number(maximum=MAX_SEED, integer=True),
            about="replication r uses the random streams of (seed, r)",
            default=1,
        ),
        Key(
            name="duration",
            type=Duration(),
            about="bursts start within it; the run drains afterwards",
            default_text="required with customers_per_hour or conversations; else the last scripted message",
        ),
        Key(
            name="replications",
            type=Number(minimum=1, maximum=MAX_REPLICATIONS, integer=True),
            about="replications of every variant (`--replications` overrides it)",
            default=DEFAULT_REPLICATIONS,
        ),
        Key(
            name="precision",
            type=Targets(),
            about="replicate until each metric's 95 % CI half-width (paired against the baseline) is at most "
            'its target: `"busy_rate=0.2%,latency_answered_p95_s=1s"` or `{ busy_rate = 0.002 }`',
            default_text="none: a fixed count",
        ),
        Key(
            name="max_replications",
            type=Number(minimum=2, maximum=MAX_REPLICATIONS, integer=True),
            about="the most replications `precision` may run",
            default=DEFAULT_MAXIMUM,
        ),
        Key(name="baseline", type=Text(), about="the variant the others are compared with", default_text="the first"),
        Key(
            name="meaningful",
            type=Targets(),
            about="the smallest difference that matters, per metric: a duration, a share in points (`0.1%` is 0.001), "
            "a number in the metric's unit or `\"N% relative\"` of the baseline's mean, e.g. "
            '`"latency_p95_s=500ms,crm_calls=5% relative"`; a difference whose interval lies within ± it is '
            '"no meaningful difference" and stays off the headline; `--meaningful` sets it over the file',
            default_text="100 ms for a metric in seconds, 1 % of the baseline's mean for the others",
        ),
        Key(
            name="thresholds",
            type=Strings(),
            about="claims `sim compare` checks (exit 1 when breached, or when one does not apply unless it ends in "
            '`or n/a`): `["busy_rate<1%", "after.latency_p95_s<60s", "change(after.busy_rate) <= -50% or n/a"]`',
            default=[],
        ),
    ),
)

SCRIPT = Section(
    name="workload.script",
    about="Exact messages of one customer (Magna's story).",
    keys=(
        Key(name="customer", type=Text(min_length=1, max_length=MAX_ID), about="the customer's id", required=True),
        Key(
            name="tax_id",
            type=Text(min_length=1, max_length=MAX_ID),
            about="the cache key",
            default_text="the customer",
        ),
        Key(name="messages", type=Durations(), about='arrival times: `["0s", "12s", "14s"]`', required=True),
    ),
)

SURGE = Section(
    name="workload.surge",
    about="A massive outage: more customers, all inside the outage (the CRM says so).",
    keys=(
        Key(name="start", type=Duration(), about="from the run's start", required=True),
        Key(name="duration", type=Duration(positive=True), about="how long it lasts", required=True),
        Key(
            name="multiplier",
            type=Number(minimum=1, maximum=MAX_MULTIPLIER),
            about="e.g. 10: ten times the rate at start",
            required=True,
        ),
    ),
)

CONVERSATIONS = Section(
    name="workload.conversations",
    about="Customers who wait for answers (closed loop), beside the bursts.",
    keys=(
        Key(
            name="sessions_per_hour",
            type=Rates(),
            about="Poisson rate of conversations, or 24 rates by hour of day; each a new customer (w0, w1, …); "
            "0 (or a curve of zeros) with no bursts and no script is an empty workload, refused",
            required=True,
        ),
        Key(name="messages", type=Count(minimum=1), about="intents per conversation", default=1),
        Key(
            name="think",
            type=Latency(),
            about="after a reply, before the next intent",
            default={"dist": "exponential", "mean": "30s"},
        ),
        Key(
            name="impatience",
            type=Latency(),
            about="no reply within it (from its last message or busy apology): give up, else nudge, else wait on",
            default={"dist": "exponential", "mean": "60s"},
        ),
        Key(
            name="max_nudges",
            type=Number(maximum=MAX_RETRIES, integer=True),
            about='nudges ("?") per intent',
            default=1,
        ),
        Key(
            name="give_up",
            type=Number(maximum=1.0),
            about="probability of leaving at each impatience expiry",
            default=0,
        ),
        Key(
            name="resend",
            type=Number(maximum=1.0),
            about="probability of sending the intent again after a busy apology",
            default=0,
        ),
        Key(
            name="resend_delay",
            type=Latency(),
            about="how long after the apology",
            default={"dist": "exponential", "mean": "10s"},
        ),
        Key(
            name="max_resends",
            type=Number(maximum=MAX_RETRIES, integer=True),
            about="re-sends per intent",
            default=3,
        ),
    ),
    notes="""A burst's customer fires its messages without waiting for replies (open loop). A conversation's
customer sends one intent, **waits for its reply** (it hears it the instant the handler replies), thinks,
and sends the next. A reply answers the intent it was sent for: the intent's own, a nudge's or a
re-send's, whichever other than the busy apology comes first. Each conversation draws its choices and
its messages' CRM and LLM latencies from streams keyed by (seed, replication, conversation): two
variants see the same customers making the same choices given the same replies. A customer who gives up
sends no more intents; their messages still waiting for a worker are dropped when one picks them up, at
no cost (counted in `dropped_messages`). Simulation only (`sim live` refuses the section). An M/M/1 with
impatience is tested against Erlang-A (`tests/theory/test_erlang_a.py`).

```toml
[workload.conversations]
sessions_per_hour = 60
messages = { dist = "choice", values = [1, 2, 3], weights = [0.5, 0.3, 0.2] }
think = { dist = "lognormal", median = "20s", p95 = "90s" }
impatience = { dist = "exponential", mean = "40s" }
give_up = 0.1
max_nudges = 2
resend = 0.6
resend_delay = "5s"
```""",
)

COLUMNS = Section(
    name="workload.trace.columns",
    about="The file's own column names for the log's fields.",
    keys=tuple(Key(name=f, type=Text(min_length=1), about="", default=f) for f in LOG_FIELDS),
)

TRACE = Section(
    name="workload.trace",
    about="A recorded message log replayed instead of generated arrivals (`sim fit`'s log format).",
    keys=(
        Key(
            name="file",
            type=Text(min_length=1, max_length=1000),
            about="relative to this file, inside its folder",
            required=True,
        ),
        Key(name="start", type=Instant(), about="the run's second 0", default_text="the first message's hour"),
        Key(name="end", type=Instant(), about="the window's end", default_text="the end of the last message's hour"),
        Key(
            name="scale",
            type=Number(maximum=trace_limits.MAX_SCALE, above_minimum=True),
            about="k whole copies and a fraction: copies after the first move each session by up to ± shift",
            default=1,
        ),
        Key(name="shift", type=Duration(), about="how far a copy's session may move", default="15m"),
        Key(
            name="session_gap",
            type=Duration(positive=True),
            about="silence that ends a session (a burst), as `sim fit` cuts them",
            default="10m",
        ),
        Key(
            name="timezone",
            type=Text(max_length=64),
            about="an IANA name: the clock of timestamps without an offset, and where hours begin",
            default="UTC",
        ),
        Key(name="columns", type=Table(spec=COLUMNS), about='`{ timestamp = "ts", customer = "conv" }`'),
    ),
)

WORKLOAD = Section(
    name="workload",
    about="Who writes and when: the same for every variant.",
    keys=(
        Key(
            name="customers_per_hour",
            type=Rates(),
            about="Poisson rate of bursts, or 24 rates by hour of the day (repeating daily)",
            default=0,
        ),
        Key(
            name="population",
            type=Number(maximum=MAX_POPULATION, integer=True),
            about="distinct customers bursts are drawn from (returning customers hit the cache); 0: all new",
            default=0,
        ),
        Key(name="burst_size", type=Count(minimum=1), about="messages per burst", default=1),
        Key(
            name="burst_gap",
            type=Latency(),
            about="seconds between the messages of a burst",
            default={"dist": "exponential", "mean": "5s"},
        ),
        Key(name="script", type=Tables(spec=SCRIPT), about="exact messages, `[[workload.script]]`"),
        Key(name="surge", type=Tables(spec=SURGE), about="massive outages, `[[workload.surge]]`"),
        Key(name="conversations", type=Table(spec=CONVERSATIONS), about="customers who wait for answers"),
        Key(
            name="trace",
            type=Either(forms=(Text(min_length=1, max_length=1000), Table(spec=TRACE))),
            about='a message log replayed instead of the keys above: `"messages.csv"` or a table',
        ),
    ),
    excludes=(("trace", trace_limits.GENERATED_KEYS),),
)

BACKOFF = Tagged(
    name="backoff",
    tag="kind",
    about="How a waiter spaces its lock attempts; every wait at least 1 ms.",
    kinds=tuple(
        Section(
            name=kind,
            about="a fixed wait"
            if kind == "fixed"
            else f"{kind.replace('_', ' ')}: from base, × factor per attempt, up to cap",
            keys=(Key(name="delay", type=Duration(minimum=MIN_BACKOFF), about="", required=True),)
            if kind == "fixed"
            else (
                Key(name="base", type=Duration(minimum=MIN_BACKOFF), about="", required=True),
                Key(name="factor", type=Number(minimum=1.0, maximum=1000.0), about="", default=2),
                Key(name="cap", type=Duration(minimum=MIN_BACKOFF), about="at least base", required=True),
            ),
        )
        for kind in BACKOFF_KINDS
    ),
)

LOCK = Section(
    name="lock",
    about="The per-conversation Redis lock.",
    keys=(
        Key(
            name="ttl",
            type=Duration(positive=True, whole_ms=True),
            about="the lock frees itself after it",
            default="120s",
        ),
        Key(
            name="timeout",
            type=Duration(),
            about="a waiter gives up (busy apology) after it; one last attempt at the deadline",
            default="30s",
        ),
        Key(
            name="backoff",
            type=Table(spec=BACKOFF),
            about="the wait between attempts",
            default={"kind": "fixed", "delay": "100ms"},
        ),
        Key(
            name="log_every",
            type=Number(minimum=1, maximum=MAX_LOG_EVERY, integer=True),
            about='"waiting for lock … (attempt N)" every N attempts',
            default=10,
        ),
        Key(
            name="fair",
            type=Boolean(),
            about="FIFO lock: waiters queue in Redis and are handed the lock in arrival order (BLPOP, no polling)",
            default=False,
        ),
        Key(
            name="watchdog",
            type=Boolean(),
            about="extend the TTL every third of it while the holder works",
            default=False,
        ),
        Key(
            name="fencing",
            type=Boolean(),
            about="each grant carries a fencing token that only grows (the failover's epoch and a counter); the "
            "conversation store refuses an older one (fenced_writes). The polling lock only",
            default=False,
        ),
        Key(
            name="wait_replicas",
            type=Number(maximum=MAX_REPLICAS, integer=True),
            about="> 0: WAIT for that many replicas after taking the lock; fewer acknowledgements and the lock is let "
            "go (a failed attempt). At most [redis]replicas; the polling lock only",
            default=0,
        ),
        Key(
            name="wait_timeout",
            type=Duration(positive=True, whole_ms=True),
            about="how long that WAIT blocks at most",
            default="1s",
        ),
    ),
)

CACHE = Section(
    name="cache",
    about="Cache-aside for the massive-failure check, keyed by tax id.",
    keys=(
        Key(name="enabled", type=Boolean(), about="", default=False),
        Key(name="ttl", type=Duration(positive=True, whole_ms=True), about="", default="300s"),
        Key(
            name="single_flight",
            type=Boolean(),
            about="one CRM call fills a missing entry; concurrent missers wait for it (up to 15 s)",
            default=False,
        ),
        Key(
            name="xfetch_beta",
            type=Number(maximum=100.0),
            about="> 0: probabilistic early refresh (XFetch, VLDB 2015); 1 is the paper's default",
            default=0,
        ),
        Key(
            name="hit_cost",
            type=Latency(),
            about="added after the Redis reply when a hit answers (reading and decoding the entry); "
            "the world's: set it at the top level. Simulation only",
            default_text="none",
        ),
    ),
)

WORKERS = Section(
    name="workers",
    about="What serves the messages.",
    keys=(
        Key(
            name="count",
            type=Number(minimum=1, maximum=MAX_WORKERS, integer=True),
            about='the pool\'s size (model = "pool")',
            default=DEFAULT_WORKERS,
        ),
        Key(
            name="model",
            type=Text(choices=tuple(m.value for m in WorkerModel)),
            about='"pool": a message holds one of count workers until its reply; "async": an event loop, no limit',
            default="pool",
        ),
    ),
)

REDIS = Section(
    name="redis",
    about="The Redis server, as the simulation sees it.",
    keys=(
        Key(
            name="rtt",
            type=Latency(),
            about="every command's round trip (a distribution: drawn per command). Simulation only",
            default="1ms",
        ),
        Key(
            name="replicas",
            type=Number(maximum=MAX_REPLICAS, integer=True),
            about="asynchronous replicas: every write of the primary reaches each after its lag, in order. "
            "Simulation only",
            default=0,
        ),
        Key(
            name="replication_lag",
            type=Latency(),
            about="how long after the primary a replica applies a write (a draw per write and replica; mean at most "
            "60 s)",
            default={"dist": "exponential", "mean": "10ms"},
        ),
    ),
)

SERVICES = Section(
    name="services",
    about="The slow calls a message makes.",
    keys=(
        Key(
            name="crm",
            type=Latency(),
            about="the CRM lookup of installation points",
            default={"dist": "uniform", "low": "8s", "high": "10s"},
        ),
        Key(
            name="llm", type=Latency(), about="the LLM answer", default={"dist": "uniform", "low": "15s", "high": "20s"}
        ),
        Key(
            name="installation_points",
            type=Count(minimum=0),
            about="per customer",
            default={"dist": "uniform", "low": 1, "high": 3},
        ),
        Key(
            name="crm_timeout",
            type=Duration(positive=True),
            about="a slower CRM call is abandoned at it: the message fails",
            default_text="none",
        ),
        Key(
            name="llm_timeout",
            type=Duration(positive=True),
            about="a slower LLM call is abandoned at it: the message fails",
            default_text="none",
        ),
    ),
)

HANDLER = Section(
    name="handler",
    about="The built-in bot's own choices.",
    keys=(
        Key(
            name="outage_notice_skips_llm",
            type=Boolean(),
            about="a customer inside an outage gets the outage notice without an LLM call",
            default=False,
        ),
        Key(
            name="debounce",
            type=Duration(),
            about="wait this long after a burst's first message; answer all that arrived in one LLM call",
            default="0s",
        ),
    ),
)

TIMERS = Section(
    name="timers",
    about="How exactly the handler's own sleeps end.",
    keys=(
        Key(
            name="jitter",
            type=Duration(),
            about="each sleep (backoff, debounce, watchdog, fill poll) ends uniformly within ± it. Simulation only",
            default="0s",
        ),
    ),
)

CODE = Section(
    name="code",
    about="A team's own handler instead of the built-in bot (docs/reference/handler-contract.md).",
    keys=(
        Key(
            name="handler",
            type=Text(min_length=1, max_length=MAX_HANDLER_SPEC),
            about="`FILE.py:FUNCTION` beside the scenario, or `package.module:FUNCTION`: "
            "an `async def handle(message, ctx)`",
            default_text="required in [code]",
        ),
        Key(
            name="settings",
            type=FreeTable(depth=MAX_SETTINGS_DEPTH),
            about="a free table the handler reads as ctx.settings; a variant's is merged over it table by table",
            default={},
        ),
        Key(
            name="max_handling",
            type=Duration(positive=True),
            about="one message still running this long after it started stops the run (exit 3)",
            default=f"{MAX_HANDLING / 3600:g}h",
        ),
    ),
)

VARIANT = Section(
    name="variants.NAME",
    about="A configuration to compare: it names only what it changes from the top-level sections.",
    keys=tuple(
        Key(name=s.name, type=Table(spec=s), about=s.about)
        for s in (LOCK, CACHE, WORKERS, REDIS, SERVICES, HANDLER, TIMERS, CODE)
    ),
)

_START = Key(name="start", type=Duration(), about="from the run's start", required=True)
_LASTS = Key(name="duration", type=Duration(positive=True), about="how long it lasts", required=True)

FAULT = Tagged(
    name="faults",
    tag="kind",
    about="Something that goes wrong in the world, the same for every variant. Simulation only.",
    kinds=(
        Section(
            name="redis_down",
            about="every Redis command is refused; the cache falls back to the CRM, the lock retries",
            keys=(_START, _LASTS),
        ),
        Section(
            name="redis_restart",
            about="every key (cached answers and locks) and loaded script is gone",
            keys=(_START,),
        ),
        Section(
            name="crm_errors",
            about="that share of CRM calls fails: the message gets the failure reply",
            keys=(
                _START,
                _LASTS,
                Key(name="rate", type=Number(maximum=1.0), about="the share of CRM calls that fail", required=True),
            ),
        ),
        Section(
            name="failover",
            about="the primary dies at start (commands refused, blocked clients cut off); after detection the most "
            "up-to-date replica is promoted and what it had not applied is gone. Needs [redis]replicas",
            keys=(
                _START,
                Key(
                    name="detection",
                    type=Duration(positive=True),
                    about="from the death to the promotion",
                    required=True,
                ),
            ),
        ),
        Section(
            name="stall",
            about="an LLM call starting in the window takes extra seconds longer",
            keys=(
                _START,
                _LASTS,
                Key(name="extra", type=Duration(positive=True), about="added to each LLM call", required=True),
            ),
        ),
    ),
)

TUNE = Section(
    name="tune",
    about="What `sim tune` searches; its flags replace the keys they name.",
    keys=(
        Key(name="variant", type=Text(), about="the variant the search starts from", default_text="the baseline"),
        Key(
            name="space",
            type=Strings(),
            about='settings named as in this file: `"lock.timeout=10s..120s"`, `"workers.count=4..64:int"`, '
            '`"lock.backoff.kind=exponential,full_jitter"`',
            required=True,
        ),
        Key(
            name="objectives",
            type=Strings(),
            about='what to minimise: a metric, or a cost `"redis_commands*1e-6 + busy*0.5"`; '
            "two or more: a Pareto front",
            required=True,
        ),
        Key(name="constraints", type=Strings(), about="thresholds, judged on the 95 % CI bound", default=[]),
        Key(
            name="trials",
            type=Number(minimum=1, maximum=tune_limits.MAX_TRIALS, integer=True),
            about="candidates to evaluate",
            default=tune_limits.DEFAULT_TRIALS,
        ),
        Key(
            name="budget",
            type=Duration(positive=True, maximum=tune_limits.MAX_BUDGET),
            about="wall time for the search; the confirmation runs after it",
            default_text="none",
        ),
        Key(
            name="replications",
            type=Number(minimum=2, maximum=tune_limits.MAX_REPLICATIONS, integer=True),
            about="per candidate at most, in rungs of 3, 6, 12, …",
            default_text="[scenario]replications",
        ),
        Key(
            name="finalists",
            type=Number(minimum=2, maximum=tune_limits.MAX_FINALISTS, integer=True),
            about="leaders re-run on fresh replications",
            default=tune_limits.DEFAULT_FINALISTS,
        ),
        Key(
            name="delta",
            type=Number(maximum=1e15, above_minimum=True),
            about="the indifference zone δ, in units of the first objective",
            default_text="1 % of the leader's cost",
        ),
        Key(
            name="confirmation",
            type=Number(minimum=2, maximum=tune_limits.MAX_REPLICATIONS, integer=True),
            about="fresh replications per finalist at most; when the bound at δ needs more, the report says it "
            "is capped and how many it needed",
            default=tune_limits.DEFAULT_CONFIRMATION,
        ),
    ),
)

SCENARIO_FILE = Section(
    name="",
    about="A scenario file: the traffic, the services it meets, the world's faults, and named variants.",
    keys=(
        Key(name="scenario", type=Table(spec=HEAD), about=HEAD.about),
        Key(name="workload", type=Table(spec=WORKLOAD), about=WORKLOAD.about),
        *(
            Key(name=k.name, type=k.type, about=f"every variant's defaults: {k.about[0].lower()}{k.about[1:]}")
            for k in VARIANT.keys
        ),
        Key(
            name="variants",
            type=Named(spec=VARIANT, pattern=VARIANT_NAME.pattern),
            about="the configurations to compare, [variants.NAME]: letters, digits, space, '.', '_', '+', '-'",
        ),
        Key(name="faults", type=Tables(spec=FAULT), about=FAULT.about),
        Key(name="tune", type=Table(spec=TUNE), about=TUNE.about),
    ),
)

VARIANT_SECTIONS = tuple(k.name for k in VARIANT.keys)


# --- The loader's view: a Reader that knows its section's keys ------------------------------------------


class UndeclaredKey(AssertionError):
    """The loader read a key this module does not declare: a bug in sim, found by any test that loads a file."""


class SectionReader(Reader):
    """A `Reader` whose section is declared in this module: `done()` refuses every key the declaration
    lacks (suggesting the closest one), and tables it hands out know their own declarations."""

    def __init__(self, file: str, section: str, data: dict[str, Any], spec: Spec) -> None:
        super().__init__(file, section, data)
        self.spec = spec

    def declared(self) -> Mapping[str, Key]:
        """The keys this table may hold (for a tagged table: those of the kind it names)."""
        if isinstance(self.spec, Tagged):
            return self.spec.keys_of(self.data.get(self.spec.tag))
        return self.spec.by_name

    def raw(self, key: str, default: Any = MISSING) -> Any:
        every = self.spec.keys_of(None) if isinstance(self.spec, Tagged) else self.spec.by_name
        if key not in every:
            raise UndeclaredKey(f"[{self.spec.name}]{key} is read by the loader but not declared in {__name__}")
        return super().raw(key, default)

    def done(self) -> None:
        allowed = self.declared()
        for key in self.data:
            if key not in allowed:
                close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                self.fail(key, f"unknown key (allowed here: {', '.join(allowed)}){hint}")
        super().done()  # a declared key the loader did not read for this table is refused, never ignored

    def table(self, key: str) -> SectionReader | None:
        plain = super().table(key)
        return None if plain is None else SectionReader(plain.file, plain.section, plain.data, self.child(key))

    def tables(self, key: str) -> list[Reader]:
        plain = super().tables(key)  # raw() first: an undeclared key is named as such
        value = self.declared()[key].type
        spec = value.spec if isinstance(value, Tables) else _no_spec(self, key)
        return [SectionReader(r.file, r.section, r.data, spec) for r in plain]

    def subsection(self, key: str) -> SectionReader:
        """The table `key`, or an empty one when the file has none (its keys then take their defaults)."""
        return self.table(key) or SectionReader(self.file, key, {}, self.child(key))

    def child(self, key: str) -> Spec:
        """The declaration of the table under `key`."""
        value = self.declared()[key].type
        if isinstance(value, Either):
            value = next((f for f in value.forms if isinstance(f, Table)), value)
        match value:
            case Table(spec=spec) | Tables(spec=spec):
                return spec
            case Named(spec=spec):
                return Section(
                    name=f"{self.spec.name}.NAME",
                    keys=tuple(Key(name=n, type=Table(spec=spec), about="") for n in self.data.get(key, {})),
                )
            case Latency():
                return DISTRIBUTION
            case Count(minimum=minimum):
                return count_distribution(minimum)
            case _:
                return _no_spec(self, key)


def _no_spec(reader: SectionReader, key: str) -> Spec:
    raise UndeclaredKey(f"[{reader.spec.name}]{key} is read as a table but not declared as one in {__name__}")


def reader_for(file: str, data: dict[str, Any]) -> SectionReader:
    """The reader of a whole scenario file."""
    return SectionReader(file, "", data, SCENARIO_FILE)


# --- JSON Schema ------------------------------------------------------------------------------------------


def json_schema() -> dict[str, Any]:
    """The scenario file's JSON Schema (draft 2020-12), for editors (completion, hover text, checks) and CI."""
    defs: dict[str, Any] = {}
    root = _section_schema(SCENARIO_FILE, defs)
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "sim scenario file",
        **root,
        "$defs": dict(sorted(defs.items())),
    }


def json_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def _section_schema(
    section: Section, defs: dict[str, Any], *, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    properties = {**(extra or {})}
    for key in section.keys:
        properties[key.name] = _key_schema(key, defs)
    schema: dict[str, Any] = {"type": "object"}
    if section.about:
        schema["description"] = section.about
    schema["properties"] = properties
    required = [k.name for k in section.keys if k.required] + [n for n in (extra or {}) if n not in section.by_name]
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    if section.excludes:
        schema["dependentSchemas"] = {
            key: {"not": {"anyOf": [{"required": [other]} for other in others]}} for key, others in section.excludes
        }
    return schema


def _key_schema(key: Key, defs: dict[str, Any]) -> dict[str, Any]:
    schema = _value_schema(key.type, defs)
    if key.about:
        schema = {"description": key.about, **schema}
    if key.default is not None:
        schema["default"] = key.default
    return schema


def _value_schema(value: ValueType, defs: dict[str, Any]) -> dict[str, Any]:  # noqa: C901 - one case per type
    match value:
        case Duration():
            return {"anyOf": [_duration_number(value), {"type": "string", "pattern": DURATION_PATTERN}]}
        case Number():
            return _number(value)
        case Boolean():
            return {"type": "boolean"}
        case Text():
            return _text(value)
        case Latency():
            return {"anyOf": [_value_schema(Duration(), defs), {"$ref": _define(DISTRIBUTION, defs)}]}
        case Count(minimum=minimum):
            whole = _number(Number(minimum=minimum, maximum=MAX_COUNT, integer=True))
            return {"anyOf": [whole, {"$ref": _define(count_distribution(minimum), defs)}]}
        case Rates(maximum=maximum):
            rate = _number(Number(maximum=maximum))
            return {"anyOf": [rate, {"type": "array", "items": rate, "minItems": 24, "maxItems": 24}]}
        case Strings():
            return {"type": "array", "items": {"type": "string"}}
        case Numbers(integer=integer):
            return {"type": "array", "items": {"type": "integer" if integer else "number"}, "minItems": 1}
        case Durations():
            return {"type": "array", "items": _value_schema(Duration(), defs), "minItems": 1}
        case Instant():
            return {"type": "string", "format": "date-time"}
        case FreeTable():
            return {"type": "object"}
        case Targets():
            target = {"anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "string"}]}
            by_metric = {"type": "object", "propertyNames": {"enum": list(ALL_METRICS)}, "additionalProperties": target}
            return {"anyOf": [{"type": "string"}, by_metric]}
        case Table(spec=spec):
            return {"$ref": _define(spec, defs)}
        case Tables(spec=spec):
            return {"type": "array", "items": {"$ref": _define(spec, defs)}}
        case Named(spec=spec, pattern=pattern):
            names = {"pattern": f"^(?:{pattern})$"}
            return {"type": "object", "propertyNames": names, "additionalProperties": {"$ref": _define(spec, defs)}}
        case Either(forms=forms):
            return {"anyOf": [_value_schema(f, defs) for f in forms]}


def _define(spec: Spec, defs: dict[str, Any]) -> str:
    """`#/$defs/NAME`, defined on first use (a section used in two places is written once)."""
    name = spec.name.replace(".NAME", "").replace(".", "_") or "scenario_file"
    if name not in defs:
        defs[name] = {}  # first, so a spec that refers to itself ends
        if isinstance(spec, Tagged):
            defs[name] = {"description": spec.about, "oneOf": [_kind_schema(spec, k, defs) for k in spec.kinds]}
        else:
            defs[name] = _section_schema(spec, defs)
    return f"#/$defs/{name}"


def _kind_schema(spec: Tagged, kind: Section, defs: dict[str, Any]) -> dict[str, Any]:
    tag = {"description": kind.about, "const": kind.name}
    return _section_schema(Section(name=kind.name, keys=kind.keys), defs, extra={spec.tag: tag})


def _duration_number(value: Duration) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "number"}
    if value.positive and value.minimum == 0:
        schema["exclusiveMinimum"] = 0
    else:
        schema["minimum"] = value.minimum
    schema["maximum"] = value.maximum
    return schema


def _number(value: Number) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer" if value.integer else "number"}
    schema["exclusiveMinimum" if value.above_minimum else "minimum"] = _plain(value.minimum, value.integer)
    schema["maximum"] = MAX_FLOAT if value.maximum > MAX_FLOAT else _plain(value.maximum, value.integer)
    return schema


def _plain(number: float, integer: bool) -> int | float:
    """`10000`, not `10000.0`: what a person would write."""
    return int(number) if integer or (float(number).is_integer() and abs(number) < 2**53) else number


def _text(value: Text) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if value.choices:
        schema["enum"] = list(value.choices)
    if value.pattern:
        schema["pattern"] = f"^(?:{value.pattern})$"
    if value.min_length:
        schema["minLength"] = value.min_length
    if value.max_length:
        schema["maxLength"] = value.max_length
    return schema
