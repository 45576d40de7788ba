"""Benchmark: issue 20's table, every row against its baseline in the same run, on one generated repository.

    python bench/incremental.py [--records 10000] [--pdf-records 300] [--repeat 3]

The repository is ``bench/bigrepo.py``'s (10,000 records, 14,001 commits over
20 years, 150 leaders), with the project's templates and site assets
committed. Every command is a fresh ``python build.py`` process, as a user or
the pipeline runs it; ``.cache/`` (check verdicts, history index, the site's
store) lives in the repository and is removed for the cold figures. Each row
gives wall and CPU seconds (the process and its children: git, render
workers) and its ratio to the baseline timed in the same run. Ratios are by
CPU, which a shared machine disturbs least, except the cold PDF row, whose
point is using both cores (wall).

Rows and goals (issue 20):

1. ``check`` cold / a CSafeLoader parse of the same files — ≤ 2.0×;
2. ``check`` again, nothing changed / the cold ``check`` — ≤ 0.2×;
3. ``pdf``, cold, ``--pdf-records`` records: a plain WeasyPrint loop / ``build_pdfs`` — ≥ 3.5× on 2 cores;
4. ``pdf`` after one change among 10,000 / a cached ``check`` — ≤ 1.5×;
5. ``build`` (the site) after one change among 10,000 — < 3 s (beside the full build);
6. the workbook of 10,000 rows / a plain openpyxl write-only loop — ≤ 1.5×;
7. ``audit`` of the whole history (index warm) / ``git log --name-status`` — ≤ 3×;
8. ``history`` of one record, index warm — < 0.3 s (beside ``build.py --help``, the floor of any command).

The PDF cache of the 10,000 records holds one real PDF under every key (as
bench/pdf.py does): the rows that use it measure placing and deciding, not
rendering, which row 3 measures.
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
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
from bench.pdf import fill_cache, load, plain_loop, repository, this_build  # noqa: E402
from bench.workbook import plain_write_only  # noqa: E402
from liaison.core.semesters import ALL_DATES  # noqa: E402
from liaison.outputs.pdf.form import record_html  # noqa: E402
from liaison.outputs.pdf.render import Renderer  # noqa: E402
from liaison.outputs.workbook import build_workbook, content_table, count_table  # noqa: E402

ROWS: list[tuple[str, str, str, str, str]] = []  # what, measured, baseline, ratio, goal


def children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run(root: Path, *args: str) -> tuple[float, float]:
    """(wall, CPU) of one fresh ``build.py`` process with its children."""
    cpu, start = children_cpu(), time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "build.py"), "--root", str(root), *args], capture_output=True)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"build.py {' '.join(args)} failed:\n{done.stderr.decode()[-3000:]}")
    return wall, children_cpu() - cpu


def git_log(root: Path, *args: str) -> tuple[float, float]:
    cpu, start = children_cpu(), time.perf_counter()
    subprocess.run(["git", "log", *args], cwd=root, check=True, capture_output=True)
    return time.perf_counter() - start, children_cpu() - cpu


def in_process(work) -> tuple[float, float]:
    cpu, start = time.process_time(), time.perf_counter()
    work()
    return time.perf_counter() - start, time.process_time() - cpu


def median(repeat: int, work) -> tuple[float, float]:
    runs = [work() for _ in range(repeat)]
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def fmt(figure: tuple[float, float]) -> str:
    return f"{figure[0]:.2f} s (CPU {figure[1]:.2f} s)"


def row(what: str, measured, baseline, baseline_name: str, goal: str, by_wall: bool = False, faster: bool = False):
    index = 0 if by_wall else 1
    ratio = baseline[index] / measured[index] if faster else measured[index] / baseline[index]
    how = "wall" if by_wall else "CPU"
    said = f"{ratio:.2f}× faster ({how})" if faster else f"{ratio:.2f}× ({how})"
    ROWS.append((what, fmt(measured), f"{baseline_name} {fmt(baseline)}", said, goal))
    print(f"{what}: {fmt(measured)}; {baseline_name} {fmt(baseline)}; {said}; goal {goal}", flush=True)


def cold(root: Path) -> None:
    shutil.rmtree(root / ".cache", ignore_errors=True)


def change_one(root: Path, n: int) -> None:
    """Correct the content of one record (a different one each call) and commit it, as a merge would."""
    paths = sorted((root / "records").rglob("*.yaml"))
    path = paths[(len(paths) // 2 + n * 37) % len(paths)]
    path.write_text(path.read_text(encoding="utf-8").replace("content: ", f"content: （更正{n}）", 1), encoding="utf-8")
    commit(root, f"更正 {n}", str(path.relative_to(root)))


def commit(root: Path, message: str, *paths: str) -> None:
    who = ["-c", "user.name=bench", "-c", "user.email=bench@example.edu.cn"]
    subprocess.run(["git", "-C", str(root), "add", *paths], check=True)
    subprocess.run(["git", *who, "-C", str(root), "commit", "-q", "-m", message], check=True)


def check_rows(root: Path, repeat: int) -> None:
    files = sorted((root / "records").rglob("*.yaml"))

    def parse() -> None:
        for path in files:
            yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)

    def cold_check():
        cold(root)
        return run(root, "check")

    baseline = median(repeat, lambda: in_process(parse))
    first = median(repeat, cold_check)
    uncached = median(repeat, lambda: _uncached(root))
    again = median(repeat, lambda: run(root, "check"))
    row("`check`, cold (writes the cache)", first, baseline, "CSafeLoader parse", "≤ 2.0×")
    row("`check`, cache turned off", uncached, baseline, "CSafeLoader parse", "(first version: 2.95×)")
    row("`check` again, nothing changed", again, first, "the cold `check`", "≤ 0.2×")


def _uncached(root: Path) -> tuple[float, float]:
    os.environ["LIAISON_CHECK_CACHE"] = "off"
    try:
        return run(root, "check")
    finally:
        del os.environ["LIAISON_CHECK_CACHE"]


def history_rows(root: Path, repeat: int) -> None:
    name_status = median(repeat, lambda: git_log(root, "--name-status", "--format=%H %an %cI %s"))
    run(root, "audit", "--format", "json")  # the index, as the last run left it
    audit = median(repeat, lambda: run(root, "audit", "--format", "json"))
    row("`audit`, whole history, index warm", audit, name_status, "`git log --name-status`", "≤ 3×")
    record = sorted((root / "records").rglob("*.yaml"))[123].stem
    one = median(repeat, lambda: run(root, "history", record))
    floor = median(repeat, lambda: run(root, "--help"))
    row("`history` of one record, index warm", one, floor, "`build.py --help` (the floor)", "< 0.3 s")


def workbook_row(root: Path, repeat: int) -> None:
    project, records = load(root)
    stamp = datetime.datetime(2025, 2, 1, tzinfo=datetime.UTC)

    def plain() -> None:
        tables = [
            count_table(records, project.roster, project.schema),
            content_table(records, project.roster, project.schema),
        ]
        plain_write_only(tables)

    def ours() -> None:
        build_workbook(records, project.roster, project.schema, project.config, ALL_DATES, stamp, "bench")

    base = median(repeat, lambda: in_process(plain))
    measured = median(repeat, lambda: in_process(ours))
    row(f"workbook, {len(records):,} rows", measured, base, "plain openpyxl write-only loop", "≤ 1.5×")


def pdf_rows(tmp: Path, root: Path, n_pdf: int, repeat: int) -> Path:
    small = repository(tmp, n_pdf, seed=7)
    plain = in_process(lambda: plain_loop(small, tmp / "plain"))
    cpu = children_cpu() + time.process_time()
    built, _ = this_build(small, tmp / "built", tmp / "cache-small")
    built_cpu = children_cpu() + time.process_time() - cpu
    row(
        f"`pdf`, cold, {n_pdf} records",
        (built, built_cpu),
        plain,
        "plain WeasyPrint loop",
        "≥ 3.5× faster (2 cores)",
        by_wall=True,
        faster=True,
    )

    project, records = load(root)
    sample = tmp / "sample.pdf"
    html = record_html(records[0], project.schema, project.config, root / "templates")
    sample.write_bytes(Renderer(root / "templates").render(records[0], html))
    cache = tmp / "cache-big"
    fill_cache(root, cache, sample)
    out = str(tmp / "pdf-out")
    run(root, "pdf", "--out", out, "--cache", str(cache))  # every PDF placed, as the last pipeline left them
    run(root, "check")
    after = []
    for n in range(repeat):
        change_one(root, 10 + n)
        after.append(run(root, "pdf", "--out", out, "--cache", str(cache)))
    check = median(repeat, lambda: run(root, "check"))
    measured = (statistics.median(w for w, _ in after), statistics.median(c for _, c in after))
    row(f"`pdf` after one change among {len(records):,} (renders 1)", measured, check, "cached `check`", "≤ 1.5×")
    return cache


def site_rows(tmp: Path, root: Path, cache: Path, repeat: int) -> None:
    out = str(tmp / "public")
    full = run(root, "build", "--out", out, "--cache", str(cache))
    after = []
    for n in range(repeat):
        change_one(root, 20 + n)
        after.append(run(root, "build", "--out", out, "--cache", str(cache)))
    measured = (statistics.median(w for w, _ in after), statistics.median(c for _, c in after))
    check = median(repeat, lambda: run(root, "check"))
    row(f"`build` (site) after one change among {len(load(root)[1]):,}", measured, check, "cached `check`", "< 3 s")
    ROWS.append(("`build` (site), full, empty site store", fmt(full), "", "", ""))
    print(f"full build: {fmt(full)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--pdf-records", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
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
        check_rows(root, args.repeat)
        history_rows(root, args.repeat)
        workbook_row(root, args.repeat)
        cache = pdf_rows(tmp, root, args.pdf_records, args.repeat)
        site_rows(tmp, root, cache, args.repeat)
        load_after = Path("/proc/loadavg").read_text().split()[:3]
    print(f"\nload average before {' '.join(load_before)}, after {' '.join(load_after)}; {datetime.date.today()}\n")
    print("| what | measured | baseline (same run) | ratio | goal |")
    print("| --- | ---: | --- | ---: | --- |")
    for line in ROWS:
        print("| " + " | ".join(line) + " |")


if __name__ == "__main__":
    main()
