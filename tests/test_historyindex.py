"""The history index is never wrong: every history it gives equals the history read from git at once.

Each test builds a real repository, lets the index see it, changes the
repository the way people and GitLab do (merge requests, moves, deletions,
a rebase, a force-push, a foxtrot merge, a new signing key, a deeper clone)
or damages the index (truncated, overwritten, a row gone, a run killed by
SIGKILL in the middle of its write, two runs at once), and compares the
whole History (changes, signer changes, aliases, mainline, entry) and the
history of every record with ``read_history(..., index=False)``.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT, SCHEMA, built_copy, fill_repo, head_commit
from processes import started
from test_audit import OFFICE, put
from test_audit import run as git
from test_audit_trail import FORM, ZHAO, keys, signer_line  # noqa: F401  (keys is a fixture)

from liaison.core.records import record_path
from liaison.core.schema import Schema
from liaison.git.history import index as historyindex
from liaison.git.history.index import index_path
from liaison.git.history.model import History
from liaison.git.history.read import read_history, record_history
from liaison.outputs.historytext import change_json

R1 = "2025-03-01-T1-111111"
R2 = "2025-03-02-T1-222222"
R3 = "2025-03-03-T1-333333"
R3_MOVED = "2025-03-04-T1-333333"


def commit(root: Path, message: str, who=OFFICE, when="2025-03-01T10:00:00+08:00", sign=None) -> str:
    git(root, "add", "-A")
    signing = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={sign}", "commit", "-S"] if sign else ["commit"]
    git(root, *signing, "-q", "--allow-empty", "-m", message, who=who, committer=FORM if sign else None, when=when)
    return head_commit(root)


def merge_request(root: Path, branch: str, number: int, *changes, who=ZHAO, sign=None, edit_in_merge=None) -> None:
    """A branch with one commit per change, merged with GitLab's message; ``edit_in_merge`` changes the merge."""
    git(root, "checkout", "-q", "-b", branch, "main")
    for n, change in enumerate(changes):
        change()
        commit(root, f"{branch} 第 {n + 1} 次提交", who=who, sign=sign)
    git(root, "checkout", "-q", "main")
    message = f"Merge branch '{branch}' into 'main'\n\nSee merge request school/liaison!{number}"
    git(root, "merge", "-q", "--no-ff", "--no-commit", branch)
    if edit_in_merge:
        edit_in_merge()
        git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message, when="2025-03-05T11:00:00+08:00")


def move(root: Path, old: str, new: str, **fields) -> None:
    (root / record_path(old)).unlink()
    put(root, new, **fields)


@pytest.fixture
def project(tmp_path_factory, tmp_path):
    """One record, committed at a fixed time: made once per run and copied (``built_copy``)."""
    return built_copy(tmp_path_factory, "historyindex-project", build_project, tmp_path / "repo")


def build_project(repo: Path) -> None:
    fill_repo(repo)
    (repo / ".gitignore").write_text(".cache/\n", encoding="utf-8")
    git(repo, "init", "-q", "-b", "main")
    put(repo, R1, content="第一次")
    commit(repo, "初始", when="2025-03-01T09:00:00+08:00")


def assert_same_as_cold(root: Path, schema: Schema = SCHEMA) -> History:
    """The index's history (whole, and of each record by every name it had) equals the one read from git."""
    cold = read_history(root, schema, index=False)
    warm = read_history(root, schema)
    assert warm == cold
    assert warm.signer_changes == cold.signer_changes and warm.aliases == cold.aliases
    assert [change_json(c) for c in warm.changes] == [change_json(c) for c in cold.changes]
    for name in sorted(cold.aliases) + ["records/2025/none.yaml", "2025-03-09-T1-999999"]:
        assert record_history(root, schema, name) == cold.of(name), name
    return cold


def rebuilds(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == historyindex.log.name and "build" in r.getMessage()]


@pytest.fixture
def logged(caplog):
    caplog.set_level(logging.INFO, logger=historyindex.log.name)
    return caplog


# 1. New commits are read incrementally and give the same history ------------------


def test_new_commits_merge_requests_and_moves_are_added_to_the_index_exactly(project, logged):
    assert_same_as_cold(project)
    assert rebuilds(logged) and index_path(project).is_file()  # the first run built it
    logged.clear()

    merge_request(project, f"record/{R2}", 1, lambda: put(project, R2, content="新增"))
    assert_same_as_cold(project)
    merge_request(  # two commits on the branch, and an edit made in the merge commit itself
        project,
        f"record/{R3}",
        2,
        lambda: put(project, R3, content="第一次"),
        lambda: put(project, R3, content="第二次"),
        edit_in_merge=lambda: put(project, R1, content="合并时改的"),
    )
    merge_request(project, "fix-date", 3, lambda: move(project, R3, R3_MOVED, content="改了日期也改了内容"))
    put(project, R2, content="直接推送到主分支")
    commit(project, "直接修改")
    history = assert_same_as_cold(project)

    assert rebuilds(logged) == []  # each run read only the new commits
    assert [c.kind for c in history.of(R3_MOVED)] == ["新增", "修改", "移动"]
    assert history.of(R3) == history.of(R3_MOVED)
    assert any(c.in_merge for c in history.of(R1))


