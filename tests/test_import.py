"""build.py import: the office's existing spreadsheets become records, through a branch and review."""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path

import openpyxl
import pytest
from conftest import GIT_ENV, PROJECT, SCHEMA, commit_all, git, push_options_remote, record_data, write_record

from liaison.core.importplan import DUPLICATE, EMPTY, NEW, PRESENT, REFUSED, ImportContext, plan_import
from liaison.core.project import open_project, read_records
from liaison.core.semesters import resolve_range
from liaison.outputs.workbook import build_workbook

HEADER = [
    "序号",
    "姓名",
    "部  门\n（可选项）",
    "日期",
    "地点",
    "人数",
    "对象",
    "学生联系人",
    "内容",
    "意见建议",
    "备注",
]
LONG = "座谈" * 5000  # a 10,000-character cell


@pytest.fixture(autouse=True)
def identity(monkeypatch):
    """The person running the import commits; CI machines have no git identity configured."""
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)


def row(n, name, dept, day, size="30", target="学生会", content="座谈交流。", **kw):
    return [n, name, dept, day, kw.get("place", "图书馆101"), size, target, "刘某", content, kw.get("feedback", ""), ""]


def messy_rows():
    """Row 4 onwards of the messy sheet, as the office might have typed them."""
    return [
        row(1, "赵某", None, datetime.date(2024, 3, 1), "50人", "国旗护卫队"),  # 4: an Excel date
        row(2, "赵某", "学生工作处", 45000, "约50", "研究生会"),  # 5: a serial number (2023-03-15)
        row(3, "张伟", "学生工作处", "2020年6月20日", 12),  # 6: namesake told by 部门
        row(4, "张伟", "基础医学院", "2020/6/20", 12),  # 7
        row(5, "张伟", None, "2020.6.21", 12),  # 8: namesake without 部门
        row(6, "王五", "教务处", "2021-01-05"),  # 9: not in the roster
        row(7, "赵某", None, "2099-01-01"),  # 10: in the future
        row(8, "赵某", None, "2022-05-04", content="=A1&B1"),  # 11: a formula
        [None] * 11,  # 12: empty
        row(9, "赵某", None, 20200620, content=LONG),  # 13: yyyymmdd as a number, a 10,000-character cell
        row(10, " 赵某\u3000", None, "２０２０年６月２１日", "５０", "心理委员"),  # 14: full-width, blanks
    ]


