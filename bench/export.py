"""Benchmark: the office's semester export, and the workbook alone, against plain baselines in one run.

    python bench/export.py [--records 500] [--workbook-records 10000]

(a) ``python build.py export`` (a fresh process, check included) of one
    semester of ``--records`` records with a warm PDF cache, the way CI runs
    it after the main pipeline rendered the PDFs;
(b) ``build_workbook`` on ``--workbook-records`` records, against a plain
    openpyxl loop that appends the same values to two sheets and saves, with
    no styling, widths or print set-up.
"""

from __future__ import annotations

import argparse
import datetime
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from openpyxl import Workbook

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.synth import commit_repository, synthetic  # noqa: E402
from liaison.core.checks import check_repository  # noqa: E402
from liaison.core.project import open_project  # noqa: E402
from liaison.core.semesters import ALL_DATES  # noqa: E402
from liaison.outputs.workbook import build_workbook, content_table, count_table  # noqa: E402

SEMESTER = "2024-2025-1"


def semester_export(tmp: Path, n_records: int) -> tuple[float, float, str]:
    root = tmp / "semester"
    synthetic(root, n_records, 150, seed=3, start=datetime.date(2024, 9, 1), end=datetime.date(2025, 1, 15))
    commit_repository(root)
    command = [
        sys.executable,
        str(ROOT / "build.py"),
        "--root",
        str(root),
        "export",
        "--semester",
        SEMESTER,
        "--out",
        str(tmp / "export"),
        "--cache",
        str(tmp / "cache"),
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return cold, time.perf_counter() - start, done.stdout.splitlines()[0]


def plain_workbook(count_rows, content_rows) -> bytes:
    book = Workbook()
    first = book.active
    for row in count_rows:
        first.append(list(row))
    second = book.create_sheet()
    for row in content_rows:
        second.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def workbooks(tmp: Path, n_records: int) -> tuple[float, float]:
    root = tmp / "many"
    synthetic(root, n_records, 150, seed=4)
    project = open_project(root)
    records = check_repository(project).clean_records()
    stamp = datetime.datetime(2025, 2, 1, tzinfo=datetime.UTC)
    counts = count_table(records, project.roster, project.schema)
    contents = content_table(records, project.roster, project.schema)
    start = time.perf_counter()
    plain_workbook([counts.header, *counts.rows], [contents.header, *contents.rows])
    plain = time.perf_counter() - start
    start = time.perf_counter()
    build_workbook(records, project.roster, project.schema, project.config, ALL_DATES, stamp, "bench")
    return plain, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=500)
    parser.add_argument("--workbook-records", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cold, warm, said = semester_export(tmp, args.records)
        plain, ours = workbooks(tmp, args.workbook_records)
    print(f"(a) export of {args.records} records, one semester: cold {cold:.1f} s, warm PDF cache {warm:.1f} s")
    print(f"    ({said})")
    print(
        f"(b) workbook of {args.workbook_records} records: plain openpyxl {plain:.1f} s, "
        f"build_workbook {ours:.1f} s ({ours / plain:.2f}x the plain loop)"
    )
    ok = warm < 10 and ours < 10
    print(f"targets (warm export < 10 s; workbook < 10 s): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
