"""Limits that hold: files, run size, weights and nesting are refused in one line before anything runs."""

import os

import pytest

from sim.scenario import ScenarioError, load_scenario
from sim.scenario.limits import MAX_BURSTS
from sim.scenario.load import MAX_CSV_BYTES, MAX_CSV_ROWS, MAX_SCENARIO_BYTES, expected_bursts
from tests.helpers import write_scenario as write

SCRIPT = """
[workload]
[[workload.script]]
customer = "a"
messages = ["0s"]
"""


def refused(path) -> str:
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    message = str(error.value)
    assert "\n" not in message
    return message


# --- the scenario file itself ---------------------------------------------------------------


def test_toml_nested_3000_deep_is_a_one_line_error_not_a_recursion_traceback(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 3000 + "]" * 3000 + "\n")
    assert refused(path) == f"{path}: invalid TOML: tables or arrays nested too deep"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_as_scenario_is_refused_without_waiting_for_a_writer(tmp_path):
    path = tmp_path / "pipe.toml"
    os.mkfifo(path)
    assert refused(path) == f"{path}: not a regular file"


@pytest.mark.parametrize("special", ["/dev/zero", "DIR"])
def test_a_device_or_a_directory_as_scenario_is_refused(tmp_path, special):
    path = tmp_path if special == "DIR" else special
    if not os.path.exists(path):
        pytest.skip(f"{path} does not exist here")
    assert refused(path) == f"{path}: not a regular file"


def test_a_scenario_file_over_the_size_limit_is_refused_unread(tmp_path):
    path = tmp_path / "big.toml"
    path.write_text(SCRIPT + "#" * MAX_SCENARIO_BYTES)
    assert refused(path) == f"{path}: larger than the limit of {MAX_SCENARIO_BYTES:,} bytes"


def test_a_scenario_that_is_not_utf8_says_so_without_quoting_it(tmp_path):
    path = tmp_path / "s.toml"
    path.write_bytes(b"[workload]\n# \xff secret\n")
    message = refused(path)
    assert "not UTF-8" in message and "secret" not in message


@pytest.mark.parametrize("seed", [-1, 2**63])
def test_scenario_seed_must_be_a_63_bit_natural_number(tmp_path, seed):
    message = refused(write(tmp_path, f"[scenario]\nseed = {seed}\n" + SCRIPT))
    assert f"[scenario]seed: must be {'>= 0' if seed < 0 else 'below 2**63'}, got {seed}" in message


@pytest.mark.parametrize(
    ("key", "limit"), [("[scenario]seed", "must be below 2**63"), ("[lock]log_every", "must be <= 1e+09")]
)
def test_a_4000_digit_integer_is_refused_by_its_keys_own_limit(tmp_path, key, limit):
    """A 4,000-digit seed was refused as "at most 1.79769e+308 (a float)": the wrong limit."""
    section, name = key[1:].split("]")
    message = refused(write(tmp_path, f"[{section}]\n{name} = {'9' * 4000}\n" + SCRIPT))
    assert f"{key}: {limit}, got an integer of about 4,0" in message and "1.79769e+308" not in message


def test_a_population_too_large_for_numpy_is_a_clean_error(tmp_path):
    text = "[scenario]\nduration = '1m'\n[workload]\ncustomers_per_hour = 60\npopulation = 100000000000000000000\n"
    assert "[workload]population: must be <= 1e+09" in refused(write(tmp_path, text))


# --- empirical CSV files --------------------------------------------------------------------


def empirical(tmp_path, csv_name):
    return write(tmp_path, SCRIPT + f"[services]\ncrm = {{ dist = 'empirical', file = '{csv_name}' }}\n")


def test_empirical_csv_that_is_a_fifo_is_refused_before_opening_blocks(tmp_path):
    os.mkfifo(tmp_path / "crm.csv")
    assert "[services.crm]file: crm.csv: not a regular file" in refused(empirical(tmp_path, "crm.csv"))


def test_empirical_csv_that_is_dev_zero_or_a_directory_is_refused(tmp_path):
    (tmp_path / "folder").mkdir()
    assert "folder: not a regular file" in refused(empirical(tmp_path, "folder"))
    if os.path.exists("/dev/zero"):  # outside the scenario's folder, before it could be read
        assert "'/dev/zero' is outside the scenario's folder" in refused(empirical(tmp_path, "/dev/zero"))
    os.mkfifo(tmp_path / "pipe.csv")  # inside, but a read would block forever
    assert "pipe.csv: not a regular file" in refused(empirical(tmp_path, "pipe.csv"))


