"""Run one command and print, as one JSON line, its wall time, exit code and peak memory.

    python bench/measure.py [--stdout FILE] -- COMMAND [ARG]...

Run this in a fresh process per measurement: RUSAGE_CHILDREN's maxrss is the largest of all
waited-for children of this process, so one child per wrapper makes it that child's own
peak. The child's stdout goes to FILE (default: discarded); the tail of its stderr is kept
for error reports.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

STDERR_TAIL = 2000


def main(argv: list[str]) -> int:
    stdout_path = None
    if argv[:1] == ["--stdout"]:
        stdout_path, argv = argv[1], argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("usage: measure.py [--stdout FILE] -- COMMAND [ARG]...", file=sys.stderr)
        return 2
    with open(stdout_path or os.devnull, "wb") as stdout:
        started = time.perf_counter()
        completed = subprocess.run(argv, stdout=stdout, stderr=subprocess.PIPE)
        wall = time.perf_counter() - started
    # Linux reports ru_maxrss in KiB. CPU seconds (user + system, the child's and its own
    # children's) hold up on a loaded machine, where wall time measures the neighbours.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    stderr = completed.stderr.decode("utf-8", "replace")[-STDERR_TAIL:]
    result = {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rc": completed.returncode,
        "peak_mib": usage.ru_maxrss / 1024,
    }
    print(json.dumps({**result, "stderr": stderr}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
