"""`--executor dask --scheduler ADDRESS`: the address checked before anything runs.

Dask reads a malformed address (`garbage`, `tcp://host:abc`) as a ValueError and a `tls://`
address without certificates as a TypeError, both deep inside its client: they were internal
errors (exit 4). Here they are one line naming `--scheduler`, exit 2. Whether a scheduler
answers at that address is only known when the client connects (a timeout is exit 2 too).
"""

from __future__ import annotations

import argparse
import re

from sim.core.errors import ArgumentError

SCHEMES = ("tcp", "tls", "ws", "wss")  # what Dask's client connects over (ucx and inproc are not for a cluster)
ENCRYPTED = ("tls", "wss")
MAX_ADDRESS = 300
EXAMPLE = "tcp://10.0.0.5:8786"
_ADDRESS = re.compile(
    r"(?:(?P<scheme>[a-z]+)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(?P<port>\d{1,5})"
)
TLS_KEYS = ("distributed.comm.tls.ca-file", "distributed.comm.tls.client.cert")


def check_executor(args: argparse.Namespace) -> None:
    """`--executor dask` needs a well-formed `--scheduler`, and `--scheduler` needs `--executor dask`."""
    if args.executor == "dask" and not args.scheduler:
        raise ArgumentError(f"--executor dask needs --scheduler ADDRESS (e.g. {EXAMPLE})")
    if args.scheduler is not None and args.executor != "dask":  # silently running locally would mislead
        raise ArgumentError("--scheduler needs --executor dask (without it, replications run on this machine)")
    if args.scheduler is not None:
        check_address(args.scheduler)


def check_address(address: str) -> None:
    """SCHEME://HOST:PORT (SCHEME tcp by default), with Dask's TLS settings for an encrypted scheme."""
    shown = f"--scheduler {address[:MAX_ADDRESS]!r}"  # repr: control characters escaped, one line
    found = _ADDRESS.fullmatch(address) if len(address) <= MAX_ADDRESS else None
    if found is None:
        raise ArgumentError(f"{shown}: expected SCHEME://HOST:PORT such as {EXAMPLE}")
    scheme = found["scheme"] or "tcp"
    if scheme not in SCHEMES:
        raise ArgumentError(f"{shown}: the scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
    if not 1 <= int(found["port"]) <= 65535:
        raise ArgumentError(f"{shown}: the port must be from 1 to 65535")
    if scheme in ENCRYPTED:
        missing = [key for key in TLS_KEYS if not _dask_setting(key)]
        if missing:
            raise ArgumentError(
                f"{shown}: {scheme}:// needs Dask's TLS certificates ({', '.join(missing)} in the Dask "
                "configuration, e.g. DASK_DISTRIBUTED__COMM__TLS__CA_FILE)"
            )


def _dask_setting(key: str) -> object:
    """A Dask configuration value; None without one (or without Dask: the executor then says it is missing)."""
    try:
        import dask.config
        import distributed  # noqa: F401 - it adds the distributed.* defaults to the configuration
    except ImportError:
        return "dask is not installed"  # not a TLS problem: the executor refuses the missing extra itself
    return dask.config.get(key, None)
