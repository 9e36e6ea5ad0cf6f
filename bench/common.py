"""What every benchmark script shares: the result table, peak RSS, a free loopback port."""

from __future__ import annotations

import resource
import socket

Row = tuple[str, str, str, str]  # figure, value, goal, ratio


def print_table(rows: list[Row]) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  {'value':>12}  {'goal':>12}  ratio")
    for name, val, goal, ratio in rows:
        print(f"{name:<{width}}  {val:>12}  {goal:>12}  {ratio}")


def verdict(missed: list[str]) -> int:
    """Say which goals were missed (or that all were met); the script's exit code."""
    print(f"GOAL MISSED: {', '.join(missed)}" if missed else "all goals met")
    return 1 if missed else 0


def peak_rss_mb() -> float:
    """This process's peak resident set so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
