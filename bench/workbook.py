"""Benchmark: the workbook writer against a plain openpyxl write-only loop, timed in the same run.

    python bench/workbook.py [--records 10000] [--repeat 5]

Both write 表1 and 表2 of ``--records`` generated records into one .xlsx in
memory. The baseline is openpyxl's write-only mode appending the same values
(no styles, widths, row heights or print set-up); ``build_workbook`` adds
named styles on every cell, the print plan (paper, column widths, a height
for every row from its wrapped text), frozen header, filter, header/footer
and zip entries dated by the commit. Medians of ``--repeat`` alternating
runs; the figure is the ratio (goal: ≤ 1.5×).
"""

from __future__ import annotations

import argparse
import datetime
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

from openpyxl import Workbook

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.synth import synthetic  # noqa: E402
from liaison.core.checks import check_repository  # noqa: E402
from liaison.core.project import open_project  # noqa: E402
from liaison.core.semesters import ALL_DATES  # noqa: E402
from liaison.outputs.workbook import build_workbook, content_table, count_table  # noqa: E402


def plain_write_only(tables) -> bytes:
    book = Workbook(write_only=True)
    for table in tables:
        sheet = book.create_sheet()
        sheet.append(list(table.header))
        for row in table.rows:
            sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        synthetic(root, args.records, 150, seed=4)
        project = open_project(root)
        records = check_repository(project).clean_records()
    stamp = datetime.datetime(2025, 2, 1, tzinfo=datetime.UTC)
    plain, ours = [], []
    for _ in range(args.repeat):
        start = time.perf_counter()
        # The baseline gets the tables ready-made; building them is timed in ours.
        tables = [
            count_table(records, project.roster, project.schema),
            content_table(records, project.roster, project.schema),
        ]
        plain_write_only(tables)
        plain.append(time.perf_counter() - start)
        start = time.perf_counter()
        build_workbook(records, project.roster, project.schema, project.config, ALL_DATES, stamp, "bench")
        ours.append(time.perf_counter() - start)
    p, o = statistics.median(plain), statistics.median(ours)
    print(f"workbook of {len(records)} records, median of {args.repeat}:")
    print(f"  plain openpyxl write-only loop (tables included): {p:.2f} s")
    print(f"  build_workbook (styles, print plan, row heights): {o:.2f} s = {o / p:.2f}x the plain loop (goal <= 1.5x)")


if __name__ == "__main__":
    main()