def test_two_branches_merged_by_one_merge_keep_the_cold_order(project, logged):
    """Commits on parallel lines that enter together are ordered by the graph, not by what git lists first."""
    assert_same_as_cold(project)
    git(project, "checkout", "-q", "-b", "left", "main")
    put(project, R2, content="左")
    commit(project, "左 1", when="2025-03-03T10:00:00+08:00")
    git(project, "checkout", "-q", "-b", "right", "main")
    put(project, R3, content="右")
    commit(project, "右 1", when="2025-03-02T10:00:00+08:00")
    git(project, "checkout", "-q", "left")
    git(project, "merge", "-q", "--no-ff", "-m", "合并右", "right")
    put(project, R2, content="左 2")
    commit(project, "左 2", when="2025-03-01T08:00:00+08:00")
    git(project, "checkout", "-q", "main")
    git(project, "merge", "-q", "--no-ff", "-m", "Merge\n\nSee merge request school/liaison!9", "left")
    assert_same_as_cold(project)
    assert rebuilds(logged)[1:] == []


def test_a_deleted_record_is_in_the_index_as_in_the_cold_history(project, logged):
    merge_request(project, f"record/{R2}", 1, lambda: put(project, R2))
    assert_same_as_cold(project)
    merge_request(project, "delete", 2, lambda: (project / record_path(R2)).unlink(), who=OFFICE)
    history = assert_same_as_cold(project)
    assert [c.kind for c in history.of(R2)] == ["新增", "删除"]
    assert len(rebuilds(logged)) == 1


# 2. Rewritten history is noticed and rebuilt ------------------------------------------


def test_a_rebased_main_rebuilds_the_index(project, logged):
    put(project, R2, content="会被改写")
    commit(project, "将被改写的提交")
    put(project, R3, content="也会被改写")
    commit(project, "另一个将被改写的提交")
    assert_same_as_cold(project)
    # Rewrite the last two commits (what `git rebase -i` leaves): new commits, other messages, other content.
    git(project, "reset", "-q", "--hard", "HEAD~2")
    put(project, R3, content="改写后")
    commit(project, "改写后的提交")
    put(project, R2, content="改写后")
    commit(project, "改写后的另一个提交")
    history = assert_same_as_cold(project)
    assert [c.commit.subject for c in history.of(R2)] == ["改写后的另一个提交"]
    assert "rebuilding" in " ".join(rebuilds(logged))


def test_a_force_push_whose_old_tip_is_gone_rebuilds_the_index(project, logged, tmp_path):
    remote = tmp_path / "remote.git"
    git(project, "init", "-q", "--bare", str(remote))
    git(project, "push", "-q", str(remote), "main")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    put(project, R2, content="推送后被覆盖")
    commit(project, "被覆盖的提交")
    git(project, "push", "-q", str(remote), "main")
    git(clone, "fetch", "-q")
    git(clone, "reset", "-q", "--hard", "origin/main")
    assert_same_as_cold(clone)

    git(project, "reset", "-q", "--hard", "HEAD~1")
    put(project, R3, content="强制推送")
    commit(project, "强制推送的提交")
    git(project, "push", "-q", "--force", str(remote), "main")
    git(clone, "fetch", "-q")
    git(clone, "reset", "-q", "--hard", "origin/main")
    git(clone, "reflog", "expire", "--expire=now", "--all")
    git(clone, "gc", "-q", "--prune=now")
    history = assert_same_as_cold(clone)
    assert history.of(R2) == [] and len(history.of(R3)) == 1
    assert "rebuilding" in " ".join(rebuilds(logged))


def test_an_old_tip_that_is_still_an_ancestor_but_left_the_mainline_rebuilds_the_index(project, logged):
    """A foxtrot merge: main merged into a branch and main moved there; the old tip is a second parent now."""
    assert_same_as_cold(project)
    git(project, "checkout", "-q", "-b", "side", "main~0")
    git(project, "reset", "-q", "--hard", "main")
    git(project, "checkout", "-q", "main")
    put(project, R2, content="主分支上")
    old_tip = commit(project, "主分支")
    assert_same_as_cold(project)
    git(project, "checkout", "-q", "side")
    put(project, R3, content="旁支")
    commit(project, "旁支")
    git(project, "merge", "-q", "--no-ff", "-m", "把 main 合并进旁支", "main")
    git(project, "branch", "-q", "-f", "main", "side")
    git(project, "checkout", "-q", "main")
    assert git(project, "merge-base", "--is-ancestor", old_tip, "HEAD") == ""  # still an ancestor
    assert_same_as_cold(project)
    assert "rebuilding" in " ".join(rebuilds(logged))


