"""`sim trace`: customer and tax ids become salted hashes; times, sessions and outcomes survive."""

from __future__ import annotations

import csv
from pathlib import Path

from sim.cli import main
from sim.run.workload import arrivals
from sim.scenario import load_scenario
from tests.helpers import ROOT, sim_process, write_scenario

LOG = ROOT / "examples" / "logs" / "messages.csv"


def read(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_ids_are_hashed_consistently_and_nothing_else_changes(tmp_path):
    salt = tmp_path / "salt"
    salt.write_text("a secret of more than sixteen bytes\n")
    out = tmp_path / "trace.csv"
    assert main(["trace", str(LOG), "--out", str(out), "--salt-file", str(salt)]) == 0
    before, after = read(LOG), read(out)
    assert len(before) == len(after)
    mapping = {b["customer"]: a["customer"] for b, a in zip(before, after, strict=True)}
    assert len(set(mapping.values())) == len(mapping)  # one pseudonym per customer, none shared
    assert all(a["customer"] == mapping[b["customer"]] for b, a in zip(before, after, strict=True))
    assert all(a["tax_id"] == a["customer"] for a in after)  # the tax id was the customer: still equal
    assert not set(mapping) & set(out.read_text().replace(",", "\n").splitlines())  # no id left
    keep = ("outcome", "reply_s", "cache")
    assert [[b[k] for k in keep] for b in before] == [[a[k] for k in keep] for a in after]
    again = tmp_path / "again.csv"
    assert main(["trace", str(LOG), "--out", str(again), "--salt-file", str(salt)]) == 0
    assert again.read_text() == out.read_text()  # the same salt: the same pseudonyms


def test_an_anonymised_trace_replays_the_same_instants_and_sessions(tmp_path):
    out = tmp_path / "trace.csv"
    assert main(["trace", str(LOG), "--out", str(out)]) == 0  # a random salt, forgotten
    (tmp_path / "messages.csv").write_bytes(LOG.read_bytes())
    plain = load_scenario(write_scenario(tmp_path, '[workload]\ntrace = "messages.csv"\n', "a.toml"))
    hashed = load_scenario(write_scenario(tmp_path, '[workload]\ntrace = "trace.csv"\n', "b.toml"))
    one, other = list(arrivals(plain, 0)), list(arrivals(hashed, 0))
    assert [a.at for a in one] == [a.at for a in other]
    assert len({a.burst for a in one}) == len({a.burst for a in other})
    assert {a.customer for a in one}.isdisjoint({a.customer for a in other})


def test_a_short_or_unreadable_salt_and_a_bad_target_are_exit_2(tmp_path):
    (tmp_path / "short").write_text("tiny")
    cases = [
        (["--salt-file", str(tmp_path / "short")], "at least 16 bytes of salt"),
        (["--salt-file", "/dev/zero"], "not a regular file"),
        (["--salt-file", str(tmp_path / "none")], "no such file"),
    ]
    for extra, message in cases:
        done = sim_process("trace", LOG, "--out", tmp_path / "t.csv", *extra)
        assert done.returncode == 2 and message in done.stderr and done.stderr.count("\n") == 1
    assert sim_process("trace", LOG, "--out", tmp_path / "t.toml").returncode == 2
    assert sim_process("trace", LOG, "--out", LOG).returncode == 2
    assert LOG.read_text().startswith("timestamp,customer")


def test_the_salt_file_is_never_the_output_and_an_unwritable_out_is_exit_2(tmp_path):
    salt = tmp_path / "salt.csv"
    salt.write_bytes(b"0123456789abcdef0123456789abcdef")
    done = sim_process("trace", LOG, "--out", salt, "--salt-file", salt)
    assert done.returncode == 2 and "is one of the input files" in done.stderr
    assert salt.read_bytes() == b"0123456789abcdef0123456789abcdef"  # the salt survives
    for out in ("/proc/x.csv", str(tmp_path / ("a" * 300 + ".csv"))):
        done = sim_process("trace", LOG, "--out", out)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