def write_messy(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "2020年汇总"
    sheet.append(["测试大学领导干部联系学生情况汇总（2020—2024）"])
    sheet.merge_cells("A1:K1")
    sheet.append([])
    sheet.append(HEADER)
    for cells in messy_rows():
        sheet.append(cells)
    book.save(path)
    return path


def context(root: Path) -> ImportContext:
    project = open_project(root)
    records, _ = read_records(project)
    return ImportContext(project.schema, project.roster, project.today(), records)


def outcomes(plan) -> dict[int, str]:
    return {r.row: r.status for r in plan.files[0].rows}


def test_messy_sheet_each_row_has_its_outcome(repo, tmp_path):
    sheet = write_messy(tmp_path / "汇总.xlsx")
    plan = plan_import([(sheet.name, sheet.read_bytes())], context(repo))
    report = plan.files[0]
    assert (report.sheet, report.header_row) == ("2020年汇总", 3)
    assert outcomes(plan) == {
        4: NEW,
        5: NEW,
        6: NEW,
        7: NEW,
        8: REFUSED,
        9: REFUSED,
        10: REFUSED,
        11: REFUSED,
        12: EMPTY,
        13: NEW,
        14: NEW,
    }
    rows = {r.row: r for r in report.rows}
    assert rows[4].data["date"] == datetime.date(2024, 3, 1) and rows[4].data["size"] == 50
    assert rows[5].data["date"] == datetime.date(2023, 3, 15) and rows[5].data["size"] == 50
    assert (rows[6].data["leader_id"], rows[7].data["leader_id"]) == ("T2", "T3")
    assert rows[6].data["position"] == "处长"  # 职务 from the roster when the sheet has none
    assert rows[13].data["date"] == datetime.date(2020, 6, 20) and rows[13].data["content"] == LONG
    assert rows[14].data["leader"] == "赵某" and rows[14].data["date"] == datetime.date(2020, 6, 21)
    assert rows[14].data["size"] == 50
    assert [c.header for c in report.unused_columns] == ["序号"]


def test_messy_sheet_report_names_file_row_column_and_what_to_do(repo, tmp_path, run):
    sheet = write_messy(tmp_path / "汇总.xlsx")
    result = run(repo, "import", str(sheet), "--dry-run")
    assert result.exit_code == 1
    out = result.output
    name = str(sheet)
    assert f"{name}:第8行: C列“部  门\n（可选项）”(部门)" not in out  # the fault is the name, not the 部门 column
    assert (
        f"{name}:第8行: B列“姓名”(领导姓名): 名单中有 2 位“张伟”：张伟（学生工作处，工号 T2）、张伟（基础医学院，工号 T3）"
        in out
    )
    assert "请在“部门”列写明与名单一致的部门，或加一列“工号”。" in out
    assert f"{name}:第9行: B列“姓名”(领导姓名): “王五”不在领导干部名单（roster.yaml）中。" in out
    assert f"{name}:第10行: D列“日期”(联系时间): 2099-01-01 晚于今天" in out
    assert f"{name}:第11行: I列“内容”(联系内容): 是公式（=A1&B1），导入时不计算公式。" in out
    assert "未导入的列：A列“序号”（不是联系记录中的项目）" in out
    assert "小计：数据 10 行，新增 6 条，已存在 0 条，疑似重复 0 条，未导入 4 行，空行 1 行。" in out
    assert "试运行（--dry-run）：可新增 6 条记录，4 行未导入（原因见上）；没有写入任何内容。" in out
    assert list((repo / "records").iterdir()) == []


def test_json_and_csv_reports_list_every_row(repo, tmp_path, run):
    sheet = write_messy(tmp_path / "汇总.xlsx")
    data = json.loads(run(repo, "import", str(sheet), "--dry-run", "--format", "json").stdout)
    rows = {r["row"]: r for r in data["files"][0]["rows"]}
    assert rows[9]["result"] == "未导入" and rows[9]["problems"][0]["column"] == "B"
    assert data["files"][0]["counts"] == {"new": 6, "present": 0, "duplicate": 0, "refused": 4, "empty": 1}
    text = run(repo, "import", str(sheet), "--dry-run", "--format", "csv").stdout
    assert text.splitlines()[0] == "\ufeff文件,行,结果,记录编号,列,表头,项目,说明"  # BOM: Excel reads it as UTF-8
    assert f"{sheet},10,未导入,,D,日期,联系时间,2099-01-01 晚于今天" in text


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_with_the_report_on_stdout_the_ending_on_stderr_points_to_it_not_above(repo, tmp_path, run, fmt):
    """``import 老记录.csv --format csv > 导入结果.csv``: the terminal shows only the ending, where nothing is above."""
    sheet = write_messy(tmp_path / "汇总.xlsx")
    done = run(repo, "import", str(sheet), "--dry-run", "--format", fmt)
    assert done.exit_code == 1
    assert "见上" not in done.stderr and "上面" not in done.stderr, done.stderr
    column = "“problems”和“error”" if fmt == "json" else "“说明”"
    assert f"4 行未导入（原因见报告中的{column}）" in done.stderr
    assert "见上" not in done.stdout


CSV_ROWS = [
    "姓名,部门,联系时间,联系地点,人员规模,联系对象,学生联系人,联系内容,学生反馈的意见建议,备注",
    '赵某,学生工作处,2023/9/1,图书馆101,50人,国旗护卫队,刘某,"座谈交流，\n了解情况。",希望延长开放时间。,',
    "张伟,基础医学院,2023年9月2日,示教室,约20,2023级临床1班,王某,谈学业规划,,无",
]


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-8"])
def test_csv_in_gb18030_and_utf8_with_bom_reads_the_same(repo, tmp_path, encoding):
    path = tmp_path / f"{encoding}.csv"
    path.write_bytes("\r\n".join(CSV_ROWS).encode(encoding))
    plan = plan_import([(path.name, path.read_bytes())], context(repo))
    assert [r.status for r in plan.files[0].rows] == [NEW, NEW]
    first, second = (r.data for r in plan.files[0].rows)
    assert first["content"] == "座谈交流，\n了解情况。" and first["date"] == datetime.date(2023, 9, 1)
    assert second["leader_id"] == "T3" and second["size"] == 20 and second["remarks"] == "无"
    assert [r.raw for r in plan.files[0].rows] == [r.raw for r in _utf8_plan(repo, tmp_path).files[0].rows]


def _utf8_plan(repo, tmp_path):
    path = tmp_path / "reference.csv"
    path.write_text("\n".join(CSV_ROWS), encoding="utf-8")
    return plan_import([(path.name, path.read_bytes())], context(repo))


def _encrypted() -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096)


