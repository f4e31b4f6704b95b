"""`[tune]` and `sim tune`'s flags: the space, cost and constraint syntax, and one-line errors before any run."""

import pytest

from sim.cli import main
from sim.experiment.sweep import GRID_KEY, GRID_VALUE
from sim.scenario import ScenarioError, load_scenario
from sim.scenario import tune as tune_spec
from sim.scenario.tune import Choice, Range, TuneSpecError, parse_cost, parse_dimension
from tests.helpers import MAGNA, write_scenario


def test_space_entries_read_ranges_with_units_log_and_int_and_choices():
    assert parse_dimension("lock.timeout=10s..120s") == Range(key="lock.timeout", low=10, high=120, duration=True)
    assert parse_dimension("lock.backoff.cap=200ms..5s:log") == Range(
        key="lock.backoff.cap", low=0.2, high=5, log=True, duration=True
    )
    assert parse_dimension("workers.count=4..64:int") == Range(key="workers.count", low=4, high=64, integer=True)
    assert parse_dimension("lock.fair=true,false") == Choice(key="lock.fair", values=("true", "false"))


def test_setting_names_and_values_follow_the_sweep_grid_rules():
    assert tune_spec.SETTING_KEY.pattern == GRID_KEY.pattern
    assert tune_spec.SETTING_VALUE.pattern == GRID_VALUE.pattern


@pytest.mark.parametrize(
    "text, message",
    [
        ("lock.timeout", "expected KEY=LOW..HIGH"),
        ("lock.timeout=120s..10s", "the low end must be below the high end"),
        ("lock.backoff.cap=0s..5s:log", "must start above zero"),
        ("workers.count=4..64:int:int", "each once"),
        ("workers.count=4s..64s:int", "whole-number bounds without a unit"),
        ("lock.fair=true", "a choice needs 2 to 32 values"),
        ("lock.fair=true,true", "true given twice"),
        ("lock.timeout=soon..later", "is not a duration"),
        ("../x=1..2", "is not a setting name"),
        ("lock.backoff.kind=$(rm -rf /),fixed", "a value must be letters"),
    ],
)
def test_bad_space_entries_say_why(text, message):
    with pytest.raises(TuneSpecError, match=message.replace("(", r"\(").replace(")", r"\)").replace("$", r"\$")):
        parse_dimension(text)


def test_a_cost_is_a_weighted_sum_of_metrics_and_searched_settings():
    cost = parse_cost("redis_commands*1e-6 + llm_calls*0.01 + 0.5*busy - answered")
    assert [(t.name, t.weight) for t in cost.terms] == [
        ("redis_commands", 1e-6), ("llm_calls", 0.01), ("busy", 0.5), ("answered", -1.0),
    ]  # fmt: skip
    assert [(t.name, t.weight) for t in parse_cost("workers.count + queue_wait_mean_s*0.5").terms] == [
        ("workers.count", 1.0),
        ("queue_wait_mean_s", 0.5),
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        ("__import__('os').system('x')", "cannot read"),
        ("busy_rat", "unknown metric 'busy_rat'"),
        ("busy*", "expected"),
        ("busy*2 + busy*3", "busy appears twice"),
        ("cache_hit_ratio", "more cache_hit_ratio is better: write -cache_hit_ratio"),
        ("busy*1e13", "beyond"),
        ("", "empty"),
        ("busy" + " + busy" * 300, "longer than 400 characters"),
    ],
)
def test_bad_costs_say_why_and_nothing_is_evaluated(text, message):
    with pytest.raises(TuneSpecError, match=message.replace("(", r"\(").replace("*", r"\*").replace("+", r"\+")):
        parse_cost(text)


def test_the_advice_for_a_cost_that_is_better_larger_is_one_the_command_line_takes(tmp_path, capsys):
    """`--objective answered` advised "write -answered", which argparse then refused (expected one argument)."""
    import re
    import shlex

    from sim.cli import build_parser, main

    assert main(["tune", str(MAGNA), "--space", "lock.timeout=10s..60s", "--objective", "answered"]) == 2
    advice = re.search(r"on the command line (\S+)", capsys.readouterr().err)
    assert advice is not None
    args = build_parser().parse_args(["tune", str(MAGNA), *shlex.split(advice.group(1).rstrip(":"))])
    assert args.objective == ["-answered"]
    assert parse_cost(args.objective[0]).terms[0].weight == -1.0


