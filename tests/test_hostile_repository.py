"""What a merge request can carry into records/: deep nesting, links, submodules, executables (issue 27, 1-2).

Every such file is one problem naming the path, in every command that reads records; none is ever
followed out of the repository, and none ends a command in a traceback.
"""

from __future__ import annotations

import shutil

import pytest
from conftest import PROJECT, commit_all, git, record_data, write_record

from liaison.core import yamlio
from liaison.core.project import open_project, read_records

DEEP = [
    # (case, the record's text after its first two lines, the line named)
    ("2,000 closed brackets", "content: " + "[" * 2000 + "]" * 2000 + "\n", 3),
    ("100,000 unclosed brackets", "content: " + "[" * 100_000 + "\n", 3),
    ("60,000 flow mappings", "content: " + "{a: " * 60_000 + "\n", 3),
    ("block sequences indented one deeper each", "content:\n" + "".join(" " * i + "-\n" for i in range(500)), 5),
]


@pytest.mark.parametrize("case, tail, line", DEEP, ids=[c for c, _, _ in DEEP])
def test_deep_nesting_in_a_record_is_one_problem_naming_the_line(repo, run, case, tail, line):
    head = "leader_id: T1\nleader: 赵某\n"
    path = write_record(repo, text=head + tail, record_id="2024-09-15-T1-abc123")
    write_record(repo, record_data(), suffix="def456")
    records, problems = read_records(open_project(repo))
    assert [r.id for r in records] == ["2024-09-15-T1-def456"]
    mine = [p for p in problems if p.path == path]
    assert len(mine) == 1 and "嵌套超过 2 层" in mine[0].message and mine[0].line == line
    result = run(repo, "check")
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    assert f"{path}:{line}" in result.output and "Traceback" not in result.output


def test_deep_nesting_is_one_problem_in_query_export_and_the_roster(repo, run):
    path = write_record(repo, text="content: " + "[" * 5000 + "]" * 5000 + "\n", record_id="2024-09-15-T1-abc123")
    write_record(repo, record_data(), suffix="def456")
    result = run(repo, "query", "--format", "brief")
    assert result.exit_code == 1 and not isinstance(result.exception, RecursionError)
    assert path in result.output and "2024-09-15" in result.output
    result = run(repo, "export", "--semester", "2024-2025-1", "--out", str(repo / "out"))
    assert result.exit_code == 1 and not isinstance(result.exception, RecursionError)
    assert path in result.output and not (repo / "out").exists()
    (repo / "roster.yaml").write_text("leaders: " + "[" * 3000 + "]" * 3000 + "\n", encoding="utf-8")
    result = run(repo, "check")
    assert result.exit_code == 1 and "roster.yaml:1" in result.output and "嵌套超过" in result.output


def test_review_names_a_deeply_nested_record(repo, run, tmp_path):
    shutil.copytree(PROJECT / "templates", repo / "templates")
    write_record(repo, record_data(), suffix="def456")
    commit_all(repo)
    git(repo, "checkout", "-q", "-b", "record/x")
    path = write_record(repo, text="content: " + "[" * 3000 + "]" * 3000 + "\n", record_id="2024-09-15-T1-abc123")
    commit_all(repo, "deep")
    result = run(repo, "review", "--base", "main", "--out", str(tmp_path / "review"))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    page = (tmp_path / "review" / "index.html").read_text(encoding="utf-8")
    assert path in page and "嵌套超过 2 层" in page


def test_nesting_as_deep_as_config_schema_is_still_read():
    nested = (
        "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, yamlio.MAX_DEPTH)) + "  " * yamlio.MAX_DEPTH + "v\n"
    )
    assert isinstance(yamlio.parse_yaml(nested), yamlio.Mapping)
    with pytest.raises(yamlio.YamlError):
        yamlio.parse_yaml(
            "a:\n"
            + "".join("  " * i + f"k{i}:\n" for i in range(1, yamlio.MAX_DEPTH + 1))
            + "  " * (yamlio.MAX_DEPTH + 1)
            + "v\n"
        )