def _many_rows() -> bytes:
    lines = [CSV_ROWS[0]] + [f"赵某,学生工作处,2023/9/1,图书馆,5,第{n}组,刘某,座谈,," for n in range(100_000)]
    return "\n".join(lines).encode("utf-8")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("记录.xlsx", b"%PDF-1.7\n%binary\x00\x01", "内容不是 Excel 工作簿"),
        ("说明.docx", b"PK\x03\x04not really a zip", "无法作为 Excel 工作簿读取"),
        ("记录.pdf", b"%PDF-1.7\n", "不是电子表格"),
        ("加密.xlsx", _encrypted(), "加密（设置了打开密码）的 Excel 文件"),
        ("空.csv", b"", "文件是空的"),
        ("只有表头.csv", CSV_ROWS[0].encode("utf-8"), "表头下面没有数据行"),
        ("十万行.csv", _many_rows(), "超过 20000 行"),
        ("无表头.csv", "甲,乙,丙\n1,2,3\n".encode(), "找不到表头"),
    ],
)
def test_a_bad_file_gets_one_clear_message_and_writes_nothing(repo, tmp_path, run, name, content, message):
    commit_all(repo)
    path = tmp_path / name
    path.write_bytes(content)
    result = run(repo, "import", str(path))
    assert result.exit_code == 1
    assert message in result.output
    assert "本次没有写入任何内容" in result.output
    assert git(repo, "branch", "--list", "import/*") == ""


def test_a_bad_file_among_good_ones_stops_the_whole_import(repo, tmp_path, run):
    commit_all(repo)
    good = write_messy(tmp_path / "好.xlsx")
    bad = tmp_path / "坏.xlsx"
    bad.write_bytes(_encrypted())
    result = run(repo, "import", str(good), str(bad))
    assert result.exit_code == 1 and git(repo, "branch", "--list", "import/*") == ""


