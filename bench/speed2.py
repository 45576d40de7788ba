"""Benchmark: issue 29's table, every row against its baseline in the same run, A and B alternated.

    python bench/speed2.py [--records 10000] [--pdf-records 300] [--repeat 5] [--pipeline]

The repository is ``bench/bigrepo.py``'s (10,000 records, 14,001 commits,
150 leaders) with the project's templates and site assets. Each command is a
fresh ``python build.py`` process. The machine is shared with other
engineers, so every row is measured as pairs: the baseline, then the
measured command, ``--repeat`` times in turn, and the medians of wall and of
CPU seconds (user + system, the process and its children: git, render
workers) are compared. The load average is printed before and after. Rows and
goals (issue 29):

1. ``check`` cold (no ``.cache/``) / a CSafeLoader parse of every record file (in this process) — ≤ 2.0× (CPU);
2. ``check`` again, nothing changed / the cold ``check`` — ≤ 0.15× (CPU);
3. ``pdf`` of ``--pdf-records`` records, no cache: a plain WeasyPrint loop of the same HTML / ``build_pdfs`` —
   ≥ 3.5× faster (wall, two cores; the CPU ratio beside it);
4. ``build`` (the site) after one record changed and committed / a cold ``check`` without caches
   (``LIAISON_CHECK_CACHE=off LIAISON_HISTORY_INDEX=0``) — ≤ 1.2× (CPU);
5. ``audit`` of the whole history, index warm / ``git log --name-status`` — ≤ 3× (CPU); the first run beside it;
6. with ``--pipeline``: a one-record merge request's pipeline (check and review) at ``--records`` records under
   ``gitlab-ci-local``, as tests/test_pipeline.py runs it — ≤ 15 s (wall).

Before any figure, a cold and a warm run of ``check``, ``audit`` and ``build``
are compared: the same output, the same site bytes.
"""

from __future__ import annotations

import argparse
import datetime
import filecmp
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
from bench.incremental import change_one, children_cpu, commit, in_process  # noqa: E402
from bench.pdf import fill_cache, load, plain_loop, repository, this_build  # noqa: E402
from liaison.outputs.pdf.form import record_html  # noqa: E402
from liaison.outputs.pdf.render import Renderer  # noqa: E402

ROWS: list[tuple[str, str, str, str, str]] = []  # what, measured, baseline, ratio, goal
UNCACHED = {"LIAISON_CHECK_CACHE": "off", "LIAISON_HISTORY_INDEX": "0"}


def command(root: Path, *args: str, env: dict | None = None) -> tuple[float, float, bytes]:
    """(wall, CPU, stdout) of one fresh ``build.py`` process with its children."""
    cpu, start = children_cpu(), time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "--root", str(root), *args],
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=1800,
    )
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"build.py {' '.join(args)} failed:\n{done.stderr.decode()[-3000:]}")
    return wall, children_cpu() - cpu, done.stdout


def timed(*args, **kwargs) -> tuple[float, float]:
    return command(*args, **kwargs)[:2]


def git_log(root: Path) -> tuple[float, float]:
    cpu, start = children_cpu(), time.perf_counter()
    subprocess.run(["git", "log", "--name-status", "--format=%H %an %cI %s"], cwd=root, check=True, capture_output=True)
    return time.perf_counter() - start, children_cpu() - cpu


def pairs(repeat: int, baseline, measured) -> tuple[tuple[float, float], tuple[float, float]]:
    """Medians (wall, CPU) of the baseline and the measured, run in turn ``repeat`` times."""
    a, b = [], []
    for _ in range(repeat):
        a.append(baseline())
        b.append(measured())
    return _median(a), _median(b)