def test_a_deeper_shallow_clone_rebuilds_the_index(project, tmp_path, logged):
    for n in range(3):
        put(project, R2, content=f"第 {n} 版")
        commit(project, f"修改 {n}")
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "2", f"file://{project}", str(clone))
    shallow = assert_same_as_cold(clone)
    git(clone, "fetch", "-q", "--deepen", "3")
    deeper = assert_same_as_cold(clone)
    assert len(deeper.of(R2)) > len(shallow.of(R2))


# 3. What the index depends on besides the commits -----------------------------------


def test_a_new_signing_key_in_allowed_signers_is_judged_like_the_cold_history(project, keys, logged):  # noqa: F811
    (project / "allowed_signers").write_text(signer_line(keys["form"]), encoding="utf-8")
    commit(project, "发布表单的签名公钥")
    merge_request(project, f"record/{R2}", 1, lambda: put(project, R2), sign=keys["form"])
    merge_request(project, "other-key", 2, lambda: put(project, R3), sign=keys["other"])
    history = assert_same_as_cold(project)
    assert [c.by_form for c in history.of(R2) + history.of(R3)] == [True, False]

    with (project / "allowed_signers").open("a", encoding="utf-8") as signers:
        signers.write(signer_line(keys["other"]))
    commit(project, "加入第二把公钥")
    merge_request(project, "other-key-again", 3, lambda: put(project, R3, content="再改"), sign=keys["other"])
    (project / "allowed_signers").write_text(signer_line(keys["other"]), encoding="utf-8")
    commit(project, "撤下第一把公钥")
    merge_request(project, "form-key-again", 4, lambda: put(project, R2, content="再改"), sign=keys["form"])
    history = assert_same_as_cold(project)
    assert [c.by_form for c in history.of(R3)] == [False, True]
    assert [c.by_form for c in history.of(R2)] == [True, False]
    assert [c.kind for c in history.signer_changes] == ["新增", "修改", "修改"]
    assert len(rebuilds(logged)) == 1


def test_a_changed_schema_rebuilds_the_index(project, logged):
    assert_same_as_cold(project)
    relabelled = Schema.load(PROJECT / "schema" / "record.yaml")
    relabelled.rules["content"]["meta"]["label"] = "谈话内容"
    history = assert_same_as_cold(project, relabelled)
    assert "谈话内容" in [f.label for f in history.of(R1)[0].fields]
    assert len(rebuilds(logged)) == 2


# 4. A damaged index is discarded, never believed -----------------------------------------


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garbage(path: Path) -> None:
    path.write_bytes(os.urandom(path.stat().st_size))