def test_import_commits_on_a_new_branch_and_a_second_import_adds_nothing(repo, tmp_path, run):
    write_record(repo, record_data(date=datetime.date(2019, 1, 1), target="老记录"))
    head = commit_all(repo)
    sheet = write_messy(tmp_path / "汇总.xlsx")
    result = run(repo, "import", str(sheet), "--branch", "import/2020汇总")
    assert result.exit_code == 1  # four rows refused
    assert "已提交 6 条新记录到分支 import/2020汇总" in result.output and "4 行未导入（原因见上）" in result.output
    assert "退出码为 1，表示只导入了一部分" in result.output and "git push" not in result.output
    assert result.output.rstrip().endswith(f"import '{sheet}' --branch 'import/2020汇总' --push")
    assert git(repo, "rev-parse", "HEAD") == head and git(repo, "status", "--porcelain") == ""
    message = git(repo, "log", "-1", "--format=%B", "import/2020汇总")
    sha = __import__("hashlib").sha256(sheet.read_bytes()).hexdigest()
    assert f"Import-Source: 汇总.xlsx sha256:{sha}" in message and "导入联系记录 6 条" in message
    added = git(repo, "diff", "--name-only", head, "import/2020汇总").splitlines()
    assert len(added) == 6 and all(p.startswith("records/20") for p in added)

    git(repo, "merge", "-q", "--ff-only", "import/2020汇总")
    assert run(repo, "check").exit_code == 0
    again = run(repo, "import", str(sheet))
    assert "新增 0 条，已存在 6 条" in again.output and "没有新的记录，没有创建分支；4 行未导入" in again.output
    assert git(repo, "branch", "--list", "import/*") == "import/2020汇总"


def test_importing_the_same_files_twice_before_review_is_noticed(repo, tmp_path, run):
    commit_all(repo)
    sheet = tmp_path / "a.csv"
    sheet.write_text("\n".join(CSV_ROWS), encoding="utf-8")
    assert run(repo, "import", str(sheet)).exit_code == 0
    first = git(repo, "rev-parse", "--all")
    second = run(repo, "import", str(sheet))
    assert second.exit_code == 0 and "此前已由同一导入提交，这次没有重复提交" in second.output
    assert git(repo, "rev-parse", "--all") == first
    write_record(repo, record_data(date=datetime.date(2019, 1, 1), target="新提交"))
    commit_all(repo)  # main moved on: the old branch is no longer this import
    third = run(repo, "import", str(sheet))
    assert third.exit_code == 1 and "已经存在，但其中的提交与这次导入不同" in third.output


def test_a_row_like_an_existing_record_is_a_likely_duplicate(repo, tmp_path):
    write_record(repo, record_data(date=datetime.date(2023, 9, 1), target="国旗护卫队", content="另一种写法"))
    path = tmp_path / "a.csv"
    path.write_text("\n".join([*CSV_ROWS, CSV_ROWS[1].replace("图书馆101", "图书馆102")]), encoding="utf-8")
    plan = plan_import([(path.name, path.read_bytes())], context(repo))
    rows = plan.files[0].rows
    assert [r.status for r in rows] == [DUPLICATE, NEW, DUPLICATE]
    assert rows[0].same_as.startswith("records/2023/2023-09-01-T1-")
    assert rows[2].same_as == rows[0].same_as


def test_every_sheet_with_a_header_is_imported_and_repeats_across_sheets_are_caught(repo, tmp_path):
    book = openpyxl.Workbook()
    book.active.title = "说明"
    book.active.append(["本工作簿按学期分表"])
    for title, rows in (("2023秋", CSV_ROWS[1:]), ("2024春", CSV_ROWS[2:])):
        sheet = book.create_sheet(title)
        sheet.append(CSV_ROWS[0].split(","))
        for line in rows:
            sheet.append(next(__import__("csv").reader([line.replace("\n", " ")])))
    path = tmp_path / "分学期.xlsx"
    book.save(path)
    plan = plan_import([(path.name, path.read_bytes())], context(repo))
    assert [(r.sheet, [row.status for row in r.rows]) for r in plan.files] == [
        ("2023秋", [NEW, NEW]),
        ("2024春", [DUPLICATE]),
    ]
    assert plan.files[1].rows[0].same_as == "分学期.xlsx 工作表“2023秋” 第 3 行"
    assert plan.files[0].skipped_sheets == ["说明"]


