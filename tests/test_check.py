"""``build.py check``: every broken file is named with its line and field; the demo data passes."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from conftest import PROJECT, SCHEMA, record_data, replace_field, write_record

from liaison.core.records import dump_record

GOOD = dump_record(record_data(), SCHEMA)


def line_of(text: str, key: str) -> int:
    """The 1-based line where ``key:`` starts in ``text``."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(f"{key}:"))


def edit(key: str, new_line: str) -> str:
    return replace_field(GOOD, key, new_line)


# (case, file text, key whose line is expected or None for the whole file, field named or "", word in message)
BROKEN = [
    ("duplicate key", GOOD + "place: 行政楼\n", None, "", "重复"),
    ("alias", edit("remarks", "remarks: *x"), "remarks", "", "别名"),
    ("unknown tag", edit("remarks", "remarks: !!python/object:os.system ls"), "remarks", "", "标签"),
    ("size with a unit", edit("size", "size: 50人"), "size", "size", "整数"),
    ("impossible date", edit("date", "date: 2024-02-30"), "date", "date", "不是真实存在的日期"),
    (
        "leader not in roster",
        edit("leader_id", "leader_id: T9").replace("-T1-", "-T9-"),
        "leader_id",
        "leader_id",
        "不在领导干部名单",
    ),
    ("leader name not the roster's", edit("leader", "leader: 赵某某"), "leader", "leader", "赵某"),
    ("unknown field", GOOD + "signature: 赵某\n", "signature", "signature", "不是可以填写的项目"),
    ("empty place", edit("place", "place: ''"), "place", "place", "不能为空"),
    ("top level a list", "- a\n- b\n", None, "", "字段: 值"),
]


@pytest.mark.parametrize("case, text, key, field, word", BROKEN, ids=[b[0] for b in BROKEN])
def test_check_names_the_file_line_and_field(repo, run, case, text, key, field, word):
    path = write_record(repo, text=text)
    result = run(repo, "check")
    assert result.exit_code == 1, result.output
    problem_lines = [line for line in result.output.splitlines() if line.startswith(path)]
    assert problem_lines, result.output
    if key is not None:
        expected_line = line_of(text, key)
        assert any(line.startswith(f"{path}:{expected_line}:") for line in problem_lines), result.output
    if field:
        subject = f"{SCHEMA.field(field).label}({field})" if SCHEMA.field(field) else field
        assert any(f": {subject}: " in line for line in problem_lines), result.output
    assert any(word in line for line in problem_lines), result.output
    assert "检查未通过" in result.output.splitlines()[-1]


def test_duplicate_key_names_the_second_occurrence(repo, run):
    text = GOOD + "place: 行政楼\n"
    path = write_record(repo, text=text)
    result = run(repo, "check")
    second = len(text.splitlines())
    assert f"{path}:{second}: " in result.output
    assert f"第一次在第 {line_of(GOOD, 'place')} 行" in result.output


def test_non_utf8_file_is_named_with_its_line(repo, run):
    path = write_record(repo, text=GOOD.encode("gbk"))
    result = run(repo, "check")
    first_chinese = next(n for n, line in enumerate(GOOD.splitlines(), 1) if not line.isascii())
    assert result.exit_code == 1
    assert f"{path}:{first_chinese}: " in result.output and "UTF-8" in result.output


def test_oversized_file_is_named(repo, run):
    path = write_record(repo, text=GOOD + "# " + "x" * 300_000 + "\n")
    result = run(repo, "check")
    assert result.exit_code == 1 and f"{path}: 文件过大" in result.output


def test_every_problem_in_every_file_is_reported(repo, run):
    first = write_record(repo, text=replace_field(edit("size", "size: 50人"), "place", "place: ''") + "x: 1\n")
    second = write_record(repo, record_data(leader="张三", content="另一次联系"), suffix="def456")
    write_record(repo, record_data(content="第三次联系"), suffix="0a0a0a")  # a clean one
    result = run(repo, "check")
    lines = [line for line in result.output.splitlines() if line.startswith("records/")]
    assert sum(line.startswith(first) for line in lines) == 3
    assert sum(line.startswith(second) for line in lines) == 1
    assert "共 4 处" in result.output


def test_clean_repository_passes(repo, run):
    write_record(repo)
    result = run(repo, "check")
    assert result.exit_code == 0, result.output
    assert "检查通过" in result.output


def test_demo_data_passes_check(run):
    result = run(PROJECT, "check")
    assert result.exit_code == 0, result.output
    assert re.search(r"检查通过：\d+ 个文件", result.output)