def _median(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def fmt(figure: tuple[float, float]) -> str:
    return f"{figure[0]:.2f} s (CPU {figure[1]:.2f} s)"


def row(what: str, measured, baseline, name: str, goal: str, by_wall: bool = False, faster: bool = False) -> None:
    index = 0 if by_wall else 1
    ratio = baseline[index] / measured[index] if faster else measured[index] / baseline[index]
    other = baseline[1 - index] / measured[1 - index] if faster else measured[1 - index] / baseline[1 - index]
    how, also = ("wall", "CPU") if by_wall else ("CPU", "wall")
    said = f"{ratio:.2f}× {'faster ' if faster else ''}({how}; {other:.2f}× {also})"
    ROWS.append((what, fmt(measured), f"{name} {fmt(baseline)}", said, goal))
    print(f"{what}: {fmt(measured)}; {name} {fmt(baseline)}; {said}; goal {goal}", flush=True)


def cold(root: Path) -> None:
    shutil.rmtree(root / ".cache", ignore_errors=True)


def pdf_cache(root: Path, tmp: Path) -> Path:
    """A PDF cache holding one real PDF under every record's key (as bench/pdf.py does): the site rows measure
    placing and deciding, not 10,000 renders, which the PDF row measures."""
    project, records = load(root)
    sample = tmp / "sample.pdf"
    html = record_html(records[0], project.schema, project.config, root / "templates")
    sample.write_bytes(Renderer(root / "templates").render(records[0], html))
    fill_cache(root, tmp / "pdf-cache", sample)
    return tmp / "pdf-cache"


def same_results(root: Path, tmp: Path) -> None:
    """A cold and a warm run say the same and build the same site; else no figure is worth having."""
    for args in (("check",), ("audit", "--format", "json")):
        cold(root)
        first = command(root, *args)[2]
        again = command(root, *args)[2]
        uncached = command(root, *args, env=UNCACHED)[2]
        assert first == again == uncached, f"{args}: cold, warm and uncached runs differ"
    cold(root)
    command(root, "build", "--out", str(tmp / "site-cold"), "--cache", str(tmp / "pdf-cache"))
    command(root, "build", "--out", str(tmp / "site-warm"), "--cache", str(tmp / "pdf-cache"))
    differ = filecmp.dircmp(tmp / "site-cold", tmp / "site-warm")
    assert not (differ.diff_files or differ.left_only or differ.right_only), "cold and warm sites differ"
    print("cold, warm and uncached runs: the same output and the same site", flush=True)


def check_rows(root: Path, repeat: int) -> None:
    files = sorted((root / "records").rglob("*.yaml"))

    def parse() -> None:
        for path in files:
            yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)

    def cold_check() -> tuple[float, float]:
        cold(root)
        return timed(root, "check")

    baseline, first = pairs(repeat, lambda: in_process(parse), cold_check)
    row("`check`, no `.cache/`", first, baseline, "CSafeLoader parse", "≤ 2.0×")
    first, again = pairs(repeat, cold_check, lambda: timed(root, "check"))
    row("`check` again, nothing changed", again, first, "the cold `check`", "≤ 0.15×")


def pdf_row(tmp: Path, n_pdf: int, repeat: int) -> None:
    small = repository(tmp, n_pdf, seed=7)
    plain, built = [], []
    for n in range(repeat):
        plain.append(in_process(lambda n=n: plain_loop(small, tmp / f"plain-{n}")))
        cpu, start = children_cpu() + time.process_time(), time.perf_counter()
        this_build(small, tmp / f"built-{n}", tmp / f"cache-{n}")
        built.append((time.perf_counter() - start, children_cpu() + time.process_time() - cpu))
    row(
        f"`pdf`, {n_pdf} records, no cache",
        _median(built),
        _median(plain),
        "plain WeasyPrint loop",
        "≥ 3.5× faster",
        by_wall=True,
        faster=True,
    )


def site_row(tmp: Path, root: Path, repeat: int) -> None:
    out, cache = str(tmp / "public"), str(tmp / "pdf-cache")
    command(root, "build", "--out", out, "--cache", cache)  # the site and its PDFs as the last pipeline left them
    base, after = [], []
    for n in range(repeat):
        base.append(timed(root, "check", env=UNCACHED))
        change_one(root, 20 + n)
        after.append(timed(root, "build", "--out", out, "--cache", cache))
    row("`build` (site) after one record changed", _median(after), _median(base), "uncached `check`", "≤ 1.2×")


def audit_row(root: Path, repeat: int) -> None:
    cold(root)
    first = timed(root, "audit", "--format", "json")
    log, audit = pairs(repeat, lambda: git_log(root), lambda: timed(root, "audit", "--format", "json"))
    row("`audit`, whole history, index warm", audit, log, "`git log --name-status`", "≤ 3×")
    ROWS.append(("`audit`, first run (no `.cache/`)", fmt(first), "", "", ""))
    print(f"audit, first run: {fmt(first)}", flush=True)


