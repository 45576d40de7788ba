"""Benchmark: ``build.py import`` of a 10,000-row sheet against a plain openpyxl read of the same file.

    python bench/import.py [--rows 10000] [--repeat 2]

The sheet is what the office might hold: a title row, the header on row 3,
dates typed four ways, sizes as ``50人``, leaders by name and 部门. Machines
here are noisy, so the figure that matters is the ratio to the baseline
measured in the same run; the target is the whole command (a fresh process
that plans, checks and commits every row on a branch) under 15 s.
"""

from __future__ import annotations

import argparse
import datetime
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.check import best_of  # noqa: E402
from bench.synth import commit_repository, make_leaders, make_record, write_repo  # noqa: E402
from liaison.core.importplan import ImportContext, plan_import  # noqa: E402
from liaison.core.project import open_project  # noqa: E402

HEADER = [
    "序号",
    "姓名",
    "部门",
    "职务",
    "日期",
    "地点",
    "人数",
    "联系对象",
    "学生联系人",
    "联系内容",
    "意见建议",
    "备注",
]
DATE_FORMS = [
    lambda d: d,  # an Excel date
    lambda d: f"{d.year}年{d.month}月{d.day}日",
    lambda d: f"{d.year}/{d.month}/{d.day}",
    lambda d: int(d.strftime("%Y%m%d")),
]


def write_sheet(path: Path, leaders: list[dict], rows: int, rng: random.Random) -> None:
    """A sheet of ``rows`` contacts by leaders whose name and 部门 tell them apart."""
    unique = {}
    for leader in leaders:
        unique.setdefault((leader["name"], leader["department"]), leader)
    chosen = [leader for leader in unique.values() if sum(1 for k in unique if k[0] == leader["name"]) == 1]
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("汇总")
    sheet.append(["X大学领导干部结对联系学生情况汇总表"])
    sheet.append([])
    sheet.append(HEADER)
    start, span = datetime.date(2006, 9, 1), (datetime.date(2026, 7, 31) - datetime.date(2006, 9, 1)).days
    for number in range(1, rows + 1):
        leader = rng.choice(chosen)
        day = start + datetime.timedelta(days=rng.randrange(span))
        data = make_record(leader, day, rng)
        data["target"] = f"{data['target']}（第{number}组）"  # no two rows look like one contact
        sheet.append(
            [
                number,
                data["leader"],
                data["department"],
                data["position"],
                DATE_FORMS[number % 4](day),
                data["place"],
                f"{data['size']}人",
                data["target"],
                data["student_contact"],
                data["content"],
                data["feedback"],
                data["remarks"],
            ]
        )
    book.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--leaders", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    rng = random.Random(17)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        leaders = make_leaders(args.leaders, rng)
        write_repo(root, leaders, [], rng)
        commit_repository(root)
        sheet = Path(tmp) / "汇总.xlsx"
        write_sheet(sheet, leaders, args.rows, rng)
        data = sheet.read_bytes()

        def baseline():
            book = openpyxl.load_workbook(sheet, read_only=True)
            return sum(1 for _ in book.active.iter_rows(values_only=True))

        def plan():
            project = open_project(root)
            context = ImportContext(project.schema, project.roster, project.today(), [])
            result = plan_import([(sheet.name, data)], context)
            assert len(result.new_rows) == args.rows, result.files[0].error or result.refused
            return result

        branches = []

        def command():
            branches.append(f"import/bench-{len(branches)}")
            done = subprocess.run(
                [sys.executable, str(ROOT / "build.py"), "--root", str(root), "import", str(sheet)]
                + ["--branch", branches[-1]],
                capture_output=True,
                text=True,
            )
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
            return done.stdout

        plain = best_of(args.repeat, baseline)
        planned = best_of(args.repeat, plan)
        whole = best_of(args.repeat, command)
        # Merge the import, then import the same file again: every row is found present.
        subprocess.run(["git", "-C", str(root), "merge", "-q", "--ff-only", branches[0]], check=True)
        again_output = []
        again = best_of(1, lambda: again_output.append(command()))
        assert f"已存在 {args.rows} 条" in again_output[0], again_output[0][-500:]

    print(f"rows: {args.rows}  file: {len(data) / 1e6:.1f} MB  (best of {args.repeat})")
    print(f"baseline openpyxl read_only read   {plain:7.2f} s")
    print(f"plan_import (read, convert, check) {planned:7.2f} s   {planned / plain:5.2f}x baseline")
    print(f"python build.py import (process)   {whole:7.2f} s   {whole / plain:5.2f}x baseline  (commit on a branch)")
    print(f"the same file again, merged: {again:7.2f} s   (all {args.rows} rows present, nothing written)")
    print(f"target (< 15 s): {'met' if whole < 15 else 'NOT met'}")


if __name__ == "__main__":
    main()