def test_build_py_is_the_entry_point():
    completed = subprocess.run(
        [sys.executable, "build.py", "check"], cwd=PROJECT, capture_output=True, text=True, encoding="utf-8", timeout=60
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "检查通过" in completed.stdout


def test_stray_files_in_records_are_reported_not_ignored(repo, run):
    write_record(repo)
    (repo / "records" / "2024" / "2024-09-16-T1-aaaaaa.yml").write_text(GOOD, encoding="utf-8")
    (repo / "records" / "README.md").write_text("说明", encoding="utf-8")
    result = run(repo, "check")
    assert result.exit_code == 1
    assert "records/2024/2024-09-16-T1-aaaaaa.yml: 不是联系记录文件" in result.output
    assert "README.md" not in result.output


def test_same_record_id_in_two_folders_is_reported_on_both(repo, run):
    first = write_record(repo)
    second = "records/2025/" + first.rsplit("/", 1)[1]
    write_record(repo, path=second)
    result = run(repo, "check")
    assert f"{first}: 记录编号" in result.output and f"{second}: 记录编号" in result.output


def test_a_resubmitted_identical_record_is_flagged(repo, run):
    first = write_record(repo, suffix="111111")
    second = write_record(repo, suffix="222222")
    result = run(repo, "check")
    assert result.exit_code == 1
    assert f"{first}: 与 {second}" in result.output and "重复提交" in result.output


def test_checking_given_paths_still_compares_with_the_rest(repo, run):
    existing = write_record(repo, suffix="111111")
    new = write_record(repo, suffix="222222")  # a resubmission of the same contact
    broken_elsewhere = write_record(repo, record_data(leader="错名", content="另一次联系"), suffix="333333")
    result = run(repo, "check", str(repo / new))
    assert result.exit_code == 1
    assert f"{new}: 与 {existing}" in result.output
    assert broken_elsewhere not in result.output  # only the given file is reported


def test_given_path_that_does_not_exist(repo, run):
    result = run(repo, "check", str(repo / "records/2024/2024-09-15-T1-ffffff.yaml"))
    assert result.exit_code == 1 and "文件不存在" in result.output


def test_junit_report_has_a_case_per_file_and_fails_the_broken_one(repo, run, tmp_path):
    good = write_record(repo, suffix="111111")
    bad_text = dump_record(record_data(content="另一次联系"), SCHEMA).replace("size: 50", "size: 50人")
    bad = write_record(repo, text=bad_text, suffix="222222")
    report = tmp_path / "report.xml"
    result = run(repo, "check", "--format", "junit", "--output", str(report))
    assert result.exit_code == 1
    suite = ET.parse(report).getroot().find("testsuite")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert {good, bad, "config.yaml", "roster.yaml"} <= set(cases)
    assert cases[good].find("failure") is None
    failure = cases[bad].find("failure")
    assert failure is not None and "人员规模(size)" in failure.text
    assert suite.get("failures") == "1"


@pytest.mark.parametrize(
    "name", ["x\x1b[2J\x01.yaml", "x\udcff\udcfe.yaml", "x\uffff.yaml"], ids=["escapes", "not-utf-8", "noncharacter"]
)
def test_junit_report_stays_xml_whatever_a_file_is_named(repo, run, tmp_path, name):
    """A merge request can name a file with control characters or bytes that are not UTF-8: the report GitLab
    parses must still be XML (else the merge request's test report shows nothing), naming it visibly."""
    import os

    write_record(repo, suffix="111111")
    (repo / "records" / "2024").mkdir(parents=True, exist_ok=True)
    with open(os.fsencode(repo / "records" / "2024") + b"/" + os.fsencode(name), "wb") as file:
        file.write(b"leader_id: T1\n")
    report = tmp_path / "report.xml"
    result = run(repo, "check", "--format", "junit", "--output", str(report))
    assert result.exit_code == 1 and not isinstance(result.exception, UnicodeError), result.exception
    cases = [case.get("name") for case in ET.parse(report).getroot().iter("testcase")]
    assert any(case.startswith("records/2024/x\\") for case in cases), cases


def test_junit_needs_an_output_file(repo, run):
    result = run(repo, "check", "--format", "junit")
    assert result.exit_code != 0 and "--output" in result.output


ROSTER_BROKEN = [
    (
        "unquoted mobile",
        "  - {id: T5, name: 钱某, department: 团委, position: 书记, login: qian, mobile: 13800000000, active: true}\n",
        "leaders.4.mobile",
        "加引号",
    ),
    (
        "duplicate id",
        "  - {id: T1, name: 钱某, department: 团委, position: 书记, login: qian, active: true}\n",
        "leaders.4.id",
        "重复",
    ),
    (
        "duplicate login",
        "  - {id: T5, name: 钱某, department: 团委, position: 书记, login: zhao, active: true}\n",
        "leaders.4.login",
        "重复",
    ),
    (
        "missing active",
        "  - {id: T5, name: 钱某, department: 团委, position: 书记, login: qian}\n",
        "leaders.4.active",
        "缺少",
    ),
    (
        "id with a dash",
        "  - {id: T-5, name: 钱某, department: 团委, position: 书记, login: qian, active: true}\n",
        "leaders.4.id",
        "格式不对",
    ),
]


@pytest.mark.parametrize("case, extra, field, word", ROSTER_BROKEN, ids=[r[0] for r in ROSTER_BROKEN])
def test_roster_problems_name_the_line_and_field(repo, run, case, extra, field, word):
    roster = (repo / "roster.yaml").read_text(encoding="utf-8") + extra
    (repo / "roster.yaml").write_text(roster, encoding="utf-8")
    result = run(repo, "check")
    assert result.exit_code == 1
    line = len(roster.splitlines())
    assert any(
        row.startswith(f"roster.yaml:{line}: ") and f"({field}): " in row and word in row
        for row in result.output.splitlines()
    ), result.output


def test_config_problems_are_reported(repo, run):
    (repo / "config.yaml").write_text(
        "school: 测试大学\noffice: 思政科\ntimezone: Mars/Base\nsemester_starts:\n  2024-2025-2: 2024-08-01\n",
        encoding="utf-8",
    )
    result = run(repo, "check")
    assert result.exit_code == 1
    assert "config.yaml:3: 时区(timezone): 未知的时区" in result.output
    assert "config.yaml:5: " in result.output and "相差超过两个月" in result.output


def test_not_a_repository_is_a_clear_error(tmp_path, run):
    result = run(tmp_path, "check")
    assert result.exit_code == 1
    assert "不是联系记录仓库" in result.output