def test_a_choice_spelling_one_setting_twice_is_refused_before_any_run():
    from sim.tune.space import check_corners

    scenario = load_scenario(MAGNA)
    with pytest.raises(ScenarioError, match=r"\[tune\]space: lock.timeout=30s and lock.timeout=30.0s are the same"):
        check_corners(scenario, "after", (parse_dimension("lock.timeout=30s,30.0s"),))


def tune_file(tmp_path, section):
    return write_scenario(
        tmp_path,
        open(MAGNA).read() + "\n[tune]\n" + section,
        "tuned.toml",
    )


@pytest.mark.parametrize(
    "section, message",
    [
        ('space = ["lock.timeout=1s..60s"]', "[tune]objectives: is required"),
        ('space = []\nobjectives = ["busy"]', "[tune]space: needs at least one setting"),
        ('space = ["lock.timeout=1s..60s"]\nobjectives = ["busy"]\ntrials = 0', "[tune]trials: must be >= 1"),
        ('space = ["lock.timeout=1s..60s"]\nobjectives = ["busy"]\ntrials = 10001', "[tune]trials: must be <= 10000"),
        ('space = ["lock.timeout=1s..60s"]\nobjectives = ["busy"]\nbudget = "8000h"', "[tune]budget: must be at most"),
        ('space = ["lock.timeout=1s..60s"]\nobjectives = ["busy"]\nvariant = "nope"', "[tune]variant: no variant"),
        ('space = ["lock.timeout=1s..60s"]\nobjectives = ["workers.count"]', "not a numeric range of the space"),
        ('space = ["lock.timeout=1s..60s"]\nobjectives = ["busy"]\nconstraints = ["x<1"]', "[tune]constraints:"),
        ('space = ["lock.timeout=1s..60s"]\nobjectives = ["busy"]\ndelta = 0', "[tune]delta: must be greater"),
        ('space = ["lock.timeout=1s..60s"]\nobjectives = ["busy"]\nseed = 3', "[tune]seed: unknown key"),
    ],
)
def test_a_bad_tune_section_names_its_key(tmp_path, section, message):
    with pytest.raises(ScenarioError) as error:
        load_scenario(tune_file(tmp_path, section))
    assert message in str(error.value)


def test_a_tune_section_is_read_into_the_scenario(tmp_path):
    scenario = load_scenario(
        tune_file(
            tmp_path,
            'variant = "after"\nspace = ["lock.timeout=10s..60s", "lock.fair=true,false"]\n'
            'objectives = ["latency_p95_s"]\nconstraints = ["busy_rate<0.01"]\ntrials = 7\nbudget = "2m"\n',
        )
    )
    tune = scenario.tune
    assert (tune.variant, tune.trials, tune.budget, len(tune.space), tune.constraints[0].metric) == (
        "after", 7, 120.0, 2, "busy_rate",
    )  # fmt: skip


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--space", "lock.timeout=60s..10s"], "the low end must be below"),
        (["--space", "lock.timeout=10s..60s"], "[tune]objectives / --objective: needs an objective"),
        (["--space", "lock.timeout=10s..60s", "--objective", "busy", "--variant", "nope"], "no variant 'nope'"),
        (["--space", "lock.timeout=10s..60s", "--objective", "busy", "--trials", "0"], "--trials: must be"),
        (["--space", "lock.timeout=10s..60s", "--objective", "busy", "--budget", "soon"], "--budget: expected"),
        (["--space", "lock.backoff.cap=1ms..5s", "--objective", "busy"], "[tune]space at lock.backoff.cap="),
        (["--space", "lock.timeout=10s..60s", "--objective", "busy", "--replications", "1"], "at least 2"),
    ],
)
def test_bad_flags_are_exit_2_before_any_simulation(tmp_path, capsys, flags, message):
    code = main(["tune", MAGNA, "--out", str(tmp_path), "--quiet", *flags])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "magna-tune").exists()
