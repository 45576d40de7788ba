""".gitlab-ci.yml, tested for real: GitLab's own schema, and the jobs run by gitlab-ci-local.

There is no GitLab here, so two independent tools stand in: check-jsonschema
with GitLab's published schema, and gitlab-ci-local (npm, pinned in
tools/package.json) running the jobs with the shell executor in a temporary
clone that has a bare repository as its ``origin``. The jobs use the
project's own .venv (``LIAISON_VENV``) instead of installing one per job.

The repository they run in is conftest's ``pipeline_repo``: the project as
committed, with every twelfth demo record. A test about what jobs produce runs
them; one about which jobs a pipeline would run may ask gitlab-ci-local to
evaluate the rules only (``jobs_listed``); a run that several tests read is
made once (``run_once``). Every run uses ``--shell-isolation``: as on GitLab,
each job starts from its own copy of the commit and files pass between jobs only
as artifacts and caches. The default branch's pipeline needs it: in one shared
folder each render shard prunes the other's PDFs from the cache, and pages would
find the PDFs where render left them instead of through render's artifacts.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml
from click.testing import CliRunner
from conftest import PROJECT, built_once, git, pipeline_clone, record_data, write_record
from processes import said, started

GITLAB_CI_LOCAL = PROJECT / "tools" / "node_modules" / ".bin" / "gitlab-ci-local"
# GitLab's schema is checked once, by check-jsonschema (test_the_pipeline_file_passes_gitlab_s_schema);
# gitlab-ci-local's own copy of it would cost every run below half a second more.
NO_SCHEMA = "--json-schema-validation=false"
# A pipeline runs several jobs, each a Python process that may render every demo PDF: more than the
# suite's default per-test timeout (pyproject.toml), and the run's own timeout fails first, naming it.
PIPELINE_TIMEOUT = 300
pytestmark = [pytest.mark.timeout(PIPELINE_TIMEOUT + 60), pytest.mark.early]  # early: seconds a pipeline


def validate(pipeline: Path) -> subprocess.CompletedProcess:
    """check-jsonschema's own command on ``pipeline``, run in this process: a process each would start Python
    and load the schema again (a quarter of a second), and the test is about the file, not the process."""
    from check_jsonschema.cli.main_command import main

    arguments = ["--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci", str(pipeline)]
    result = CliRunner().invoke(main, arguments, catch_exceptions=False)  # an error in the tool is no verdict
    return subprocess.CompletedProcess(["check-jsonschema", *arguments], result.exit_code, result.output, "")


def run_pipeline(repo: Path, *args: str, **variables: str) -> subprocess.CompletedProcess:
    command = [
        str(GITLAB_CI_LOCAL),
        "--force-shell-executor",
        "--shell-isolation",
        NO_SCHEMA,
        # The tests read each job's artifacts where gitlab-ci-local keeps them (``artifacts``), as GitLab
        # keeps them; a copy into the clone as well would only cost another rsync a job.
        "--no-artifacts-to-source",
        "--variable",
        f"LIAISON_VENV={PROJECT / '.venv'}",
    ]
    for key, value in variables.items():
        command += ["--variable", f"{key}={value}"]
    # In a session of its own: killing gitlab-ci-local alone on a timeout leaves its jobs' shells running
    # (a hung job would go on into the rest of the suite); its process group takes them with it.
    with started(
        [*command, *args], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=PIPELINE_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the pipeline ran over {PIPELINE_TIMEOUT} s: {said(process)}") from None
    return with_jobs(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))


def artifacts(repo: Path, job: str) -> Path:
    """The artifacts ``job`` left in a run in ``repo``, under their paths in the job's folder."""
    return repo / ".gitlab-ci-local" / "artifacts" / job


