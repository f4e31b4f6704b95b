"""Strings sim writes into TOML files load back as they were (a fitted scenario named `😀.toml` could not)."""

import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.core.text import toml_string


@pytest.mark.parametrize("text", ["😀", "𝔸-fit", "a\x7fb", 'quote " and \\ backslash', "new\nline\x1b[2J"])
def test_a_string_sim_writes_loads_back_unchanged(text):
    assert tomllib.loads(f"k = {toml_string(text)}")["k"] == text


@given(st.text(st.characters(blacklist_categories=("Cs",))))  # a str of surrogates cannot be written as UTF-8
def test_any_text_loads_back_unchanged(text):
    assert tomllib.loads(f"k = {toml_string(text)}")["k"] == text
