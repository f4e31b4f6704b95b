"""The attacker's scenario inputs after issue 9: each is one line and exit 2 before anything runs,
or (built in code, past the loader) a clean run. Every test rebuilds a reproduction from the report."""

import dataclasses
import json
import textwrap

import pytest

from sim.cli import main
from sim.scenario import ScenarioError, load_scenario
from sim.scenario.load import parse_scenario
from sim.scenario.work import MAX_MESSAGES, MAX_POLLS_PER_WAIT
from sim.world.model import simulate

BASE = """
[scenario]
name = "b"
seed = 3
replications = 2
[workload]
[[workload.script]]
customer = "m"
messages = ["0s", "12s", "14s"]
[services]
crm = "1s"
llm = "2s"
[workers]
count = 2
"""


def write(tmp_path, text, name="s.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def refused(path) -> str:
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    message = str(error.value)
    assert "\n" not in message and "\x1b" not in message
    return message


def cli_refuses(path, capsys) -> str:
    """`sim run` on it: exit 2, one line on stderr, nothing on stdout (no simulation ran)."""
    assert main(["run", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "\x1b" not in err
    return err


# --- 1, 2: TTLs Redis keeps in whole milliseconds ------------------------------------------------

ONE_CONVERSATION = """
[scenario]
name = "ttl"
[workload]
[[workload.script]]
customer = "x"
messages = [{messages}]
[services]
crm = "0s"
llm = "{llm}"
[redis]
rtt = "{rtt}"
[workers]
count = 50
[lock]
ttl = {ttl}
backoff = {{ kind = "fixed", delay = "1ms" }}
"""


def conversation(n=30, gap=0.0001, llm="5s", rtt="1ms", ttl='"1.0004s"') -> str:
    return ONE_CONVERSATION.format(messages=", ".join(str(i * gap) for i in range(n)), llm=llm, rtt=rtt, ttl=ttl)


@pytest.mark.parametrize("ttl, shown", [('"1.0004s"', "'1.0004s'"), ("0.0025", "0.0025"), ('"0.5ms"', "'0.5ms'")])
def test_a_lock_ttl_that_is_not_whole_milliseconds_is_refused_before_it_fakes_two_holders(tmp_path, capsys, ttl, shown):
    """The attacker's 30 messages 0.1 ms apart: the lock set PX 1000 for 1.0004 s and the check used 1.0004 s."""
    err = cli_refuses(write(tmp_path, conversation(ttl=ttl)), capsys)
    assert f"[lock]ttl: Redis keeps TTLs in whole milliseconds: must be 1 ms or more, in whole ms, got {shown}" in err


@pytest.mark.parametrize("ttl", ['"1001ms"', "1.001", '"1ms"', "0.1", '"120s"'])
def test_a_lock_ttl_in_whole_milliseconds_loads(tmp_path, ttl):
    assert load_scenario(write(tmp_path, conversation(ttl=ttl))).variants[0].lock.ttl > 0


def test_a_lock_ttl_built_in_code_between_milliseconds_is_judged_by_the_ttl_redis_keeps(tmp_path):
    """The attacker's case past the loader: the lock sets PX 1000 for 1.0004 s; the overlap check must use 1 s."""
    scenario = load_scenario(write(tmp_path, conversation(ttl='"1s"')))
    variant = scenario.variants[0]
    odd = dataclasses.replace(variant, lock=dataclasses.replace(variant.lock, ttl=1.0004))
    run = simulate(scenario, odd, 0)
    assert any(r.lock_lost for r in run.records)  # the 5 s LLM outlives the TTL: real overlaps, not bugs
    assert run.violations == ()


CACHE_STAMPEDE = """
[scenario]
name = "cache"
[workload]
{customers}
[services]
crm = "0s"
llm = "0s"
[redis]
rtt = "0.00001s"
[workers]
count = 50
[cache]
enabled = true
ttl = {ttl}
"""


def stampede(ttl: str) -> str:
    customers = "\n".join(
        f'[[workload.script]]\ncustomer = "c{i}x"\ntax_id = "t"\nmessages = [{i * 0.00005}]' for i in range(40)
    )
    return CACHE_STAMPEDE.format(customers=customers, ttl=ttl)


def test_a_cache_ttl_under_a_millisecond_is_refused_before_it_fakes_stale_hits(tmp_path, capsys):
    err = cli_refuses(write(tmp_path, stampede("0.0004")), capsys)
    assert "[cache]ttl: Redis keeps TTLs in whole milliseconds" in err and "got 0.0004" in err


def test_a_cache_ttl_built_in_code_under_a_millisecond_is_judged_by_the_ttl_redis_keeps(tmp_path):
    scenario = load_scenario(write(tmp_path, stampede('"1ms"')))
    variant = scenario.variants[0]
    odd = dataclasses.replace(variant, cache=dataclasses.replace(variant.cache, ttl=0.0004))
    run = simulate(scenario, odd, 0)
    assert any(r.source == "hit" for r in run.records)
    assert run.violations == ()


# --- 4, 16: names shown in reports, and one-line errors ------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "a$\\\\foo{$",
        "b|x\\n# Injected heading\\n![pixel](https://example.com/p.png)",
        "-lead",
        "a" * 65,
        "é",
        "x\\u001b[31m",
    ],
)
def test_a_variant_name_that_is_not_plain_text_is_refused(tmp_path, capsys, name):
    err = cli_refuses(write(tmp_path, BASE + f'[variants."{name}"]\n'), capsys)
    assert "cannot be a variant name: use letters, digits, space" in err


@pytest.mark.parametrize("name", ["before", "after", "gpt-4", "fifo lock", "v1.2+cache", "A_b"])
def test_plain_variant_names_load(tmp_path, name):
    scenario = load_scenario(write(tmp_path, BASE + f'[variants."{name}"]\n'))
    assert scenario.variants[0].name == name


def test_a_key_with_a_newline_and_an_escape_code_is_shown_escaped_on_one_line(tmp_path):
    message = refused(write(tmp_path, '[scenario]\n"evil\\nsim: ok all good\\u001b[31m" = 1\n' + BASE[12:]))
    assert "[scenario]evil\\nsim: ok all good\\x1b[31m: unknown key" in message


def test_an_empirical_file_name_with_control_characters_is_shown_escaped(tmp_path):
    (tmp_path / "dir\nsim: ok\x1b[2J").mkdir()  # a folder: "not a regular file", naming it
    text = BASE.replace('crm = "1s"', 'crm = { dist = "empirical", file = "dir\\nsim: ok\\u001b[2J" }')
    assert refused(write(tmp_path, text)).endswith("[services.crm]file: dir\\nsim: ok\\x1b[2J: not a regular file")


# --- 5: integers beyond float range ----------------------------------------------------------------

HUGE = "1" + "0" * 400


@pytest.mark.parametrize(
    "before, after, expected",
    [
        (
            "[workload]",
            f"[lock]\nttl = {HUGE}\n[workload]",
            "[lock]ttl: must be at most 1000 days, got an integer of about 401 digits",
        ),  # noqa: E501
        (
            "[workload]",
            f"[lock]\nlog_every = {HUGE}\n[workload]",
            "[lock]log_every: must be <= 1e+09, got an integer of about 401 digits",
        ),  # noqa: E501
        ("seed = 3", f"seed = {HUGE}", "[scenario]seed: must be below 2**63, got an integer of about 401 digits"),
        ("count = 2", f"count = {HUGE}", "[workers]count: must be <= 100000, got an integer of about 401 digits"),
        ('crm = "1s"', f"crm = {HUGE}", "[services]crm: must be at most 1000 days"),
        ('crm = "1s"', f"crm = -{HUGE}", "[services]crm: must be zero or more"),
    ],
)
def test_an_integer_too_big_for_a_float_is_a_clean_error(tmp_path, capsys, before, after, expected):
    """tomllib gives Python ints of any size; math.isfinite and float() overflow on them (exit 4 before)."""
    assert expected in cli_refuses(write(tmp_path, BASE.replace(before, after)), capsys)


def test_an_integer_too_long_for_python_to_read_is_a_clean_error(tmp_path, capsys):
    """Past 4,300 digits tomllib's int() raises ValueError, not TOMLDecodeError (exit 4 before)."""
    err = cli_refuses(write(tmp_path, BASE.replace("count = 2", "count = " + "1" * 5000)), capsys)
    assert err.endswith("invalid TOML: a number too long to read\n") and "1111" not in err


def test_a_weight_too_big_for_a_float_is_a_clean_error(tmp_path):
    weights = BASE.replace(
        "[services]", f"[services]\ninstallation_points = {{ dist = 'choice', values = [1, 2], weights = [{HUGE}, 1] }}"
    )  # noqa: E501
    assert "[services.installation_points]weights: must be at most" in refused(write(tmp_path, weights))


# --- 7, 8: work and run size ----------------------------------------------------------------------

NEVER_ENDS = """
[scenario]
name = "forever"
[workload]
[[workload.script]]
customer = "m"
messages = ["0s", "1s"]
[services]
crm = "0s"
llm = 86400000
[lock]
ttl = 86400000
timeout = 86400000
backoff = { kind = "fixed", delay = "1ms" }
"""


def test_a_lock_wait_of_billions_of_polls_is_refused(tmp_path, capsys):
    err = cli_refuses(write(tmp_path, NEVER_ENDS), capsys)
    assert "variant 'default': [lock]backoff: waiting 8.64e+07 s for the lock" in err
    assert f"~86,400,000,001 polls; the limit is {MAX_POLLS_PER_WAIT:,} per wait" in err


def test_the_same_wait_with_a_long_enough_backoff_or_a_short_holder_loads(tmp_path):
    load_scenario(write(tmp_path, NEVER_ENDS.replace('delay = "1ms"', 'delay = "100s"')))
    load_scenario(write(tmp_path, NEVER_ENDS.replace("llm = 86400000", 'llm = "20s"')))


def test_a_fifo_lock_blocks_instead_of_polling_so_a_long_wait_is_no_poll_storm(tmp_path):
    load_scenario(write(tmp_path, NEVER_ENDS.replace("[lock]", "[lock]\nfair = true")))


def test_a_watchdog_extending_a_3ms_ttl_through_a_long_llm_call_is_refused(tmp_path, capsys):
    text = NEVER_ENDS.replace("ttl = 86400000", 'ttl = "3ms"\nwatchdog = true').replace("timeout = 86400000", "")
    err = cli_refuses(write(tmp_path, text), capsys)
    assert "variant 'default': [lock]ttl: the watchdog would extend a 0.003 s TTL ~86,400,000,000 times" in err


def test_the_run_size_limit_counts_messages_not_bursts(tmp_path, capsys):
    text = '[scenario]\nname = "big"\nduration = "1h"\n[workload]\ncustomers_per_hour = 5000000\nburst_size = 1000\n'
    err = cli_refuses(write(tmp_path, text), capsys)
    assert f"~5,000,000,000 messages per run; the limit is {MAX_MESSAGES:,}" in err


@pytest.mark.parametrize(
    "burst_size",
    ['{dist = "choice", values = [1, 4], weights = [1, 1]}', '{dist = "uniform", low = 1, high = 4}', "2.5"],
)
def test_the_message_count_uses_the_burst_size_distributions_mean(tmp_path, burst_size):
    """2 M bursts × a mean of 2.5 is the limit itself; 2.1 M bursts are over it."""
    text = '[scenario]\nduration = "1h"\n[workload]\ncustomers_per_hour = {rate}\nburst_size = {size}\n'
    if burst_size == "2.5":
        burst_size = '{dist = "geometric", mean = 2.5}'
    load_scenario(write(tmp_path, text.format(rate=2_000_000, size=burst_size)))
    message = refused(write(tmp_path, text.format(rate=2_100_000, size=burst_size)))
    assert "[workload]burst_size: the rates and bursts give ~5,250,000 messages per run" in message


# --- 15: durations floating point can add to the clock --------------------------------------------


@pytest.mark.parametrize("rtt", ["1e-300", "5e-324", "1e-7", '"0.0001ms"'])
def test_a_duration_under_a_microsecond_is_refused_before_the_run(tmp_path, capsys, rtt):
    err = cli_refuses(write(tmp_path, BASE + f"[redis]\nrtt = {rtt}\n"), capsys)
    assert "[redis]rtt: must be 0 or at least 1 µs (1e-06 s)" in err


@pytest.mark.parametrize("rtt", ["0", "1e-6", '"1ms"'])
def test_zero_and_a_microsecond_are_valid_durations(tmp_path, rtt):
    load_scenario(write(tmp_path, BASE + f"[redis]\nrtt = {rtt}\n"))


def test_an_empirical_value_under_a_microsecond_is_refused(tmp_path):
    (tmp_path / "crm.csv").write_text("8.5\n1e-300\n")
    text = BASE.replace('crm = "1s"', 'crm = { dist = "empirical", file = "crm.csv" }')
    assert "crm.csv line 2: seconds must be 0 or at least 1 µs" in refused(write(tmp_path, text))


# --- 17b: byte-order marks ------------------------------------------------------------------------


def test_a_bom_before_a_number_on_line_1_is_a_value_not_a_header(tmp_path):
    (tmp_path / "crm.csv").write_bytes(b"\xef\xbb\xbf100\r\n0.5\r\n0.5\r\n")
    text = BASE.replace('crm = "1s"', 'crm = { dist = "empirical", file = "crm.csv" }')
    assert load_scenario(write(tmp_path, text)).variants[0].services.crm.values == (100.0, 0.5, 0.5)


def test_a_scenario_file_with_a_bom_loads(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + textwrap.dedent(BASE).encode())
    assert load_scenario(path).name == "b"


def test_the_parsed_scenario_without_a_file_checks_work_too():
    data = {"workload": {"script": [{"customer": "m", "messages": ["0s", "1s"]}]}, "services": {"llm": 86400000},
            "lock": {"ttl": 86400000, "timeout": 86400000, "backoff": {"kind": "fixed", "delay": "1ms"}}}  # fmt: skip
    with pytest.raises(ScenarioError, match="polls; the limit is"):
        parse_scenario(data, "in-code.toml")


@pytest.mark.parametrize("customer", ["", "a\nb", "esc\x1b[31m", "x" * 101])
def test_a_scripted_customer_id_must_be_printable_one_line_text(tmp_path, customer):
    path = tmp_path / "ids.toml"
    path.write_text(
        '[scenario]\nname = "ids"\n[workload]\n[[workload.script]]\n'
        f'customer = {json.dumps(customer)}\nmessages = ["0s"]\n'
    )
    with pytest.raises(ScenarioError, match=r"customer: must be 1 to 100 printable characters") as error:
        load_scenario(path)
    assert "\n" not in str(error.value) and "\x1b" not in str(error.value)


def test_a_worker_count_beyond_the_limit_is_refused(tmp_path):
    path = tmp_path / "workers.toml"
    scripted = '[workload]\n[[workload.script]]\ncustomer = "m"\nmessages = ["0s"]\n'
    path.write_text('[scenario]\nname = "w"\n' + scripted + "[workers]\ncount = 100001\n")
    with pytest.raises(ScenarioError, match=r"\[workers\]count: must be <= 100000"):
        load_scenario(path)


@pytest.mark.parametrize(
    "key, table",
    [
        ("[redis]\nrtt", '{ dist = "weibull", shape = 0.01, scale = "1ms" }'),
        ("[cache]\nhit_cost", '{ dist = "weibull", shape = 0.01, scale = "1s" }'),
        ("[variants.slow.services]\ncrm", '{ dist = "weibull", shape = 0.02, scale = "1s" }'),
    ],
)
def test_a_distribution_whose_mean_no_run_could_count_is_refused_before_the_run(tmp_path, capsys, key, table):
    """A Weibull of shape 0.01 is within the shape bounds, but its mean is 1e150 s: its draws overflowed
    the run's per-second counts mid-run (exit 4) before this check."""
    err = cli_refuses(write(tmp_path, BASE + f"{key} = {table}\n"), capsys)
    assert "its mean must be at most" in err


def test_a_file_name_with_a_nul_byte_is_refused_not_a_crash(tmp_path, capsys):
    nul = '[variants.v.services]\ncrm = { dist = "empirical", file = "x\\u0000.csv" }\n'
    err = cli_refuses(write(tmp_path, BASE + nul), capsys)
    assert "NUL byte" in err


def test_variant_names_differing_only_in_case_are_refused(tmp_path, capsys):
    # Each variant writes records/NAME-N.csv.gz: on a disk that ignores case, Fast and fast would collide.
    err = cli_refuses(write(tmp_path, BASE + "[variants.Fast]\n[variants.fast]\n"), capsys)
    assert "[variants]fast: differs from variant 'Fast' only in case" in err