def with_jobs(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    """``done`` with ``jobs``: the names of the jobs that ran (passed or failed), from gitlab-ci-local's summary."""
    done.jobs = set(re.findall(r"^ (?:PASS|FAIL) +(.+?)\s*$", done.stdout, re.M))
    return done


def jobs_listed(repo: Path, **variables: str) -> set[str]:
    """The jobs a pipeline would run, its rules evaluated by gitlab-ci-local without running any."""
    from test_deploy import jobs_listed  # here, not above: test_deploy imports this module

    return jobs_listed(repo, **variables)


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


def run_once(tmp_path_factory, origin: Path, name: str, prepare) -> subprocess.CompletedProcess:
    """A pipeline run once per test run for every test that reads it (``built_once``: whichever xdist worker
    asks first runs it, the others wait), in a clone of ``origin`` that ``prepare(repo)`` readies, returning
    the run's variables and what to keep. The result has ``repo``, the clone it ran in (to read, never to
    write), and ``kept``. It asserts nothing: each test that reads it asserts what it is about."""

    def build(folder: Path) -> None:
        kept = None
        try:
            repo = pipeline_clone(origin, folder)
            variables, kept = prepare(repo)
            done = run_pipeline(repo, **variables)
        except Exception as error:
            # Kept as a failed run: every test that reads it fails at once, saying why, where each waiting
            # worker would otherwise make it again (a hung job: one timeout after another, the last test
            # killed by its own timeout with no word of the pipeline).
            output = getattr(error, "output", None) or ""
            output = output.decode(errors="replace") if isinstance(output, bytes) else output
            done = subprocess.CompletedProcess(GITLAB_CI_LOCAL, -1, f"{output}\nthe shared run failed: {error}\n", "")
        run = {"returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr, "kept": kept}
        (folder / "run.json").write_text(json.dumps(run, ensure_ascii=False), encoding="utf-8")

    folder = built_once(tmp_path_factory, f"pipeline-run-{name}", build)
    run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    done = with_jobs(subprocess.CompletedProcess(GITLAB_CI_LOCAL, run["returncode"], run["stdout"], run["stderr"]))
    done.repo, done.kept = folder / "project", run["kept"]
    return done


@pytest.fixture
def good_merge_request(tmp_path_factory, pipeline_origin) -> subprocess.CompletedProcess:
    """The pipeline of a merge request adding a good record (``kept``: its path), read by the tests of its check
    and of its review."""

    def prepare(repo: Path) -> tuple[dict[str, str], str]:
        base = git(repo, "rev-parse", "main")
        path = commit_on_branch(repo, "record/good", leader_id="T2012003", leader="赵敏", department="学生工作处")
        return {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_DIFF_BASE_SHA": base}, path

    return run_once(tmp_path_factory, pipeline_origin, "good-merge-request", prepare)


@pytest.fixture
def main_pipeline(tmp_path_factory, pipeline_origin) -> subprocess.CompletedProcess:
    """The pipeline of a push to the default branch, read by its own test and by the export's (its caches)."""
    return run_once(tmp_path_factory, pipeline_origin, "main", lambda repo: ({}, None))


def test_a_merge_request_with_a_good_record_passes(good_merge_request):
    done = good_merge_request
    assert done.returncode == 0, done.stdout[-3000:]
    assert done.jobs == {"check", "review"} and "本次改动的记录与名单文件 1 个：全部通过" in done.stdout


def test_a_branch_push_without_a_merge_request_runs_nothing(pipeline_repo):
    commit_on_branch(pipeline_repo, "feature", content="别的分支")
    # The jobs' own rules leave none: gitlab-ci-local (4.65) reads no workflow:rules, listing or running, so
    # the workflow is not what this test holds.
    assert jobs_listed(pipeline_repo) == set()


def assert_main_runs_every_job(jobs: set[str]) -> None:
    missing = {"check", "render: [1/2]", "render: [2/2]", "pages"} - jobs
    assert not missing, f"jobs that did not run: {sorted(missing)}"


def test_the_default_branch_renders_in_two_shards_and_publishes_every_pdf_once(main_pipeline):
    done, repo = main_pipeline, main_pipeline.repo
    assert done.returncode == 0, done.stdout[-3000:]
    assert_main_runs_every_job(done.jobs)
    records = {p.stem for p in (repo / "records").glob("*/*.yaml")}
    shards = [int(n) for n in re.findall(r"第 \d/2 份，共 (\d+) 份 PDF", done.stdout)]
    assert len(shards) == 2 and sum(shards) == len(records) and min(shards) > 0
    assert "新生成 PDF 0 份" in done.stdout  # pages gathered the shards' renders
    public = artifacts(repo, "pages") / "public"
    pdfs = [p.stem for p in (public / "records").glob("*.pdf")]
    assert sorted(pdfs) == sorted(records)
    assert (public / "index.html").is_file()


def test_a_rule_that_never_runs_pages_on_main_is_caught(pipeline_repo):
    pipeline = pipeline_repo / ".gitlab-ci.yml"
    data = yaml.safe_load(pipeline.read_text(encoding="utf-8"))
    data["pages"]["rules"] = [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    pipeline.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    git(pipeline_repo, "commit", "-q", "-am", "坏的规则")
    # Which jobs run is the rules' verdict: gitlab-ci-local evaluates them as for a run (the same parser), and
    # the default branch's test above runs them; a whole pipeline here would only render the PDFs again.
    with pytest.raises(AssertionError, match=r"jobs that did not run: \['pages'\]"):
        assert_main_runs_every_job(jobs_listed(pipeline_repo))


def test_the_export_job_leaves_the_zip(pipeline_repo, main_pipeline):
    # As on GitLab, the export pulls the caches the default branch's render and pages jobs left (and renders
    # only what they lack). A main run that failed before keeping any (its own test says so) leaves the export
    # to render everything, as on a runner with no cache yet.
    caches = main_pipeline.repo / ".gitlab-ci-local" / "cache"
    if caches.is_dir():
        shutil.copytree(caches, pipeline_repo / ".gitlab-ci-local" / "cache")
    done = run_pipeline(pipeline_repo, "export", CI_PIPELINE_SOURCE="web", SEMESTER="2025-2026-1")
    assert done.returncode == 0, done.stdout[-3000:]
    export = artifacts(pipeline_repo, "export") / "export"
    assert (export / "2025-2026学年第一学期.zip").is_file()
    assert (export / "2025-2026学年第一学期" / "manifest.json").is_file()


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


def test_a_merge_request_s_review_job_leaves_the_page_and_the_pdf_as_exposed_artifacts(good_merge_request):
    done = good_merge_request
    assert re.search(r"^ PASS +review\s*$", done.stdout, re.M), done.stdout[-3000:]
    record_id = Path(done.kept).stem
    assert f"【新增】{record_id} 赵敏" in done.stdout
    review = artifacts(done.repo, "review") / "review"
    assert (review / "index.html").is_file() and (review / f"{record_id}.pdf").is_file()
    assert f'data-record="{record_id}"' in (review / "index.html").read_text(encoding="utf-8")


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
        # pip's download cache only: uv installs what its cache holds unchecked, so a merge request could plant code
        kept[name] = sorted({path for cache in caches for path in cache.get("paths", [])} - {".cache/pip"})
    in_merge_requests = {name for name, job in jobs.items() if runs_in_merge_requests(job)}
    assert in_merge_requests >= {"check", "review"}
    assert {name: kept[name] for name in in_merge_requests} == {name: [] for name in in_merge_requests}
    assert kept["render"] == [".cache/*.sqlite", ".cache/pdf"] and kept["pages"] == [
        ".cache/*.sqlite",
        ".cache/pinyin.json",
        ".cache/site",
    ]
