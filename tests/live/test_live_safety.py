"""`sim live` against a server holding other people's keys: it touches only its own, cleans up,
and reports a Redis that failed during the run (exit 5) instead of numbers that look normal."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from sim.cli import main
from sim.live import connect, redact, run_live
from sim.scenario import load_scenario
from tests.helpers import MAGNA, ROOT

# Magna with every option that names keys: fair lock, debounce, single-flight + XFetch, watchdog.
EVERYTHING = """
[scenario]
name = "decoys"
seed = 20251027
[workload]
[[workload.script]]
customer = "magna"
tax_id = "123.456.789-00"
messages = ["0s", "12s", "14s"]
[services]
crm = { dist = "uniform", low = "8s", high = "10s" }
llm = { dist = "uniform", low = "15s", high = "20s" }
[workers]
count = 4
[lock]
ttl = "15s"
timeout = "60s"
[cache]
enabled = true
ttl = "300s"
[variants.everything]
lock = { fair = true, watchdog = true }
handler = { debounce = "5s" }
cache = { single_flight = true, xfetch_beta = 1.0 }
[variants.fifo]
lock = { fair = true, ttl = "120s" }
[variants.plain]
lock = { ttl = "120s", backoff = { kind = "exponential", base = "100ms", factor = 2, cap = "2s" } }
"""


def _plant_decoys(client):
    """Keys of every pattern the code uses, outside the run's namespace: several types, with and without TTL."""
    tax = "123.456.789-00"
    client.set("lock:thread:thread_magna", "someone", px=600_000)
    client.rpush("lock:queue:thread_magna", "w1", "w2")
    for n in range(4):
        client.rpush(f"lock:grant:msg-{n}", "1", "2")  # a list, as the old hand-off pushed
        client.set(f"lock:grant:msg-{n}@x", "user data")
    client.set("lock:grant:msg-2", "a user's string")  # the old abandon DELETED this one
    client.rpush("debounce:thread_magna", "msg-7")
    client.set(f"massive:points:{tax}", '{"points": ["p"], "outage": false, "delta": 1}', ex=3600)
    client.set(f"fill:massive:points:{tax}", "other-leader", px=600_000)
    for other in ("sim-live:othernamespace:", "sim-live:0123456789abcdef0123456789abcdef:"):
        client.set(f"{other}lock:thread:thread_magna", "msg-1", px=600_000)
        client.rpush(f"{other}lock:queue:thread_magna", "msg-2")
        client.rpush(f"{other}debounce:thread_magna", "msg-1")
        client.set(f"{other}massive:points:{tax}", "{}")
        client.hset(f"{other}fill:massive:points:{tax}", mapping={"a": "1"})
    client.sadd("sim-live:", "a set")
    client.zadd("sim-live:*", {"m": 1.0})


def _snapshot(client):
    return {key: (client.dump(key), client.pttl(key) > 0) for key in client.scan_iter(count=1000)}


@pytest.mark.slow
def test_a_live_run_leaves_every_other_key_byte_for_byte_and_none_of_its_own(private_redis, tmp_path, capsys):
    client = private_redis.client
    _plant_decoys(client)
    before = _snapshot(client)
    assert len(before) >= 25
    scenario = tmp_path / "decoys.toml"
    scenario.write_text(EVERYTHING)

    code = main(["live", str(scenario), "--redis", private_redis.url, "--time-scale", "0.03", "--json"])

    assert code == 0, capsys.readouterr()
    after = _snapshot(client)
    assert after.keys() == before.keys()  # nothing of the run is left, nothing of anybody else is gone
    for key, (dump, has_ttl) in before.items():
        assert after[key] == (dump, has_ttl), key
    stats = client.info("commandstats")
    assert stats["cmdstat_blpop"]["calls"] >= 1  # the fair lock's hand-off really ran
    assert stats["cmdstat_unlink"]["calls"] >= 3  # one cleanup per variant


