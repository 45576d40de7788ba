""".gitlab-ci.yml, tested for real: GitLab's own schema, and the jobs run by gitlab-ci-local.

There is no GitLab here, so two independent tools stand in: check-jsonschema
with GitLab's published schema, and gitlab-ci-local (npm, pinned in
tools/package.json) running the jobs with the shell executor in a temporary
clone that has a bare repository as its ``origin``. The jobs use the
project's own .venv (``LIAISON_VENV``) instead of installing one per job.

The repository they run in is conftest's ``pipeline_repo``: the project as
committed, with every fifth demo record.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml
from conftest import PROJECT, git, record_data, write_record

GITLAB_CI_LOCAL = PROJECT / "tools" / "node_modules" / ".bin" / "gitlab-ci-local"
# GitLab's schema is checked once, by check-jsonschema (test_the_pipeline_file_passes_gitlab_s_schema);
# gitlab-ci-local's own copy of it would cost every run below half a second more.
NO_SCHEMA = "--json-schema-validation=false"
# A pipeline runs several jobs, each a Python process that may render every demo PDF: more than the
# suite's default per-test timeout (pyproject.toml), and the run's own timeout fails first, naming it.
PIPELINE_TIMEOUT = 300
pytestmark = pytest.mark.timeout(PIPELINE_TIMEOUT + 60)


def validate(pipeline: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(PROJECT / ".venv" / "bin" / "check-jsonschema"),
            "--builtin-schema",
            "vendor.gitlab-ci",
            "--data-transform",
            "gitlab-ci",
            str(pipeline),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_pipeline(repo: Path, *args: str, **variables: str) -> subprocess.CompletedProcess:
    command = [
        str(GITLAB_CI_LOCAL),
        "--force-shell-executor",
        "--shell-isolation",
        NO_SCHEMA,
        "--variable",
        f"LIAISON_VENV={PROJECT / '.venv'}",
    ]
    for key, value in variables.items():
        command += ["--variable", f"{key}={value}"]
    done = subprocess.run([*command, *args], cwd=repo, capture_output=True, text=True, timeout=PIPELINE_TIMEOUT)
    done.jobs = set(re.findall(r"^ (?:PASS|FAIL) +(.+?)\s*$", done.stdout, re.M))
    return done


def commit_on_branch(repo: Path, branch: str, **record) -> str:
    git(repo, "checkout", "-q", "-b", branch)
    path = write_record(repo, record_data(**record), suffix="0c0c0c")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "新增记录")
    return path


def test_the_pipeline_file_passes_gitlab_s_schema():
    done = validate(PROJECT / ".gitlab-ci.yml")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    "old, new",
    [
        ("artifacts:\n    when: always", "artefacts:\n    when: always"),
        ("  stage: render", "  stages: render"),
        ("resource_group: pages", "resource_group: [pages]"),
    ],
)
def test_a_misspelt_keyword_fails_the_schema(tmp_path, old, new):
    text = (PROJECT / ".gitlab-ci.yml").read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / ".gitlab-ci.yml"
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    assert validate(broken).returncode != 0


def test_a_merge_request_with_a_broken_record_fails_in_check_naming_the_file(pipeline_repo):
    base = git(pipeline_repo, "rev-parse", "main")
    path = commit_on_branch(pipeline_repo, "record/broken")  # leader T1 is not on the demo roster
    done = run_pipeline(pipeline_repo, CI_PIPELINE_SOURCE="merge_request_event", CI_MERGE_REQUEST_DIFF_BASE_SHA=base)
    assert done.returncode != 0
    assert done.jobs == {"check", "review"}  # review passes: check is the one that fails
    assert set(re.findall(r"^ FAIL +(.+?)\s*$", done.stdout, re.M)) == {"check"}
    assert "本次改动的记录与名单文件 1 个：1 个有问题" in done.stdout
    assert f"{path}:" in done.stdout and "工号(leader_id)" in done.stdout
    report = ElementTree.parse(pipeline_repo / ".gitlab-ci-local" / "builds" / "check" / "check-report.xml")
    failed = [case.get("name") for case in report.iter("testcase") if case.find("failure") is not None]
    assert failed == [path]


def test_a_merge_request_with_a_good_record_passes(pipeline_repo):
    base = git(pipeline_repo, "rev-parse", "main")
    commit_on_branch(pipeline_repo, "record/good", leader_id="T2012003", leader="赵敏", department="学生工作处")
    done = run_pipeline(pipeline_repo, CI_PIPELINE_SOURCE="merge_request_event", CI_MERGE_REQUEST_DIFF_BASE_SHA=base)
    assert done.returncode == 0, done.stdout[-3000:]
    assert done.jobs == {"check", "review"} and "本次改动的记录与名单文件 1 个：全部通过" in done.stdout


def test_a_branch_push_without_a_merge_request_runs_nothing(pipeline_repo):
    commit_on_branch(pipeline_repo, "feature", content="别的分支")
    done = run_pipeline(pipeline_repo)
    assert done.returncode == 0 and done.jobs == set()


def assert_main_publishes_every_pdf_once(repo: Path) -> None:
    done = run_pipeline(repo)
    assert done.returncode == 0, done.stdout[-3000:]
    missing = {"check", "render: [1/2]", "render: [2/2]", "pages"} - done.jobs
    assert not missing, f"jobs that did not run: {sorted(missing)}"
    records = {p.stem for p in (repo / "records").glob("*/*.yaml")}
    shards = [int(n) for n in re.findall(r"第 \d/2 份，共 (\d+) 份 PDF", done.stdout)]
    assert len(shards) == 2 and sum(shards) == len(records) and min(shards) > 0
    assert "新生成 PDF 0 份" in done.stdout  # pages gathered the shards' renders
    pdfs = [p.stem for p in (repo / "public" / "records").glob("*.pdf")]
    assert sorted(pdfs) == sorted(records)
    assert (repo / "public" / "index.html").is_file()


def test_the_default_branch_renders_in_two_shards_and_publishes_every_pdf_once(pipeline_repo):
    assert_main_publishes_every_pdf_once(pipeline_repo)


def test_a_rule_that_never_runs_pages_on_main_is_caught(pipeline_repo):
    pipeline = pipeline_repo / ".gitlab-ci.yml"
    data = yaml.safe_load(pipeline.read_text(encoding="utf-8"))
    data["pages"]["rules"] = [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    pipeline.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    git(pipeline_repo, "commit", "-q", "-am", "坏的规则")
    with pytest.raises(AssertionError, match=r"jobs that did not run: \['pages'\]"):
        assert_main_publishes_every_pdf_once(pipeline_repo)


def test_the_export_job_leaves_the_zip(pipeline_repo):
    done = run_pipeline(pipeline_repo, "export", CI_PIPELINE_SOURCE="web", SEMESTER="2025-2026-1")
    assert done.returncode == 0, done.stdout[-3000:]
    assert (pipeline_repo / "export" / "2025-2026学年第一学期.zip").is_file()
    assert (pipeline_repo / "export" / "2025-2026学年第一学期" / "manifest.json").is_file()


@pytest.mark.parametrize(
    "variables, words",
    [({}, "请在运行流水线时设置变量 SEMESTER"), ({"SEMESTER": "2025-2026-3"}, "学期编号“2025-2026-3”格式不对")],
)
def test_the_export_job_fails_clearly_without_a_good_range(pipeline_repo, variables, words):
    done = run_pipeline(pipeline_repo, "export", CI_PIPELINE_SOURCE="web", **variables)
    assert done.returncode != 0 and words in done.stdout + done.stderr


def test_codeowners_puts_records_under_the_office():
    owners = (PROJECT / "CODEOWNERS").read_text(encoding="utf-8")
    assert re.search(r"^/records/\s+@\S+", owners, re.M) and re.search(r"^/roster.yaml\s+@\S+", owners, re.M)


def test_a_reminder_pipeline_runs_only_the_remind_job(pipeline_repo):
    # Before the first round of the semester: the job runs and sends nothing (no network needed).
    done = run_pipeline(pipeline_repo, CI_PIPELINE_SOURCE="schedule", REMIND="1", LIAISON_TODAY="2026-09-01")
    assert done.returncode == 0, done.stdout[-3000:]
    assert done.jobs == {"remind"} and "提醒轮次还没有开始" in done.stdout


def test_a_merge_request_s_review_job_leaves_the_page_and_the_pdf_as_exposed_artifacts(pipeline_repo):
    base = git(pipeline_repo, "rev-parse", "main")
    path = commit_on_branch(
        pipeline_repo, "record/review", leader_id="T2012003", leader="赵敏", department="学生工作处"
    )
    done = run_pipeline(
        pipeline_repo, "review", CI_PIPELINE_SOURCE="merge_request_event", CI_MERGE_REQUEST_DIFF_BASE_SHA=base
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert done.jobs == {"review"}
    record_id = Path(path).stem
    assert f"【新增】{record_id} 赵敏" in done.stdout
    artifacts = pipeline_repo / ".gitlab-ci-local" / "artifacts" / "review" / "review"
    assert (artifacts / "index.html").is_file() and (artifacts / f"{record_id}.pdf").is_file()
    assert f'data-record="{record_id}"' in (artifacts / "index.html").read_text(encoding="utf-8")


def exposed_artifacts(pipeline: dict) -> dict[str, dict]:
    return {
        name: job["artifacts"]
        for name, job in pipeline.items()
        if isinstance(job, dict) and "expose_as" in (job.get("artifacts") or {})
    }


def test_exposed_artifacts_follow_gitlab_s_own_rules():
    """What GitLab checks and GitLab's published schema does not (Gitlab::Ci::Config::Entry::Artifacts)."""
    exposed = exposed_artifacts(yaml.safe_load((PROJECT / ".gitlab-ci.yml").read_text(encoding="utf-8")))
    assert "review" in exposed and exposed["review"]["paths"] == ["review/"]
    assert len(exposed) <= 10  # at most 10 exposed artifacts in a merge request
    for artifacts in exposed.values():
        # Ruby's \w is ASCII: a Chinese name is refused and the whole pipeline with it.
        assert re.fullmatch(r"[A-Za-z0-9_][-A-Za-z0-9_ ]*", artifacts["expose_as"]), artifacts["expose_as"]
        for path in artifacts["paths"]:
            assert not path.startswith("./") and "$" not in path and "*" not in path
            assert "." in Path(path).name or path.endswith("/"), f"a directory must end with /: {path}"


def runs_in_merge_requests(job: dict) -> bool:
    return any("merge_request_event" in rule.get("if", "") for rule in job.get("rules", []))


def test_no_merge_request_job_reads_or_writes_a_record_cache():
    """Only the default branch's jobs keep .cache/ (protected caches); a merge request may edit the pipeline
    and write every unprotected cache, so a cache shared by merge requests could reach another's check or review."""
    pipeline = yaml.safe_load((PROJECT / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    jobs = {name: job for name, job in pipeline.items() if isinstance(job, dict) and "script" in job}
    kept = {}
    for name, job in jobs.items():
        caches = job.get("cache", pipeline["default"]["cache"])
        caches = caches if isinstance(caches, list) else [caches]
        kept[name] = sorted({path for cache in caches for path in cache.get("paths", [])} - {".cache/pip"})
    in_merge_requests = {name for name, job in jobs.items() if runs_in_merge_requests(job)}
    assert in_merge_requests >= {"check", "review"}
    assert {name: kept[name] for name in in_merge_requests} == {name: [] for name in in_merge_requests}
    assert kept["render"] == [".cache/*.sqlite", ".cache/pdf"] and kept["pages"] == [".cache/*.sqlite", ".cache/site"]
