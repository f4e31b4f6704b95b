"""Bundled scenarios by name: a bare name finds the checkout's scenarios/ file; a path wins."""

import pytest

from sim.core.errors import ScenarioError
from sim.scenario import bundled


def test_a_bare_name_is_the_bundled_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert bundled.resolve("peak-hour") == str(bundled.FOLDER / "peak-hour.toml")


def test_the_default_bench_scenario_is_bundled():
    from sim.cli import DEFAULT_BENCH

    assert DEFAULT_BENCH in bundled.names()


def test_an_existing_path_wins_over_a_bundled_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "magna").write_text("")
    assert bundled.resolve("magna") == "magna"


@pytest.mark.parametrize("argument", ["missing.toml", "../magna", "dir/magna", "magna.toml"])
def test_what_is_not_a_bare_name_is_left_to_the_loader(tmp_path, monkeypatch, argument):
    monkeypatch.chdir(tmp_path)
    assert bundled.resolve(argument) == argument


def test_an_unknown_name_lists_the_bundled_ones(tmp_path):
    (tmp_path / "b.toml").write_text("")
    (tmp_path / "a.toml").write_text("")
    with pytest.raises(ScenarioError, match=r"^zzz: no such scenario file, nor a bundled scenario \(bundled: a, b\)$"):
        bundled.resolve("zzz", tmp_path)


def test_without_the_checkouts_folder_the_error_says_names_need_it(tmp_path):
    with pytest.raises(ScenarioError, match="bundled names need the source checkout"):
        bundled.resolve("magna", tmp_path / "gone")


def test_a_name_too_long_for_the_file_system_is_left_to_the_loader():
    assert bundled.resolve("x" * 5000) == "x" * 5000