def test_run_keys_and_tokens_are_unique_to_the_run(private_redis):
    scenario = load_scenario(MAGNA)
    client = connect(private_redis.url)
    first, second = (run_live(scenario, scenario.variants[1], client, 0.02) for _ in range(2))
    assert first.namespace != second.namespace
    for run in (first, second):
        assert run.namespace.startswith("sim-live:") and run.namespace.endswith(":")
        assert not set(run.namespace) & set("*?[]\\^")
        assert run.redis_errors == {}
        assert run.result.violations == ()
    assert private_redis.client.dbsize() == 0  # the cache entry (TTL 300 s scaled) is gone too


def _live(url, *extra, time_scale="0.05"):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "sim", "live", str(MAGNA), "--redis", url, "--time-scale", time_scale, "--quiet",
         *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip


@pytest.mark.slow
def test_a_server_killed_during_the_run_is_exit_5_with_one_line(private_redis):
    run = _live(private_redis.url, "--variant", "after", time_scale="0.03")
    while not private_redis.client.keys("sim-live:*lock:thread:*"):  # message 1 holds the lock
        assert run.poll() is None, run.communicate()
        time.sleep(0.005)
    private_redis.process.kill()
    out, err = run.communicate(timeout=120)
    assert run.returncode == 5, err
    assert "answered" in out  # the metrics table is still printed
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "the Redis server failed during the live run of variant 'after'" in err
    assert "got ConnectionError" in err


def test_a_server_out_of_memory_is_exit_5_with_one_line(private_redis):
    client = private_redis.client
    client.set("ballast", b"x" * 2_000_000)
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", "1mb")
    run = _live(private_redis.url, "--variant", "after", time_scale="0.02")
    out, err = run.communicate(timeout=120)
    assert run.returncode == 5, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "got OutOfMemoryError" in err
    assert client.keys("sim-live:*") == []


@pytest.mark.parametrize(
    "url, says",
    [
        ("redis://:secret@127.0.0.1:1/0", "redis://:***@127.0.0.1:1/0: Error 111"),
        ("redis://:secret@127.0.0.1:{port}/99", "DB index is out of range"),
        pytest.param(  # TLS to a plain server: seconds of connect timeouts and retries
            "rediss://:secret@127.0.0.1:{port}/0?socket_connect_timeout=1",
            "rediss://:***@127.0.0.1:",
            marks=pytest.mark.slow,
        ),
        ("redis://:secret@127.0.0.1:{port}/abc", "the database 'abc' is not a number"),
        ("redis://:secret@127.0.0.1:notaport/0", "Port could not be cast"),
        ("redis://:secret@127.0.0.1:99999/0", "Port out of range"),
        ("redis://:secret@[::1/0", "Invalid IPv6 URL"),
        ("http://:secret@127.0.0.1:{port}/0", "must specify one of the following schemes"),
        ("redis://user:se%2Fcret@127.0.0.1:{port}/0", "redis://user:***@127.0.0.1:"),
        ("", "must specify one of the following schemes"),
    ],
)
def test_a_bad_url_is_one_line_exit_2_before_anything_runs_and_never_shows_the_password(url, says, redis_url):
    port = redis_url.rsplit(":", 1)[1].split("/")[0]
    run = _live(url.format(port=port))
    out, err = run.communicate(timeout=60)
    assert run.returncode == 2, err
    assert out == ""  # no metrics: nothing ran
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert says in err
    assert "secret" not in err and "cret" not in err


@pytest.mark.parametrize("value", ["inf", "nan", "0", "1e-300", "1e300", "-0.5", "x"])
def test_a_bad_time_scale_is_one_line_exit_2(value):
    run = _live("redis://:secret@127.0.0.1:1/0", time_scale=value)
    out, err = run.communicate(timeout=60)
    assert (run.returncode, out) == (2, "")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "--time-scale: must be a number from 0.001 to 1000" in err


@pytest.mark.parametrize(
    "url, shown",
    [
        ("redis://:secret@h:1/0", "redis://:***@h:1/0"),
        ("redis://user:secret@h/0", "redis://user:***@h/0"),
        ("redis://secret@h/0", "redis://***@h/0"),
        ("rediss://u:p@ss@h/0", "rediss://u:***@h/0"),
        ("redis://h:1/0", "redis://h:1/0"),
        ("redis:secret@h", "redis:***@h"),
    ],
)
def test_redact_hides_the_password_in_every_form(url, shown):
    assert redact(url) == shown


