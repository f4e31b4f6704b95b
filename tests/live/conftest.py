"""A real redis-server (Debian's package; .ci/run installs it) on a free loopback port."""

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass

import pytest
import redis


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    port: int
    process: subprocess.Popen
    client: redis.Redis


def _start(folder, *extra: str) -> Server:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (.ci/run installs Debian's package)")
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder),
         *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    return Server(url, port, process, client)


def _stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.kill()
    server.process.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    server = _start(tmp_path_factory.mktemp("redis"))
    yield server.url
    _stop(server)


@pytest.fixture
def private_redis(tmp_path):
    """A server of the test's own (it may kill it or fill its memory)."""
    server = _start(tmp_path)
    yield server
    _stop(server)