def _zero_a_page(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[4096:8192] = bytes(4096)
    path.write_bytes(bytes(data))


def _lose_a_row(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM changes WHERE seq = (SELECT max(seq) FROM changes)")


def _bad_value(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("UPDATE commits SET committer_time = 'not a time'")


def _unknown_tip(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'tip'", ("f" * 40,))


def _empty(path: Path) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize(
    "damage",
    [_truncate, _garbage, _zero_a_page, _lose_a_row, _bad_value, _unknown_tip, _empty],
    ids=lambda f: f.__name__,
)
def test_a_damaged_index_gives_the_cold_history(two_merged, damage, logged):
    assert_same_as_cold(two_merged)
    damage(index_path(two_merged))
    assert_same_as_cold(two_merged)
    assert len(rebuilds(logged)) >= 1


@pytest.fixture
def two_merged(tmp_path_factory, tmp_path):
    """``project`` with two records merged through merge requests (fixed times): made once per run and copied."""
    return built_copy(tmp_path_factory, "historyindex-two-merged", build_two_merged, tmp_path / "repo")


def build_two_merged(repo: Path) -> None:
    build_project(repo)
    for n, record in enumerate((R2, R3)):
        merge_request(repo, f"record/{record}", n, lambda record=record: put(repo, record))


def test_a_cache_folder_that_cannot_be_written_reads_the_history_from_git(project, caplog):
    (project / ".cache").write_text("不是文件夹", encoding="utf-8")
    assert read_history(project, SCHEMA) == read_history(project, SCHEMA, index=False)
    assert record_history(project, SCHEMA, R1) == read_history(project, SCHEMA, index=False).of(R1)
    assert "unusable" in caplog.text


def test_the_index_can_be_turned_off(project, monkeypatch):
    monkeypatch.setenv("LIAISON_HISTORY_INDEX", "0")
    assert read_history(project, SCHEMA).of(R1)
    assert not index_path(project).exists()


def test_the_history_command_answers_from_the_index(project, run):
    merge_request(project, "fix-date", 1, lambda: move(project, R1, "2025-03-04-T1-111111", content="改期"))
    first = run(project, "history", R1, "--format", "json")
    assert first.exit_code == 0 and index_path(project).is_file()
    second = run(project, "history", "records/2025/2025-03-04-T1-111111.yaml", "--format", "json")
    assert second.output == first.output
    cold = read_history(project, SCHEMA, index=False).of(R1)
    assert json.loads(first.output) == [change_json(c) for c in cold]


# 5. Killed runs and runs at once ---------------------------------------------------------

RUNNER = """
from __future__ import annotations
import hashlib, json, sys
from pathlib import Path
sys.path.insert(0, {project!r})
from liaison.core.schema import Schema
from liaison.git.history import index as historyindex
from liaison.outputs.historytext import change_json
from liaison.git.history.read import read_history

{digest}
root = Path(sys.argv[1])
if "pause" in sys.argv:  # stop inside the write transaction, every row inserted, nothing committed
    original = historyindex.HistoryIndex._set_meta

    def paused(self, *args):
        original(self, *args)
        print("writing", flush=True)
        sys.stdin.readline()

    historyindex.HistoryIndex._set_meta = paused
if "announce" in sys.argv:  # say so just before waiting for the index's lock
    exclusive = historyindex._exclusive

    def announced(path):
        print("locking", flush=True)
        return exclusive(path)

    historyindex._exclusive = announced
print(digest(read_history(root, Schema.load(root / "schema" / "record.yaml"))), end="")
"""


def digest(history: History) -> str:
    """A fingerprint of the whole history, the same in this process and in a runner's."""
    listed = [change_json(c) for c in history.changes + history.signer_changes]
    whole = [listed, history.aliases, history.mainline, sorted(history.entry.items())]
    return hashlib.sha256(json.dumps(whole, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def start(root: Path, tmp_path: Path, *flags: str):
    """A real process reading the history of ``root`` (``pause``: stop mid-write; ``announce``: say when locking),
    ended with the test (:func:`processes.started`)."""
    script = tmp_path / "runner.py"
    script.write_text(RUNNER.format(project=str(PROJECT), digest=inspect.getsource(digest)), encoding="utf-8")
    return started(
        [sys.executable, str(script), str(root), *flags],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def journal(root: Path) -> Path:
    return index_path(root).with_name("history.sqlite-journal")


@pytest.mark.parametrize("moment", ["first build", "update"])
def test_a_run_killed_mid_write_leaves_an_index_the_next_run_uses_correctly_or_rebuilds(project, tmp_path, moment):
    merge_request(project, f"record/{R2}", 1, lambda: put(project, R2))
    if moment == "update":
        assert_same_as_cold(project)
        merge_request(project, f"record/{R3}", 2, lambda: put(project, R3))
    with start(project, tmp_path, "pause") as killed:
        assert killed.stdout.readline() == "writing\n"
        assert journal(project).is_file()  # the transaction is in flight: its journal is on disk
        os.kill(killed.pid, signal.SIGKILL)
        killed.communicate(timeout=60)
        assert killed.returncode == -signal.SIGKILL
    assert_same_as_cold(project)


@pytest.mark.parametrize("first_run", ["finishes", "is killed"])
def test_two_runs_at_once_both_give_the_cold_history(project, tmp_path, first_run):
    assert_same_as_cold(project)
    for n, record in enumerate((R2, R3)):
        merge_request(project, f"record/{record}", n, lambda record=record: put(project, record))
    expected = digest(read_history(project, SCHEMA, index=False))
    with start(project, tmp_path, "pause") as first:
        assert first.stdout.readline() == "writing\n"  # holds the lock, mid-write
        with start(project, tmp_path, "announce") as second:
            assert second.stdout.readline() == "locking\n"
            if first_run == "finishes":
                first.stdin.write("\n")
                first.stdin.flush()
                assert first.communicate(timeout=60)[0] == expected
            else:
                os.kill(first.pid, signal.SIGKILL)
                first.communicate(timeout=60)
            out, err = second.communicate(timeout=60)
            assert second.returncode == 0, err
            assert out == expected
    assert_same_as_cold(project)


def test_the_index_leaves_the_working_tree_clean_without_a_gitignore(project):
    (project / ".gitignore").unlink()
    commit(project, "没有 .gitignore")
    assert_same_as_cold(project)
    assert git(project, "status", "--porcelain") == ""