def test_empirical_csv_over_the_byte_limit_is_refused(tmp_path):
    (tmp_path / "crm.csv").write_text("1\n" * (MAX_CSV_BYTES // 2 + 1))
    assert f"crm.csv: larger than the limit of {MAX_CSV_BYTES:,} bytes" in refused(empirical(tmp_path, "crm.csv"))


def test_empirical_csv_over_the_row_limit_is_refused(tmp_path):
    (tmp_path / "crm.csv").write_text("\n" * MAX_CSV_ROWS + "1\n")
    message = refused(empirical(tmp_path, "crm.csv"))
    assert f"crm.csv has {MAX_CSV_ROWS + 1:,} lines; the limit is {MAX_CSV_ROWS:,}" in message


@pytest.mark.parametrize(
    "value, problem",
    [
        ("1e16", "at most 1000 days"),  # 1e16 + 0.1 == 1e16: the run would never advance
        ("1e308", "at most 1000 days"),
        ("nan", "finite"),
        ("inf", "finite"),
        ("-inf", "finite"),
        ("-0.5", "zero or more"),
        ("5 minutos", "expected seconds"),
    ],
)
def test_empirical_values_must_be_finite_durations_within_the_limit(tmp_path, value, problem):
    (tmp_path / "crm.csv").write_text(f"seconds\n8.5\n{value}\n")
    message = refused(empirical(tmp_path, "crm.csv"))
    assert "crm.csv line 3: " in message and problem in message
    assert value not in message.split("line 3: ")[1]


def test_a_negative_number_on_line_1_is_an_error_not_a_header(tmp_path):
    (tmp_path / "crm.csv").write_text("-5\n8.5\n")
    assert "crm.csv line 1: seconds must be zero or more" in refused(empirical(tmp_path, "crm.csv"))


def test_a_word_on_line_1_is_a_header_and_durations_with_units_count(tmp_path):
    (tmp_path / "crm.csv").write_text("seconds,source\n8.5,prod\n\n2m,prod\n")
    crm = load_scenario(empirical(tmp_path, "crm.csv")).variants[0].services.crm
    assert crm.values == (8.5, 120.0)


def test_an_error_about_a_files_contents_never_echoes_the_line(tmp_path):
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
    message = refused(empirical(tmp_path, str(secret)))
    assert message.endswith("passwd line 2: expected seconds (a number or a duration such as '30s')")
    assert "daemon" not in message and "root" not in message.replace(str(tmp_path), "")


# --- run size -------------------------------------------------------------------------------


def open_workload(rates: str, extra: str = "", duration: str = "24h") -> str:
    return f"[scenario]\nduration = '{duration}'\n[workload]\ncustomers_per_hour = {rates}\n{extra}"


def test_the_burst_limit_counts_the_peak_hour_of_a_daily_curve_not_its_mean(tmp_path):
    curve = "[" + ", ".join(["6000000"] + ["0"] * 23) + "]"  # mean 250,000/h would pass the old check
    message = refused(write(tmp_path, open_workload(curve, duration="1h")))
    assert "[workload]customers_per_hour: over 3600 s the rates give ~6,000,000 bursts" in message


def test_expected_bursts_integrate_the_curve_hour_by_hour():
    from sim.core import distributions as d
    from sim.scenario.model import Surge, Workload

    curve = tuple([100.0] * 12 + [0.0] * 12)
    workload = Workload(sum(curve) / 24, 0, d.FixedCount(1), d.Fixed(1.0), (), curve, (Surge(1800.0, 3600.0, 3.0),))
    base, surges = expected_bursts(workload, 86400 + 6.5 * 3600)
    assert base == pytest.approx(1200 + 650)  # a day of 12 busy hours, then 6.5 busy hours of the next
    assert surges == pytest.approx(2 * 100 * 1.0)


def test_an_hourly_rate_above_the_limit_is_refused_before_multiplying(tmp_path):
    curve = "[" + ", ".join(["1e308"] + ["0"] * 23) + "]"
    assert "[workload]customers_per_hour: must be <=" in refused(write(tmp_path, open_workload(curve)))


def test_the_burst_limit_counts_the_surges(tmp_path):
    surge = "[[workload.surge]]\nstart = '1h'\nduration = '1h'\nmultiplier = 9000\n"
    message = refused(write(tmp_path, open_workload("1000", surge)))
    assert "[workload]surge: the surges add ~8,999,000 bursts to ~24,000" in message
    assert f"the limit is {MAX_BURSTS:,} per run" in message


@pytest.mark.parametrize("multiplier", ["200000", "1e300"])
def test_an_absurd_surge_multiplier_is_a_clean_error(tmp_path, multiplier):
    surge = f"[[workload.surge]]\nstart = '1h'\nduration = '1h'\nmultiplier = {multiplier}\n"
    assert "[workload.surge#1]multiplier: must be <= 10000" in refused(write(tmp_path, open_workload("10", surge)))


# --- weights --------------------------------------------------------------------------------


@pytest.mark.parametrize("weights", ["[1e308, 1e308]", "[0, 0]"])
def test_choice_weights_need_a_finite_positive_sum(tmp_path, weights):
    text = SCRIPT + f"[services]\ninstallation_points = {{ dist = 'choice', values = [1, 2], weights = {weights} }}\n"
    assert "[services.installation_points]weights: the weights must add up to a finite number > 0" in refused(
        write(tmp_path, text)
    )


@pytest.mark.parametrize("weights", [("1e308", "1e308"), ("0", "0")])
def test_mixture_weights_need_a_finite_positive_sum(tmp_path, weights):
    first, second = weights
    text = SCRIPT + (
        "[services]\ncrm = { dist = 'mixture', components = ["
        f"{{ weight = {first}, dist = 'fixed', value = '1s' }}, "
        f"{{ weight = {second}, dist = 'fixed', value = '2s' }}]}}\n"
    )
    assert "[services.crm]components: the weights must add up to a finite number > 0" in refused(write(tmp_path, text))