def test_a_closed_semester_needs_a_reopen_reason(repo, tmp_path, run):
    (repo / "config.yaml").write_text(
        (repo / "config.yaml").read_text(encoding="utf-8") + "closed_semesters:\n  2023-2024-1: 2024-02-20\n",
        encoding="utf-8",
    )
    commit_all(repo)
    path = tmp_path / "a.csv"
    path.write_text("\n".join(CSV_ROWS), encoding="utf-8")
    refused = run(repo, "import", str(path), "--dry-run")
    assert "属于已关闭的2023-2024学年第一学期" in refused.output and "--reopen-reason" in refused.output
    done = run(repo, "import", str(path), "--reopen-reason", "补录系统上线前的纸质记录")
    assert done.exit_code == 0, done.output
    branch = git(repo, "branch", "--list", "import/*", "--format=%(refname:short)")
    assert "Reopen-Reason: 补录系统上线前的纸质记录" in git(repo, "log", "-1", "--format=%B", branch)


def test_push_opens_a_merge_request_with_the_forms_push_options(repo, tmp_path, run):
    commit_all(repo)
    remote = push_options_remote(repo, tmp_path)
    path = tmp_path / "a.csv"
    path.write_text("\n".join(CSV_ROWS), encoding="utf-8")
    result = run(repo, "import", str(path), "--push")
    assert result.exit_code == 0, result.output
    options = (remote / "options.log").read_text(encoding="utf-8")
    assert "merge_request.create" in options and "merge_request.target=main" in options
    assert "merge_request.title=导入联系记录 2 条：a.csv" in options


def _export_table2(root: Path) -> bytes:
    project = open_project(root)
    records, _ = read_records(project)
    date_range = resolve_range(project.config.calendar, "2023-2024-1")
    chosen = [r for r in records if r.date in date_range]
    stamp = datetime.datetime(2024, 2, 1, tzinfo=datetime.UTC)
    return build_workbook(chosen, project.roster, project.schema, project.config, date_range, stamp, "测试")


SEMESTER_RECORDS = [
    record_data(date=datetime.date(2023, 9, 10), content="第一段。\n第二段：  缩进保留。", feedback=""),
    record_data(date=datetime.date(2023, 10, 1), target="no", student_contact="0123", remarks="2020-06-20"),
    record_data(
        leader_id="T3",
        leader="张伟",
        department="基础医学院",
        position="党委书记（时任）",
        date=datetime.date(2023, 11, 5),
    ),
    record_data(date=datetime.date(2023, 12, 1), content="=SUM(A1:A2) 不是公式", feedback="- 建议一\n- 建议二"),
    record_data(leader_id="T4", leader="阿依古丽·买买提", department="护理学院", date=datetime.date(2024, 1, 2)),
]


def test_round_trip_exported_table2_imports_as_the_same_records(repo, tmp_path, run):
    source = tmp_path / "source"
    shutil.copytree(repo, source)
    for n, data in enumerate(SEMESTER_RECORDS):
        write_record(source, data, suffix=f"{n:06x}")
    write_record(source, record_data(date=datetime.date(2024, 3, 1), target="下学期"), suffix="ffffff")
    workbook = tmp_path / "联系情况汇总表.xlsx"
    workbook.write_bytes(_export_table2(source))

    commit_all(repo)
    result = run(repo, "import", str(workbook), "--branch", "import/round-trip")
    assert result.exit_code == 0, result.output
    assert "工作表“表2 联系内容汇总”" in result.output and "新增 5 条" in result.output
    assert "未读取的工作表：“表1 联系次数汇总”" in result.output
    git(repo, "merge", "-q", "--ff-only", "import/round-trip")
    expected = {p.relative_to(source): p.read_bytes() for p in (source / "records").rglob("*.yaml")}
    got = {p.relative_to(repo): p.read_bytes() for p in (repo / "records").rglob("*.yaml")}
    del expected[next(p for p in expected if "ffffff" in p.name)]
    assert got == expected  # same ids, same bytes

    again = run(repo, "import", str(workbook))
    assert "新增 0 条，已存在 5 条" in again.output and again.exit_code == 0