def test_a_live_run_that_breaks_an_invariant_exits_3(redis_url, monkeypatch, capsys):
    import sim.live

    def duplicated(records):  # a planted bug: one message gets two outcomes
        return [*records, records[0]]

    monkeypatch.setattr(sim.live, "resolve_batches", duplicated)
    code = main(["live", str(MAGNA), "--redis", redis_url, "--time-scale", "0.02", "--variant", "after"])
    assert code == 3
    assert "sim: INVARIANT BROKEN: after: 3 messages arrived but 3 distinct ones got an outcome (4)" in (
        capsys.readouterr().err
    )


# Each message's LLM call takes 90 s of wall time: an interruption must not wait for them.
LONG_LLM = """
[scenario]
name = "long-llm"
[workload]
[[workload.script]]
customer = "m"
messages = ["0s", "0.3s", "0.6s"]
[[workload.script]]
customer = "n"
messages = ["0s"]
[services]
crm = "0s"
llm = "90s"
[workers]
count = 4
[lock]
ttl = "120s"
timeout = "300s"
[cache]
enabled = true
[variants.plain]
[variants.fair]
lock = { fair = true, watchdog = true }
"""


@pytest.mark.parametrize("variant", ["plain", "fair"])
@pytest.mark.parametrize("how", ["Ctrl-C", "SIGTERM"])
def test_an_interrupted_live_run_ends_at_once_with_one_line_and_leaves_no_key(private_redis, tmp_path, variant, how):
    scenario = tmp_path / "long.toml"
    scenario.write_text(LONG_LLM)
    client = private_redis.client
    run = subprocess.Popen(
        [sys.executable, "-m", "sim", "live", str(scenario), "--redis", private_redis.url, "--variant", variant,
         "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    waiting = "sim-live:*lock:queue:*" if variant == "fair" else "sim-live:*lock:thread:*"
    while not (client.keys("sim-live:*lock:thread:*") and client.keys(waiting)):  # a holder in its LLM call
        assert run.poll() is None, run.communicate()
        time.sleep(0.01)
    time.sleep(0.8)  # the later messages of customer m now wait for the lock (polling, or blocked in BLPOP)
    if how == "Ctrl-C":
        os.killpg(run.pid, signal.SIGINT)  # what a terminal sends to the whole foreground job
    else:
        run.send_signal(signal.SIGTERM)  # what a CI runner sends to cancel a job
    out, err = run.communicate(timeout=30)  # without the fix: 90 s for the LLM calls, or killed with no cleanup
    assert (run.returncode, err) == (130, "sim: interrupted\n")
    assert client.keys("sim-live:*") == []


def test_live_shows_progress_per_message_on_stderr_and_quiet_silences_it(redis_url):
    shown = subprocess.run(
        [sys.executable, "-m", "sim", "live", str(MAGNA), "--redis", redis_url, "--time-scale", "0.02",
         "--variant", "after", "--json"],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert shown.stderr.splitlines()[-1].startswith("magna after: 3/3 messages in ")
    quiet = _live(redis_url, "--variant", "after", "--json", time_scale="0.02")
    out, err = quiet.communicate(timeout=120)
    assert (quiet.returncode, err) == (0, "")


# One customer, two messages: the second waits about 6 s for the fair lock, blocked in BLPOP for 5 s at a time.
FAIR_WAIT = """
[scenario]
name = "fair-wait"
[workload]
[[workload.script]]
customer = "m"
messages = ["0s", "0.1s"]
[services]
crm = "0s"
llm = "6s"
[lock]
ttl = "60s"
timeout = "60s"
fair = true
"""


def test_a_fair_lock_waiter_blocked_for_the_full_check_interval_is_no_redis_failure(redis_url, tmp_path, capsys):
    scenario = tmp_path / "fair.toml"
    scenario.write_text(FAIR_WAIT)
    assert main(["live", str(scenario), "--redis", redis_url, "--json", "--quiet"]) == 0, capsys.readouterr().err
    metrics = json.loads(capsys.readouterr().out)["variants"]["default"]
    assert (metrics["answered"], metrics["redis_errors"]) == (2, 0)  # redis-py's 5 s read timeout cut the BLPOP
