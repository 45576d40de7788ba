"""The merge-request pipeline's check, run by gitlab-ci-local: a change to a closed semester needs Reopen-Reason.

Whatever the commit's dates say: the change below is dated months before the
closure, as someone backdating it would, and the pipeline still fails it.
"""

from __future__ import annotations

import os
import re
import subprocess

from conftest import GIT_ENV, git

# pytestmark gives these tests a pipeline's timeout.
from test_pipeline import pytestmark, run_pipeline  # noqa: F401

RECORD = "records/2025/2025-09-17-T2018008-52481a.yaml"  # a demo record of 2025-2026-1


def backdated_commit(repo, message: str, amend: bool = False) -> None:
    env = {**os.environ, **GIT_ENV, "HOME": str(repo), "GIT_COMMITTER_DATE": "2025-10-01T09:00:00+08:00"}
    env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"]
    args = ["commit", "-q", "-am", message] + (["--amend"] if amend else [])
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, timeout=60)


def test_a_merge_request_touching_a_closed_semester_needs_reopen_reason_whatever_its_dates(pipeline_repo):
    with (pipeline_repo / "config.yaml").open("a", encoding="utf-8") as config:
        config.write("closed_semesters:\n  2025-2026-1: 2026-03-01\n")
    git(pipeline_repo, "commit", "-q", "-am", "关闭 2025-2026-1")
    git(pipeline_repo, "push", "-q", "origin", "main")
    base = git(pipeline_repo, "rev-parse", "main")
    git(pipeline_repo, "checkout", "-q", "-b", "record/fix")
    text = (pipeline_repo / RECORD).read_text(encoding="utf-8")
    (pipeline_repo / RECORD).write_text(text.replace("remarks: 已将", "remarks: 补充：已将"), encoding="utf-8")
    assert (pipeline_repo / RECORD).read_text(encoding="utf-8") != text
    backdated_commit(pipeline_repo, "修改")

    done = run_pipeline(pipeline_repo, CI_PIPELINE_SOURCE="merge_request_event", CI_MERGE_REQUEST_DIFF_BASE_SHA=base)
    failed = set(re.findall(r"^ FAIL +(.+?)\s*$", done.stdout, re.M))
    assert done.returncode != 0 and failed == {"check"}, done.stdout[-6000:]  # the review job still shows it
    assert f"{RECORD}: 这条记录属于已关闭的2025-2026学年第一学期" in done.stdout
    assert "Reopen-Reason: 理由" in done.stdout

    backdated_commit(pipeline_repo, "修改\n\nReopen-Reason: 备注补充，经思政科同意", amend=True)
    # The check job alone: it is the one that reads Reopen-Reason; the review job ran on this very change above.
    done = run_pipeline(
        pipeline_repo, "check", CI_PIPELINE_SOURCE="merge_request_event", CI_MERGE_REQUEST_DIFF_BASE_SHA=base
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "本次改动的记录与名单文件 1 个：全部通过" in done.stdout
