"""Durations as Redis wants them."""

from __future__ import annotations


def milliseconds(seconds: float) -> int:
    """`seconds` as a whole number of milliseconds for PX and PEXPIRE, at least 1.

    Redis refuses an expire time of 0 ms ("invalid expire time"), so a duration
    that rounds to 0 becomes the shortest one Redis accepts instead of an error.
    """
    return max(1, round(seconds * 1000))
