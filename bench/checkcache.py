"""Benchmark: ``check`` with the check cache on the generated 10,000-record, 14,001-commit repository.

    python bench/checkcache.py [--repeat 5]

Rows, each a fresh ``python build.py check`` process (CPU = user + system
of the process, from the kernel; wall beside it), best and median of
``--repeat`` runs:

- baseline: libyaml's CSafeLoader parse (``yaml.load(text, Loader=yaml.CSafeLoader)``)
  of the same record files, in this process, in the same run;
- ``check`` with the cache off (``LIAISON_CHECK_CACHE=off``): what it cost before;
- (1) ``check`` cold: no ``.cache/`` (removed before each run), so it also writes the cache;
- (2) ``check`` again, nothing changed;
- (3) ``check`` after one record changed (an uncommitted edit of another record each run).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bigrepo import big_repository  # noqa: E402


def command(root: Path, env: dict[str, str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one ``python build.py check`` process."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "build.py"), "--root", str(root), "check"],
        stdout=subprocess.DEVNULL,
        env=env,
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"check failed ({process.returncode}) in {root}")
    return usage.ru_utime + usage.ru_stime, wall


def parse_all(files: list[Path]) -> tuple[float, float]:
    start_cpu, start = time.process_time(), time.perf_counter()
    for path in files:
        yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
    return time.process_time() - start_cpu, time.perf_counter() - start


def row(name: str, runs: list[tuple[float, float]], baseline: float | None, against: str) -> str:
    cpus = [cpu for cpu, _ in runs]
    walls = [wall for _, wall in runs]
    median = statistics.median(cpus)
    ratio = f"{median / baseline:.2f}× {against}" if baseline else ""
    return f"| {name} | {min(cpus):.2f} s | {median:.2f} s | {statistics.median(walls):.2f} s | {ratio} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "LIAISON_CHECK_CACHE"}
    off = {**env, "LIAISON_CHECK_CACHE": "off"}

    with tempfile.TemporaryDirectory() as tmp:
        root, commits = big_repository(Path(tmp) / "repo")
        files = sorted((root / "records").glob("*/*.yaml"))
        cache = root / ".cache"
        print(
            f"{len(files)} records, {commits} commits; load average before: {Path('/proc/loadavg').read_text().strip()}"
        )

        baseline, uncached, cold, warm, one = [], [], [], [], []
        for _ in range(args.repeat):  # interleaved, so a drift of the machine's speed touches every row alike
            baseline.append(parse_all(files))
            uncached.append(command(root, off))
            shutil.rmtree(cache, ignore_errors=True)
            cold.append(command(root, env))
            warm.append(command(root, env))
        for n in range(args.repeat):
            target = files[n * 997 % len(files)]
            text = target.read_text(encoding="utf-8")
            target.write_text(text.replace("place: ", "place: 改", 1), encoding="utf-8")
            one.append(command(root, env))
        size = sum(f.stat().st_size for f in cache.iterdir()) / 1e6
        loadavg = Path("/proc/loadavg").read_text().strip()

    parse = statistics.median(cpu for cpu, _ in baseline)
    cold_median = statistics.median(cpu for cpu, _ in cold)
    print(f"\nCPU seconds (user + system), best and median of {args.repeat}; load average after: {loadavg}\n")
    print("| what | CPU best | CPU median | wall median | ratio (medians) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(row("baseline: CSafeLoader parse of the same files (in process)", baseline, None, ""))
    print(row("`check`, cache off (`LIAISON_CHECK_CACHE=off`)", uncached, parse, "the parse"))
    print(row("(1) `check` cold: no `.cache/`, writes the cache", cold, parse, "the parse"))
    print(row("(2) `check` again, nothing changed", warm, cold_median, "(1)"))
    print(row("(3) `check` after one record changed", one, cold_median, "(1)"))
    uncached_median = statistics.median(cpu for cpu, _ in uncached)
    print(f"\nwriting the cache costs the cold run {cold_median / uncached_median:.2f}× the uncached check;")
    print(f"the cache file: {size:.1f} MB")


if __name__ == "__main__":
    main()