def test_round_trip_without_the_record_id_column_gives_the_same_content(repo, tmp_path):
    for n, data in enumerate(SEMESTER_RECORDS):
        write_record(repo, data, suffix=f"{n:06x}")
    book = openpyxl.load_workbook(__import__("io").BytesIO(_export_table2(repo)))
    sheet = book["表2 联系内容汇总"]
    sheet.delete_cols(sheet.max_column)  # 记录编号
    path = tmp_path / "表2.xlsx"
    book.save(path)
    originals = {r.path: r for r in read_records(open_project(repo))[0]}
    empty = tmp_path / "empty"
    shutil.copytree(repo, empty)
    shutil.rmtree(empty / "records")
    (empty / "records").mkdir()
    plan = plan_import([(path.name, path.read_bytes())], context(empty))
    assert sorted(r.raw for r in plan.new_rows) == sorted(r.raw for r in originals.values())
    # Into the repository that has them: every row is present, whatever its id.
    present = plan_import([(path.name, path.read_bytes())], context(repo))
    assert {r.status for r in present.files[0].rows} == {PRESENT}


def test_aliases_come_from_the_schema():
    leader = SCHEMA.field("leader")
    assert "姓名" in leader.aliases and "意见建议" in SCHEMA.field("feedback").aliases


def test_the_shipped_sample_imports_into_the_demo_data(run):
    sample = PROJECT / "docs" / "import-sample.xlsx"
    result = run(PROJECT, "import", str(sample), "--dry-run", "--format", "json")
    data = json.loads(result.stdout)
    assert data["files"][0]["counts"] == {"new": 6, "present": 0, "duplicate": 0, "refused": 2, "empty": 0}


def test_the_import_guide_lists_the_schemas_aliases():
    guide = (PROJECT / "docs" / "import.md").read_text(encoding="utf-8")
    for f in SCHEMA.fields:
        assert f"| {f.label} | {'、'.join(f.aliases)} |" in guide


def test_the_import_guide_shows_the_commands_real_output(run, monkeypatch):
    monkeypatch.chdir(PROJECT)  # the guide runs it from the repository root
    guide = (PROJECT / "docs" / "import.md").read_text(encoding="utf-8")
    shown = guide.split("输出：\n\n```\n", 1)[1].split("```", 1)[0]
    result = run(PROJECT, "import", "docs/import-sample.xlsx", "--dry-run")
    assert result.output == shown


