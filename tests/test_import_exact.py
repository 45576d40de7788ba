"""Imports that say exactly what they commit, round trips that give back every byte, and commands safe to run
(issue 27, 4-6 and issue 30, 10)."""

from __future__ import annotations

import datetime

import openpyxl
import pytest
from conftest import GIT_ENV, commit_all, git

from liaison.core.importplan import NEW, REFUSED

HEADER = ["记录编号", "领导姓名", "联系时间", "联系地点", "人员规模", "联系对象", "学生联系人", "联系内容"]
SHARED = "2023-09-01-T1-aaaaaa"


@pytest.fixture(autouse=True)
def identity(monkeypatch):
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)


def _row(record_id: str, target: str, day=datetime.date(2023, 9, 1)) -> list:
    return [record_id, "赵某", day, "图书馆101", 30, target, "刘某", "座谈交流。"]


def test_rows_sharing_a_record_id_are_refused_each_named_and_the_report_equals_the_commit(
    repo, tmp_path, run, monkeypatch
):
    commit_all(repo)
    monkeypatch.chdir(tmp_path)
    book = openpyxl.Workbook()
    first = book.active
    first.title = "2023秋"
    for cells in (HEADER, _row(SHARED, "第一次座谈。"), _row(SHARED, "第二次座谈。"), _row("", "另一条。")):
        first.append(cells)
    second = book.create_sheet("补录")
    for cells in (HEADER, _row(SHARED, "第三次座谈。")):
        second.append(cells)
    path = tmp_path / "同编号.xlsx"
    book.save(path)

    result = run(repo, "import", path.name, "--branch", "import/same-id")
    assert result.exit_code == 1
    out = result.output
    assert "同编号.xlsx:第2行: 记录编号 2023-09-01-T1-aaaaaa 与 同编号.xlsx 工作表“2023秋” 第 3 行、" in out
    assert "同编号.xlsx 工作表“补录” 第 2 行 相同，内容却不同" in out
    assert "同编号.xlsx:第3行:" in out and out.count("内容却不同") == 3
    assert "已把 1 条新记录提交到分支 import/same-id" in out
    added = git(repo, "diff", "--name-only", "main", "import/same-id").splitlines()
    assert len(added) == 1 and SHARED not in added[0]
    assert "导入联系记录 1 条" in git(repo, "log", "-1", "--format=%B", "import/same-id")


def test_the_plan_never_holds_two_new_rows_for_one_file(repo, tmp_path):
    from conftest import record_data, write_record  # noqa: F401 - the repository is empty on purpose
    from test_import import context

    from liaison.core.importplan import plan_import

    book = openpyxl.Workbook()
    sheet = book.active
    for cells in (HEADER, _row(SHARED, "甲。"), _row(SHARED, "乙。"), _row(SHARED, "甲。")):
        sheet.append(cells)
    path = tmp_path / "a.xlsx"
    book.save(path)
    plan = plan_import([(path.name, path.read_bytes())], context(repo))
    statuses = [r.status for r in plan.files[0].rows]
    assert statuses[:2] == [REFUSED, REFUSED] and NEW not in statuses
    paths = [r.path for r in plan.new_rows]
    assert len(paths) == len(set(paths))
