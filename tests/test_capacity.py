"""Worker processes: never more than the cores, nor than the available memory holds; said on stderr."""

from __future__ import annotations

from sim import experiment
from sim.cli import main
from sim.experiment import capacity
from sim.experiment.capacity import MIB, available_memory, worker_processes


def test_more_processes_than_cores_are_lowered_to_the_cores_and_said_so(monkeypatch):
    monkeypatch.setattr(capacity, "cores", lambda: 2)
    monkeypatch.setattr(capacity, "available_memory", lambda: 64 * 2**30)
    workers = worker_processes(1024, 100_000)
    assert workers.count == 2
    assert workers.note == "--processes 1024: 2 worker processes (this machine lets sim use 2 cores)"
    assert worker_processes(2, 100_000) == capacity.Workers(count=2, note="")
    assert worker_processes(1, 100_000).count == 1  # never raised
    assert worker_processes(None, 100_000) == capacity.Workers(count=2, note="")  # the default: one per core


def test_workers_are_lowered_to_what_the_memory_holds(monkeypatch):
    monkeypatch.setattr(capacity, "cores", lambda: 64)
    monkeypatch.setattr(capacity, "available_memory", lambda: 2 * 2**30)
    # 3 M messages: 100 MiB + 3 M × 272 B ≈ 878 MiB per worker; 2 GiB hold two
    workers = worker_processes(16, 3_000_000)
    assert workers.count == 2 and "2.0 GiB of memory is available" in workers.note and "878 MiB" in workers.note
    assert worker_processes(None, 3_000_000).note.startswith("one worker per core: 2 worker processes")
    monkeypatch.setattr(capacity, "available_memory", lambda: 10 * MIB)
    assert worker_processes(8, 3_000_000).count == 1  # at least one, whatever the memory
    monkeypatch.setattr(capacity, "available_memory", lambda: None)  # not Linux: the cores alone
    assert worker_processes(16, 3_000_000).count == 16


def test_available_memory_is_the_least_of_meminfo_and_a_cgroup_limit(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       32000000 kB\nMemAvailable:    8000000 kB\n")
    cgroups = tmp_path / "cgroup"
    assert available_memory(meminfo, cgroups) == 8_000_000 * 1024
    (cgroups / "memory").mkdir(parents=True)
    (cgroups / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # v1 without a limit
    (cgroups / "memory" / "memory.usage_in_bytes").write_text("1000\n")
    assert available_memory(meminfo, cgroups) == 8_000_000 * 1024
    (cgroups / "memory.max").write_text("3000000000\n")  # v2: 3 GB, of which 1 GB is used
    (cgroups / "memory.current").write_text("1000000000\n")
    assert available_memory(meminfo, cgroups) == 2_000_000_000
    assert available_memory(tmp_path / "none", tmp_path / "none") is None


def test_sim_compare_with_1024_processes_starts_no_more_workers_than_cores(tmp_path, capsys, monkeypatch):
    """--processes 1024 started 1,024 workers on a 2-core machine (18.7 GB)."""
    monkeypatch.setattr(capacity, "cores", lambda: 2)
    started = []
    real = experiment._map

    def spy(jobs, processes, job=experiment._run_job):
        started.append(processes)
        return real(jobs, processes, job)

    monkeypatch.setattr(experiment, "_map", spy)
    args = ["compare", "magna", "--processes", "1024", "--replications", "2", "--quiet", "--out", str(tmp_path)]
    assert main(args) == 0
    assert started and max(started) == 2
    assert (
        "sim: note: --processes 1024: 2 worker processes (this machine lets sim use 2 cores)" in capsys.readouterr().err
    )