def pipeline_row(tmp: Path, root: Path, repeat: int) -> None:
    """A one-record merge request at this size, its pipeline run by gitlab-ci-local as tests/test_pipeline.py does."""
    repo = tmp / "project"
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    for name in listed:
        if name.startswith(("tools/node_modules/", "records/")) or not (ROOT / name).is_file():
            continue
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, repo / name)
    shutil.copytree(root / "records", repo / "records")  # this size's records, roster and config
    for name in ("roster.yaml", "config.yaml"):
        shutil.copy2(root / name, repo / name)

    def git(*words: str) -> str:
        who = ["-c", "user.name=bench", "-c", "user.email=bench@example.edu.cn"]
        done = subprocess.run(["git", *who, *words], cwd=repo, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "项目")
    git("init", "-q", "--bare", str(tmp / "origin.git"))
    git("remote", "add", "origin", str(tmp / "origin.git"))
    git("push", "-q", "-u", "origin", "main")
    git("remote", "set-head", "origin", "main")
    base = git("rev-parse", "HEAD")
    git("checkout", "-q", "-b", "record/one")
    change_one(repo, 99)
    runs = []
    for _ in range(repeat):
        shutil.rmtree(repo / ".gitlab-ci-local", ignore_errors=True)
        cpu, start = children_cpu(), time.perf_counter()
        done = subprocess.run(
            [
                str(ROOT / "tools" / "node_modules" / ".bin" / "gitlab-ci-local"),
                "--force-shell-executor",
                "--shell-isolation",
                "--variable",
                f"LIAISON_VENV={ROOT / '.venv'}",
                "--variable",
                "CI_PIPELINE_SOURCE=merge_request_event",
                "--variable",
                f"CI_MERGE_REQUEST_DIFF_BASE_SHA={base}",
            ],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        runs.append((time.perf_counter() - start, children_cpu() - cpu))
        if done.returncode != 0:
            raise SystemExit(f"pipeline failed:\n{done.stdout[-3000:]}")
    measured = _median(runs)
    ROWS.append(("one-record merge request pipeline (gitlab-ci-local)", fmt(measured), "", "", "≤ 15 s (wall)"))
    print(f"pipeline: {fmt(measured)} (runs {', '.join(f'{w:.1f} s' for w, _ in runs)})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--pdf-records", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pdf-repeat", type=int, default=1, help="pairs of the PDF row (each pair about a minute)")
    parser.add_argument("--pipeline", action="store_true", help="also run the merge request's pipeline")
    parser.add_argument("--rows", default="check,audit,site,pdf", help="which rows, comma-separated")
    args = parser.parse_args()
    rows = set(args.rows.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root, commits = big_repository(tmp / "repo", args.records)
        for folder in ("templates", "site"):
            shutil.copytree(ROOT / folder, root / folder)
        commit(root, "模板与站点资源", "templates", "site")
        load_before = Path("/proc/loadavg").read_text().split()[:3]
        print(
            f"repository: {args.records:,} records, {commits + 1:,} commits; load {' '.join(load_before)}", flush=True
        )
        pdf_cache(root, tmp)
        same_results(root, tmp)
        if "check" in rows:
            check_rows(root, args.repeat)
        if "audit" in rows:
            audit_row(root, args.repeat)
        if "site" in rows:
            site_row(tmp, root, args.repeat)
        if "pdf" in rows:
            pdf_row(tmp, args.pdf_records, args.pdf_repeat)
        if args.pipeline:
            pipeline_row(tmp, root, min(args.repeat, 2))
        load_after = Path("/proc/loadavg").read_text().split()[:3]
    print(f"\nload average before {' '.join(load_before)}, after {' '.join(load_after)}; {datetime.date.today()}\n")
    print("| what | measured | baseline (same run) | ratio | goal |")
    print("| --- | ---: | --- | ---: | --- |")
    for line in ROWS:
        print("| " + " | ".join(line) + " |")


if __name__ == "__main__":
    main()