def test_blank_rows_below_the_table_are_not_rows_and_a_long_blank_run_ends_it(repo, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    for line in CSV_ROWS:
        sheet.append(next(__import__("csv").reader([line.replace("\n", " ")])))
    sheet.cell(row=1500, column=1).font = openpyxl.styles.Font(bold=True)  # formatted, empty
    sheet.cell(row=1600, column=2, value="表格下方很远处的备注")  # after a run of 1,000+ blank rows
    path = tmp_path / "a.xlsx"
    book.save(path)
    plan = plan_import([(path.name, path.read_bytes())], context(repo))
    assert [(r.row, r.status) for r in plan.files[0].rows] == [(2, NEW), (3, NEW)]


def test_the_record_id_column_is_the_one_the_exports_write():
    from liaison.core.importplan import RECORD_ID_HEADERS
    from liaison.outputs.formats import ID_LABEL
    from liaison.outputs.workbook import ID_HEADER

    assert ID_HEADER in RECORD_ID_HEADERS and ID_LABEL in RECORD_ID_HEADERS


def test_a_rows_record_id_is_derived_from_its_content(repo, tmp_path):
    """Two imports of one file, even before either is merged, name each record the same."""
    import hashlib

    path = tmp_path / "a.csv"
    path.write_text("\n".join(CSV_ROWS), encoding="utf-8")
    first, second = (plan_import([(path.name, path.read_bytes())], context(repo)) for _ in range(2))
    assert [r.record_id for r in first.new_rows] == [r.record_id for r in second.new_rows]
    for row in first.new_rows:
        assert row.record_id.endswith("-" + hashlib.sha256(row.raw).hexdigest()[:6])
        assert row.path == f"records/{row.record_id[:4]}/{row.record_id}.yaml"


LONG_RECORDS = [
    record_data(
        date=datetime.date(2023, 9, 12),
        content="第一段：与同学们座谈，了解学习和生活情况。\n" + "=逐一回应，-记录在案；@学生会 " * 1100 + "完。",
        feedback="反馈：" + "希望延长自习室开放时间。" * 250,
    ),
    record_data(leader_id="T3", leader="张伟", department="基础医学院", date=datetime.date(2023, 10, 3), remarks="短"),
    record_data(date=datetime.date(2023, 11, 5), content="字" * 3000, remarks="备注" * 1500),
]


def _exported_long_semester(repo: Path, tmp_path: Path) -> tuple[Path, dict]:
    for n, data in enumerate(LONG_RECORDS):
        write_record(repo, data, suffix=f"{n:06x}")
    path = tmp_path / "联系情况汇总表.xlsx"
    path.write_bytes(_export_table2(repo))
    return path, {r.path: r for r in read_records(open_project(repo))[0]}


def _emptied(repo: Path, tmp_path: Path) -> Path:
    empty = tmp_path / "empty"
    shutil.copytree(repo, empty)
    shutil.rmtree(empty / "records")
    (empty / "records").mkdir()
    return empty


def test_round_trip_joins_the_continued_rows_of_long_texts(repo, tmp_path):
    path, originals = _exported_long_semester(repo, tmp_path)
    sheet = openpyxl.load_workbook(path)["表2 联系内容汇总"]
    assert sum(1 for (serial,) in sheet.iter_rows(min_row=4, max_col=1, values_only=True) if serial == "（续）") > 10
    plan = plan_import([(path.name, path.read_bytes())], context(_emptied(repo, tmp_path)))
    assert [r.status for r in plan.files[0].rows] == [NEW] * len(LONG_RECORDS)  # one row a record, none refused
    assert {r.path: r.raw for r in plan.new_rows} == {p: r.raw for p, r in originals.items()}


def test_round_trip_without_the_record_id_column_still_joins_by_the_marker(repo, tmp_path):
    path, originals = _exported_long_semester(repo, tmp_path)
    book = openpyxl.load_workbook(path)
    sheet = book["表2 联系内容汇总"]
    sheet.delete_cols(sheet.max_column)  # 记录编号
    book.save(path)
    plan = plan_import([(path.name, path.read_bytes())], context(_emptied(repo, tmp_path)))
    assert sorted(r.raw for r in plan.new_rows) == sorted(r.raw for r in originals.values())


def test_a_continued_row_that_does_not_follow_its_record_is_refused_with_its_record(repo, tmp_path):
    path, _ = _exported_long_semester(repo, tmp_path)
    book = openpyxl.load_workbook(path)
    sheet = book["表2 联系内容汇总"]
    rows = [row for row in sheet.iter_rows(min_row=4) if row[0].value == "（续）"]
    moved = rows[0][0].row
    sheet.cell(row=moved, column=sheet.max_column, value="2023-11-05-T1-000002")  # as if sorted into another record
    sheet.insert_rows(4)
    for cell in rows[-1]:
        sheet.cell(row=4, column=cell.column, value=cell.value)  # a continued row at the top: nothing above it
    book.save(path)
    report = plan_import([(path.name, path.read_bytes())], context(_emptied(repo, tmp_path))).files[0]
    refused = {r.row: " ".join(p.message for p in r.problems) for r in report.rows if r.status == REFUSED}
    assert "上面却没有它接续的记录" in refused[4]
    assert "记录编号却与它上面的" in refused[moved + 1]
    assert "不能确定这条记录的文字是否完整" in refused[5]  # the record it seemed to continue: never half imported


SPLICED = {
    # (序号 of the second row, its 记录编号, what else it holds): a row marked or numbered as a continuation that is
    # another record (another leader, day, place …): its text must not be spliced into the record above, silently.
    "another record marked continued": ("（续）", "", "张伟,2023-10-03,体育馆,80,研究生会,王某,另一次联系的全部内容。"),
    "another day marked continued": ("（续）", "", ",2023-10-04,,,,,第二天的内容。"),
    "the same record id, other content": ("（续）", "2023-09-12-T1-000000", ",,图书馆,9,新生班,刘某,另一份内容。"),
    # No 序号 column (deleted): a row with the 记录编号 of the row above and nothing but identity and long text.
    "the same record id, no serial column, another day": (None, "2023-09-12-T1-000000", "赵某,2023-10-04,,,,,第二天。"),
}


@pytest.mark.parametrize("case", list(SPLICED))
def test_a_continued_row_that_holds_another_records_values_is_refused_with_its_record(repo, tmp_path, case):
    serial, record_id, rest = SPLICED[case]
    header = "序号,领导姓名,联系时间,联系地点,人员规模,联系对象,学生联系人,联系内容,记录编号"
    first = "1,赵某,2023-09-12,图书馆,5,新生班,刘某,座谈第一部分。,2023-09-12-T1-000000"
    second = f"{serial},{rest},{record_id}"
    if serial is None:
        header, first, second = (line.split(",", 1)[1] for line in (header, first, second))
    path = tmp_path / "拼接.csv"
    path.write_text(f"{header}\n{first}\n{second}\n", encoding="utf-8")
    report = plan_import([(path.name, path.read_bytes())], context(repo)).files[0]
    statuses = {row.row: row.status for row in report.rows}
    assert statuses == {2: REFUSED, 3: REFUSED}, [
        (r.row, r.status, [p.message for p in r.problems]) for r in report.rows
    ]
    first_row = next(row for row in report.rows if row.row == 2)
    assert first_row.data.get("content") == "座谈第一部分。"  # nothing of the row below spliced into it
    said = " ".join(p.message for row in report.rows for p in row.problems)
    assert "（续）" in said or "记录编号" in said


def test_round_trip_without_the_serial_column_joins_by_the_record_id(repo, tmp_path):
    path, originals = _exported_long_semester(repo, tmp_path)
    book = openpyxl.load_workbook(path)
    book["表2 联系内容汇总"].delete_cols(1)  # 序号, and with it the （续） marks
    book.save(path)
    plan = plan_import([(path.name, path.read_bytes())], context(_emptied(repo, tmp_path)))
    assert [r.status for r in plan.files[0].rows] == [NEW] * len(LONG_RECORDS)
    assert sorted(r.raw for r in plan.new_rows) == sorted(r.raw for r in originals.values())


@pytest.mark.parametrize(
    "typed", ["2020-6-20", "2020/6/20", "2020.6.20", "2020。6。20", "2020年6月20日", "20200620", "２０２０－６－２０"]
)
def test_a_date_is_read_however_the_form_would_read_it(typed):
    """The import reads a typed date as the form does (one pattern, core.dates.TYPED_DATE): 。 is the period
    key of a Chinese input method, full-width digits come from its 全角 mode."""
    from liaison.core.importplan import to_date

    assert to_date(typed, datetime.datetime(1899, 12, 30)) == (datetime.date(2020, 6, 20), "")


def test_a_fifo_given_to_import_is_refused_not_waited_on(repo, tmp_path):
    """``import`` reads what it is given: a named pipe (or a device) would block the command for ever."""
    import os
    import subprocess
    import sys

    commit_all(repo)
    pipe = tmp_path / "汇总.xlsx"
    os.mkfifo(pipe)
    done = subprocess.run(
        [sys.executable, str(PROJECT / "build.py"), "--root", str(repo), "import", str(pipe), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and f"{pipe} 不是普通文件" in done.stderr + done.stdout, done.stderr
    assert "Traceback" not in done.stderr
