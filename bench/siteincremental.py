"""Benchmark: ``python build.py build`` on 10,000 records — full, nothing changed, and after one record changed.

    python bench/siteincremental.py [--records 10000] [--today ../main]

On bench/bigrepo.py's repository (10,000 records, 14,001 commits) with every
PDF in the cache (bench/pdf.py's ``fill_cache``: one sample PDF stored under
every record's key, as the CI render jobs leave it), each command a fresh
process, timed in wall and CPU seconds (the process and its git children):

(a) ``build.py check``, the baseline timed in the same run;
(b) a full build: an empty site store (``.cache/site``) and no ``public/``;
(c) the same build again, nothing changed;
(d) one record changed and committed (its PDF put in the cache, as the render
    job would), then the build: the figure the issue asks to bring under 3 s;
(e) a full build of (d)'s commit into a fresh folder with an empty store, and
    its bytes compared with (d)'s: an incremental build is a full build.

Each build's log line (``LIAISON_LOG_LEVEL=INFO``) splits its time: check and
history (today's cost, which the check cache and the history index remove)
and the rest (keys, files, PDF links, the swap). With ``--today CHECKOUT``
the full build of another checkout (e.g. a worktree of main, before this change) is
timed on a copy of the repository with that checkout's templates.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bigrepo import big_repository  # noqa: E402
from bench.pdf import fill_cache, load  # noqa: E402
from liaison.outputs.pdf import Renderer, record_html  # noqa: E402

PHASE = re.compile(r"(check and history|keys|files|pdfs|swap) ([\d.]+)s \(cpu ([\d.]+)s\)")


def commit(root: Path, message: str, *paths: str) -> None:
    who = ["-c", "user.name=bench", "-c", "user.email=bench@example.edu.cn"]
    subprocess.run(["git", "-C", str(root), "add", *paths], check=True)
    subprocess.run(["git", *who, "-C", str(root), "commit", "-q", "-m", message], check=True)


def prepare(tmp: Path, records: int) -> tuple[Path, Path]:
    root, _ = big_repository(tmp / "repo", records)
    for folder in ("templates", "site"):
        shutil.copytree(ROOT / folder, root / folder)
    commit(root, "模板与站点资源", "templates", "site")
    project, loaded = load(root)
    sample = tmp / "sample.pdf"
    sample.write_bytes(
        Renderer(root / "templates").render(
            loaded[0], record_html(loaded[0], project.schema, project.config, root / "templates")
        )
    )
    fill_cache(root, tmp / "cache", sample)
    return root, sample


def timed(command: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process and its children, stderr)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stderr


def phases(log: str) -> dict[str, tuple[float, float]]:
    return {name: (float(wall), float(cpu)) for name, wall, cpu in PHASE.findall(log)}


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def report(label: str, wall: float, cpu: float, log: str, check_cpu: float) -> None:
    parts = phases(log)
    first_wall, first_cpu = parts.get("check and history", (0.0, 0.0))
    rest = {k: v for k, v in parts.items() if k != "check and history"}
    rest_wall, rest_cpu = sum(w for w, _ in rest.values()), sum(c for _, c in rest.values())
    print(
        f"{label:34s} {wall:6.1f} s wall {cpu:6.1f} s cpu ({cpu / check_cpu:4.1f}x check) | "
        f"check+history {first_wall:5.1f} s ({first_cpu:4.1f} cpu) | rest {rest_wall:4.2f} s ({rest_cpu:4.2f} cpu): "
        + ", ".join(f"{k} {c:.2f}" for k, (_, c) in rest.items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument(
        "--today",
        type=Path,
        help="another checkout whose full build to time (e.g. a worktree of main: git worktree add ../main main)",
    )
    args = parser.parse_args()
    env = {**os.environ, "LIAISON_LOG_LEVEL": "INFO"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root, sample = prepare(tmp, args.records)
        cli = [sys.executable, str(ROOT / "build.py"), "--root", str(root)]
        build = [*cli, "build", "--cache", str(tmp / "cache")]
        print(f"load average before: {Path('/proc/loadavg').read_text().strip()}")
        check_wall, check_cpu, _ = timed([*cli, "check"])
        print(f"{'(a) check (baseline)':34s} {check_wall:6.1f} s wall {check_cpu:6.1f} s cpu")
        report("(b) full build, empty store", *timed([*build, "--out", str(tmp / "public")], env), check_cpu)
        report("(c) again, nothing changed", *timed([*build, "--out", str(tmp / "public")], env), check_cpu)

        changed = sorted((root / "records").rglob("*.yaml"))[args.records // 2]
        text = changed.read_text(encoding="utf-8")
        changed.write_text(text.replace("content: ", "content: （已更正）", 1), encoding="utf-8")
        commit(root, "修改一条记录", str(changed.relative_to(root)))
        fill_cache(root, tmp / "cache", sample)  # its new PDF, as the render job leaves it
        one_wall, cpu, log = timed([*build, "--out", str(tmp / "public")], env)
        report("(d) one record changed", one_wall, cpu, log, check_cpu)
        one_rest = sum(w for k, (w, _) in phases(log).items() if k != "check and history")
        made = re.search(r"(\d+) files rendered \((\d+) with new bytes\)", log)
        print(f"    files rendered: {made[1]}, with new bytes: {made[2]}")

        fresh = [*cli, "build", "--cache", str(tmp / "cache"), "--out", str(tmp / "full")]
        shutil.rmtree(root / ".cache" / "site")
        report("(e) full build of (d), empty store", *timed(fresh, env), check_cpu)
        same = tree(tmp / "public") == tree(tmp / "full")
        print(f"    (d) and (e) byte-identical: {'yes' if same else 'NO'}")

        if args.today:
            other = tmp / "today"
            subprocess.run(["git", "clone", "-q", str(root), str(other)], check=True)
            for folder in ("templates", "site"):
                shutil.rmtree(other / folder)
                shutil.copytree(args.today / folder, other / folder)
            commit(other, "那一版的模板", "templates", "site")
            fill_cache(other, tmp / "cache", sample)
            command = [sys.executable, str(args.today / "build.py"), "--root", str(other), "build"]
            wall, cpu, _ = timed([*command, "--cache", str(tmp / "cache"), "--out", str(tmp / "today-public")])
            print(f"{'(f) full build, ' + str(args.today):34s} {wall:6.1f} s wall {cpu:6.1f} s cpu")
        print(f"load average after: {Path('/proc/loadavg').read_text().strip()}")
        print(
            f"goal (d) < 3 s: {one_wall:.1f} s with check and history ({'met' if one_wall < 3 else 'NOT met'}); "
            f"{one_rest:.2f} s without them ({'met' if one_rest < 3 else 'NOT met'})"
        )


if __name__ == "__main__":
    main()
