"""--scheduler: a malformed address, or tls:// without certificates, is one line and exit 2 before anything
runs (Dask's own ValueError and TypeError were internal errors, exit 4)."""

from __future__ import annotations

import pytest

from sim.cli import main
from sim.core.errors import ArgumentError
from sim.experiment.cluster import check_address
from tests.helpers import MAGNA

BAD = {
    "garbage": "expected SCHEME://HOST:PORT such as tcp://10.0.0.5:8786",
    "tcp://127.0.0.1:abc": "expected SCHEME://HOST:PORT",
    "tcp://127.0.0.1": "expected SCHEME://HOST:PORT",
    "tcp://127.0.0.1:99999": "the port must be from 1 to 65535",
    "udp://127.0.0.1:8786": "the scheme must be one of tcp, tls, ws, wss, got 'udp'",
    "tls://127.0.0.1:8786": "tls:// needs Dask's TLS certificates (distributed.comm.tls.ca-file",
    "tcp://evil\n.host:8786": "expected SCHEME://HOST:PORT",
    "tcp://" + "a" * 400 + ":1": "expected SCHEME://HOST:PORT",
}


@pytest.mark.parametrize("command", ["compare", "sweep", "tune"])
@pytest.mark.parametrize("address", list(BAD))
def test_a_bad_scheduler_address_is_one_line_and_exit_2(tmp_path, capsys, command, address):
    extra = {"sweep": ["--grid", "lock.timeout=30s,60s"], "tune": ["--space", "lock.timeout=10s..60s"]}.get(command, [])
    args = [command, str(MAGNA), *extra, "--executor", "dask", "--scheduler", address, "--out", str(tmp_path)]
    assert main([*args, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and BAD[address] in err and "\x1b" not in err
    assert err.startswith("sim: error: --scheduler ")
    assert not list(tmp_path.iterdir())  # refused before any folder was prepared


@pytest.mark.parametrize(
    "address", ["tcp://127.0.0.1:8786", "10.0.0.5:8786", "ws://sched.example.org:80", "tcp://[::1]:8786"]
)
def test_a_well_formed_address_passes(address):
    check_address(address)


def test_tls_passes_once_dask_has_its_certificates(tmp_path):
    import dask.config

    with pytest.raises(ArgumentError):
        check_address("tls://127.0.0.1:8786")
    settings = {"distributed.comm.tls.ca-file": str(tmp_path / "ca.pem"), "distributed.comm.tls.client.cert": "c.pem"}
    with dask.config.set(settings):
        check_address("tls://127.0.0.1:8786")
