"""How many processes a run may use: the CPUs it may run on, shared out between the two
halves of a split run (manifests/split.py) so that neither forks compilers of its own."""

from __future__ import annotations

import contextlib
import os

# Processes the CPUs are shared between (2 in each half of a split run).
_sharers = 1


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity mask (taskset, cgroup cpusets), not
    the machine's count, which would oversubscribe a CI job pinned to one core."""
    getaffinity = getattr(os, "sched_getaffinity", None)
    if getaffinity is not None:
        with contextlib.suppress(OSError):
            return max(1, len(getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def cpus_of_this_process() -> int:
    """This process's share of the usable CPUs (at least one)."""
    return max(1, usable_cpus() // _sharers)


def share_cpus(sharers: int) -> None:
    """From now on this process shares the CPUs with `sharers - 1` others."""
    global _sharers
    _sharers = max(1, sharers)
