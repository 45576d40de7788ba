"""Benchmark: the history index (``.cache/history.sqlite``) on the 10,000-record, 14,001-commit repository.

    python bench/historyindex.py [--repeat 3] [--keep DIR]

Builds ``bench/bigrepo.py``'s repository, then times as processes, best of
``--repeat`` (wall and CPU seconds of the child), each against a baseline
timed in the same run:

(1) ``python build.py audit --format json`` with a cold index (none yet) and a
    warm one, against ``git log --name-status`` of the whole repository; also
    the audit without its ``check`` part (the command with ``check`` stubbed
    out, so the history's share can be combined with a check cache), and the
    audit without the index (``LIAISON_HISTORY_INDEX=0``);
(2) ``python build.py history <one record>`` with a warm index, against the
    same ``git log`` and against ``python build.py --help`` (the floor: the
    interpreter and the command line's imports);
(3) the index brought up to date after one new commit (``history`` of a record
    right after the commit, against ``history`` with nothing new).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bigrepo import big_repository  # noqa: E402

# The audit command with its check stubbed out (an empty verdict): the history's share of the audit.
NO_CHECK = (
    "import sys; sys.path.insert(0, {root!r}); "
    "from liaison.core.checks import CheckResult; from liaison.git.verdict import verdict_of; "
    "import liaison.outputs.auditlog as log; "
    "log.verdict = lambda *a, content_only=False, **k: verdict_of(CheckResult([], [], []), content_only); "
    "from liaison.cli import main; sys.argv = ['build.py', *sys.argv[1:]]; main()"
)


def timed(command: list[str], env: dict | None = None, cwd: Path | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of ``command``; its output is discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env={**os.environ, **(env or {})}, cwd=cwd)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best(command: list[str], repeat: int, env: dict | None = None, cwd: Path | None = None) -> tuple[float, float]:
    runs = [timed(command, env, cwd) for _ in range(repeat)]
    return min(w for w, _ in runs), min(c for _, c in runs)


def line(name: str, measured: tuple[float, float], base: tuple[float, float], goal: str = "") -> str:
    wall, cpu = measured
    ratio = f"{wall / base[0]:5.2f}× wall, {cpu / base[1]:5.2f}× CPU"
    return f"{name:<58} {wall:6.2f} s wall {cpu:6.2f} s CPU  = {ratio}  {goal}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build the repository here and keep it (must not exist)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root, commits = big_repository(args.keep or Path(tmp) / "repo")
        run(root, commits, args.repeat)


def run(root: Path, commits: int, repeat: int) -> None:
    build = [sys.executable, str(ROOT / "build.py"), "--root", str(root)]
    index = root / ".cache" / "history.sqlite"
    record = sorted((root / "records" / "2015").iterdir())[0].stem
    git_log = ["git", "-C", str(root), "log", "--name-status"]
    print(f"repository: {commits} commits; load average {Path('/proc/loadavg').read_text().split()[:3]}")

    log = best(git_log, repeat)
    audit = [*build, "audit", "--format", "json"]
    no_check = [sys.executable, "-c", NO_CHECK.format(root=str(ROOT)), "--root", str(root), "audit", "--format", "json"]
    without = timed(audit, {"LIAISON_HISTORY_INDEX": "0"})
    without_no_check = timed(no_check, {"LIAISON_HISTORY_INDEX": "0"})
    index.unlink(missing_ok=True)
    cold = timed(audit)
    size = index.stat().st_size
    warm = best(audit, repeat)
    warm_no_check = best(no_check, repeat)
    index.unlink()
    cold_no_check = timed(no_check)
    print(f"baseline git log --name-status of the whole repository: {log[0]:.2f} s wall, {log[1]:.2f} s CPU")
    print("(1) audit --format json")
    print(line("    no index (LIAISON_HISTORY_INDEX=0)", without, log))
    print(line("    cold index (built in this run)", cold, log))
    print(line("    warm index", warm, log, "goal ≤ 3×"))
    print(line("    without check, no index", without_no_check, log))
    print(line("    without check, cold index", cold_no_check, log))
    print(line("    without check, warm index", warm_no_check, log, "goal ≤ 3×"))
    print(f"    index size {size / 1e6:.1f} MB")

    history = best([*build, "history", record], repeat)
    floor = best([*build, "--help"], repeat)
    print(f"(2) history {record}, warm index")
    print(line("    history of one record", history, log, "goal < 0.3 s"))
    print(line("    python build.py --help (the floor), same baseline", floor, log))
    print(f"    above the floor: {history[0] - floor[0]:.2f} s wall, {history[1] - floor[1]:.2f} s CPU")

    updates = []
    for n in range(repeat):
        path = root / "records" / "2015" / f"{record}.yaml"
        path.write_text(path.read_text(encoding="utf-8") + f"# 第 {n} 次\n", encoding="utf-8")
        env = {
            "GIT_AUTHOR_NAME": "b",
            "GIT_AUTHOR_EMAIL": "b@e",
            "GIT_COMMITTER_NAME": "b",
            "GIT_COMMITTER_EMAIL": "b@e",
        }
        subprocess.run(
            ["git", "-C", str(root), "commit", "-q", "-am", "一次修改"], check=True, env={**os.environ, **env}
        )
        updates.append(timed([*build, "history", record]))
    update = (min(w for w, _ in updates), min(c for _, c in updates))
    print("(3) index update after one new commit")
    print(line("    history of one record, one commit new", update, history, "(against history with nothing new)"))
    print(f"    the update itself: {update[0] - history[0]:.2f} s wall, {update[1] - history[1]:.2f} s CPU")


if __name__ == "__main__":
    main()
