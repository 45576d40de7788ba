"""The command line speaks Chinese: every --help, every usage error, and leaders asked for by pinyin."""

from __future__ import annotations

import shutil

import pytest
from conftest import PROJECT, built_copy, commit_all, fill_repo, record_data, write_record
from english import english_words

from liaison.cli import cli

COMMANDS = sorted(cli.commands)


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_every_help_text_is_chinese(run, repo, command):
    args = [command, "--help"] if command else ["--help"]
    done = run(repo, *args)
    assert done.exit_code == 0, done.output
    assert "用法：" in done.output and "显示本帮助并退出" in done.output
    assert "Show this message" not in done.output and "Usage" not in done.output
    assert english_words(done.output) == []


USAGE_ERRORS = [
    # (arguments, a Chinese phrase the error must contain)
    (["exprot"], "没有“exprot”这个命令"),
    (["query", "--bogus"], "没有 --bogus 这个选项"),
    (["query", "--order", "sideways"], "不是可选的值"),
    (["query", "--leader"], "后面需要一个值"),
    (["pdf", "--jobs", "abc"], "不是整数"),
    (["pdf", "--jobs", "0"], "不在允许的范围"),
    (["query", "extra"], "多了一个参数"),
    (["verify", "/nonexistent/export"], "不存在"),
    (["history"], "缺少参数"),
]


@pytest.mark.parametrize("args, phrase", USAGE_ERRORS, ids=[" ".join(args) for args, _ in USAGE_ERRORS])
def test_usage_errors_are_chinese(run, repo, args, phrase):
    done = run(repo, *args)
    assert done.exit_code == 2
    assert phrase in done.output, done.output
    assert "错误：" in done.output and "Error" not in done.output
    assert english_words(done.output, {"sideways", "abc", "extra", "exprot", "bogus", "nonexistent"}) == []


def test_a_mistyped_command_suggests_the_right_one_in_chinese(run, repo):
    done = run(repo, "exprot")
    assert "您要找的是不是 'export'" in done.output


@pytest.fixture
def namesakes(tmp_path_factory, tmp_path):
    """Records of 赵某 and of one of the two 张伟, committed: made once per run and copied (``built_copy``)."""
    return built_copy(tmp_path_factory, "chinese-cli-namesakes", build_namesakes, tmp_path / "repo")


def build_namesakes(repo) -> None:
    fill_repo(repo)
    shutil.copytree(PROJECT / "templates", repo / "templates")
    shutil.copytree(PROJECT / "site", repo / "site")
    write_record(repo, record_data(), suffix="aaaaaa")
    write_record(
        repo,
        record_data(leader_id="T2", leader="张伟", department="学生工作处", position="处长", target="学生会"),
        suffix="bbbbbb",
    )
    commit_all(repo)


@pytest.mark.parametrize(
    "typed", ["zm", "ZM", "zhaomou", "Zhao Mou", "赵某", "zhao", "Zhao", "zhaom", "ｚｍ", "Ｚｈａｏ"]
)
def test_a_leader_is_found_by_name_full_pinyin_or_initials(run, namesakes, typed):
    done = run(namesakes, "query", "--leader", typed, "--from", "2024-01-01", "--to", "2024-12-31")
    assert done.exit_code == 0, done.output
    assert "赵某（学生工作处，工号 T1）" in done.output and "共 1 条记录" in done.output


@pytest.mark.parametrize("typed", ["zw", "zhangwei", "张伟"])
def test_pinyin_shared_by_namesakes_asks_for_the_id(run, namesakes, typed):
    done = run(namesakes, "query", "--leader", typed, "--from", "2024-01-01", "--to", "2024-12-31")
    assert done.exit_code != 0
    assert "--leader-id T2" in done.output and "--leader-id T3" in done.output


@pytest.mark.parametrize(
    "name, typed",
    [("曾国藩", "zeng"), ("曾国藩", "zgf"), ("曾国藩", "cengguofan"), ("单雄信", "shan"), ("赵敏", "zhaomin")],
)
def test_a_surname_read_its_own_way_is_found_by_either_reading(name, typed):
    from liaison.core.pinyin import matches_pinyin

    assert matches_pinyin(name, typed)
    assert not matches_pinyin(name, typed + "q")


def test_pinyin_works_for_pdf_too(run, namesakes, tmp_path):
    done = run(namesakes, "pdf", "--leader", "zm", "--out", str(tmp_path / "out"))
    assert done.exit_code == 0, done.output
    assert [p.parent.name for p in (tmp_path / "out").rglob("*.pdf")] == ["赵某"]


def test_the_brief_query_is_one_line_a_record_and_says_how_to_see_all(run, namesakes):
    done = run(namesakes, "query", "--from", "2024-01-01", "--to", "2024-12-31", "--format", "brief")
    assert done.exit_code == 0, done.output
    lines = done.output.strip().split("\n")
    assert len(lines) == 2 + 2 + 2  # heading, blank, two records, blank, how to see all
    assert "2024-09-15  赵某  国旗护卫队" in done.output and "去掉 --format brief" in done.output


def test_build_names_the_port_it_was_given(run, namesakes, monkeypatch, tmp_path):
    monkeypatch.setenv("PORT", "8765")
    done = run(namesakes, "build", "--out", str(tmp_path / "public"))
    assert "http://127.0.0.1:8765/" in done.output and "8000" not in done.output
