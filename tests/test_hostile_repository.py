"""What a merge request can carry into records/: deep nesting, links, submodules, executables (issue 27, 1-2).

Every such file is one problem naming the path, in every command that reads records; none is ever
followed out of the repository, and none ends a command in a traceback.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import PROJECT, built_once, commit_all, git, record_data, write_record
from small_repos import empty_repository, linked_copy

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


# Links, submodules, executables: never followed, always named -----------------------------------------------

SECRET = "leader_id: T1\nsecret_key_outside: 42\n"


def _outside(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.yaml").write_text(SECRET, encoding="utf-8")
    (outside / "2024-09-15-T1-fff000.yaml").write_text(SECRET, encoding="utf-8")
    return outside


def _assert_named_not_read(result, path):
    assert result.exit_code == 1, result.output
    assert path in result.output and "符号链接" in result.output
    assert "secret_key_outside" not in result.output and "root:" not in result.output


def test_a_record_that_is_a_link_is_named_and_never_read(repo, run, tmp_path):
    outside = _outside(tmp_path)
    (repo / "docs").mkdir()
    (repo / "docs" / "note.yaml").write_text("leader_id: T1\n", encoding="utf-8")
    good = write_record(repo, record_data(), suffix="def456")
    links = {
        "records/2024/2024-09-15-T1-aaa001.yaml": outside / "secret.yaml",
        "records/2024/2024-09-15-T1-aaa002.yaml": "/etc/passwd",
        "records/2024/2024-09-15-T1-aaa003.yaml": "../../docs/note.yaml",
    }
    for path, target in links.items():
        (repo / path).symlink_to(target)
    records, problems = read_records(open_project(repo))
    assert [r.path for r in records] == [good]
    assert sorted(p.path for p in problems) == sorted(links)
    result = run(repo, "check")
    for path in links:
        _assert_named_not_read(result, path)
    # Named one by one, as a reviewer's check of one file does.
    one = run(repo, "check", str(repo / "records/2024/2024-09-15-T1-aaa002.yaml"))
    _assert_named_not_read(one, "records/2024/2024-09-15-T1-aaa002.yaml")
    assert run(repo, "query", "--format", "json").output.count('"id"') == 1


@pytest.mark.parametrize("linked", ["records/2024", "records"])
def test_a_linked_folder_is_named_and_never_walked(repo, run, tmp_path, linked):
    outside = _outside(tmp_path)
    if linked == "records":
        (repo / "records").rmdir()
    (repo / linked).symlink_to(outside, target_is_directory=True)
    result = run(repo, "check")
    _assert_named_not_read(result, f"{linked}:")
    assert read_records(open_project(repo))[0] == []


def test_a_fifo_or_a_folder_named_as_a_record_is_named_and_nothing_waits(repo, tmp_path):
    import os
    import subprocess
    import sys

    write_record(repo, record_data(), suffix="def456")
    os.mkfifo(repo / "records/2024/2024-09-15-T1-aaa004.yaml")
    (repo / "records/2024/2024-09-15-T1-aaa005.yaml").mkdir()
    done = subprocess.run(
        [sys.executable, str(PROJECT / "build.py"), "--root", str(repo), "check"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
    )
    assert done.returncode == 1
    assert "2024-09-15-T1-aaa004.yaml: 这不是普通文件" in done.stdout
    assert "2024-09-15-T1-aaa005.yaml: 这是文件夹（或子模块）" in done.stdout


def test_an_executable_record_is_named_in_the_tree_and_in_git(repo, run):
    path = write_record(repo, record_data(), suffix="def456")
    (repo / path).chmod(0o755)
    result = run(repo, "check")
    assert result.exit_code == 1 and f"{path}: 这个文件带有可执行权限" in result.output
    commit_all(repo)
    git(repo, "config", "core.fileMode", "false")
    (repo / path).chmod(0o644)  # the working tree shows nothing; git still commits it as 100755
    result = run(repo, "check")
    assert result.exit_code == 1 and result.output.count(f"{path}: 这个文件带有可执行权限") == 1


def test_a_submodule_or_a_link_that_git_holds_is_named_whatever_the_working_tree_shows(repo, run):
    write_record(repo, record_data(), suffix="def456")
    head = commit_all(repo)
    gitlink = "records/2024/2024-09-15-T1-aaa006.yaml"
    link = "records/2024/2024-09-15-T1-aaa007.yaml"
    (repo / "target.txt").write_text("/etc/passwd", encoding="utf-8")
    target = git(repo, "hash-object", "-w", "target.txt")
    (repo / "target.txt").unlink()
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{head},{gitlink}")
    git(repo, "update-index", "--add", "--cacheinfo", f"120000,{target},{link}")
    git(repo, "commit", "-q", "-m", "子模块与链接")
    result = run(repo, "check")  # neither is in the working tree: an unfetched submodule, core.symlinks=false
    assert result.exit_code == 1
    assert f"{gitlink}: 这是子模块" in result.output and f"{link}: 这是符号链接" in result.output


def test_history_and_audit_name_a_link_and_never_read_what_it_points_to(repo, run, tmp_path):
    (repo / "docs").mkdir()
    (repo / "docs" / "note.yaml").write_text(
        (PROJECT / "records").joinpath(*next((PROJECT / "records").glob("*/*.yaml")).parts[-2:]).read_text("utf-8"),
        encoding="utf-8",
    )
    write_record(repo, record_data(), suffix="def456")
    commit_all(repo)
    link = "records/2024/2024-09-15-T1-aaa008.yaml"
    (repo / link).symlink_to("../../docs/note.yaml")
    commit_all(repo, "一条链接")
    result = run(repo, "history", "2024-09-15-T1-aaa008")
    assert result.exit_code == 0, result.output
    assert "在 Git 中不是普通文件" in result.output and "符号链接" in result.output
    assert "联系内容" not in result.output  # the link's target is never read as the record
    import json

    audit = run(repo, "audit", "--from", "2000-01-01", "--to", "2099-12-31", "--format", "json")
    rows = [row for row in json.loads(audit.stdout) if row["文件"] == link]
    assert len(rows) == 1 and "在 Git 中是符号链接" in rows[0]["提示"]
    assert audit.exit_code == 1  # check's problem with the link: it is not a record


def test_review_names_a_link_a_branch_adds(repo, run, tmp_path):
    shutil.copytree(PROJECT / "templates", repo / "templates")
    write_record(repo, record_data(), suffix="def456")
    commit_all(repo)
    git(repo, "checkout", "-q", "-b", "record/x")
    link = "records/2024/2024-09-15-T1-aaa009.yaml"
    (repo / link).symlink_to(_outside(tmp_path) / "secret.yaml")
    commit_all(repo, "链接")
    result = run(repo, "review", "--base", "main", "--out", str(tmp_path / "review"))
    page = (tmp_path / "review" / "index.html").read_text(encoding="utf-8")
    assert link in page and "符号链接" in page and "secret_key_outside" not in page + result.output


# The repository's own files (roster.yaml, config.yaml, schema/): a merge request can carry them too ----------


def _check_in_subprocess(repo, memory_mb: int = 500, args: tuple | list = ("check",)):
    """``check`` (or ``args``) in a child with its memory bounded: a link to /dev/zero would grow until it died."""
    import os
    import resource
    import subprocess
    import sys

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))

    return subprocess.run(
        [sys.executable, str(PROJECT / "build.py"), "--root", str(repo), *args],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limit,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
    )


@pytest.mark.parametrize("name", ["roster.yaml", "config.yaml", "schema/roster.yaml", "schema/config.yaml"])
@pytest.mark.parametrize("target", ["secret", "/dev/zero", "fifo"])
def test_a_project_file_that_is_a_link_or_fifo_is_named_and_never_read(repo, run, tmp_path, name, target):
    import os

    outside = _outside(tmp_path)
    write_record(repo, record_data(), suffix="def456")
    (repo / name).unlink()
    if target == "fifo":
        os.mkfifo(repo / name)
    else:
        (repo / name).symlink_to(outside / "secret.yaml" if target == "secret" else target)
    if target == "secret":  # a small file: nothing to bound or to wait on, so the command runs in this process
        result = run(repo, "check")
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        code, errors, said = result.exit_code, result.stderr, result.output
    else:  # /dev/zero grows a reader until it dies, a FIFO holds it: in a child, its memory bounded
        done = _check_in_subprocess(repo)
        code, errors, said = done.returncode, done.stderr, done.stdout + done.stderr
    assert code == 1, said
    assert "Traceback" not in errors and "MemoryError" not in errors, errors
    assert name in said and "secret_key_outside" not in said and "leader_id" not in said
    assert ("符号链接" if target != "fifo" else "不是普通文件") in said


@pytest.fixture(scope="module")
def a_100_mb_record(tmp_path_factory) -> tuple[Path, str]:
    """(a repository, its first commit) where three commits each add 100 MB to the one record, made once a run
    (``built_once``): git hashes and compresses 600 MB to make it. Each test runs on its own copy (``linked_copy``)."""

    def build(folder: Path) -> None:
        root = empty_repository(folder / "repo")
        shutil.copytree(PROJECT / "templates", root / "templates")
        path = write_record(root, record_data(), suffix="def456")
        commit_all(root)
        line = b"  " + b"a" * 998 + b"\n"
        for n in range(3):
            with open(root / path, "ab") as file:
                file.write(f"remarks{n}: |-\n".encode() + line * 100_000)
            commit_all(root, f"大 {n}")

    root = built_once(tmp_path_factory, "a-100-mb-record", build) / "repo"
    return root, git(root, "rev-list", "--max-parents=0", "HEAD")


@pytest.mark.early
@pytest.mark.timeout(300)
@pytest.mark.parametrize("command", ["history", "audit", "review"])
def test_a_record_of_100_mb_in_git_is_named_as_too_large_and_never_held(a_100_mb_record, tmp_path, command):
    """check reads 256 KB of a record file and stops; git keeps every version whole, and the history, the audit
    and the review read versions through git: three versions of 100 MB, held at once, filled 500 MB."""
    source, base = a_100_mb_record
    repo = linked_copy(source, tmp_path / "repo")  # its own: no cache another command left
    args = {
        "history": ["history", "2024-09-15-T1-def456"],
        "audit": ["audit", "--from", "2000-01-01", "--to", "2099-12-31", "--format", "json"],
        "review": ["review", "--base", base, "--out", str(tmp_path / "review")],
    }[command]
    done = _check_in_subprocess(repo, args=args)
    said = done.stdout + done.stderr
    assert "Traceback" not in said and "MemoryError" not in said, said[-2000:]
    if command == "review":
        assert "文件过大" in (tmp_path / "review" / "index.html").read_text(encoding="utf-8")
    assert not (source / ".cache").exists()  # the next test reads through git again, not an index this one left


# Templates and site assets: every output reads them, so none through a link ---------------------------------

OUTSIDE_PAGE = "<p>SECRET-OUTSIDE-42</p>\n"


def _with_templates(repo, tmp_path):
    """The repository with the project's templates and site assets, one record, committed on main."""
    shutil.copytree(PROJECT / "templates", repo / "templates")
    shutil.copytree(PROJECT / "site", repo / "site")
    write_record(repo, record_data(), suffix="def456")
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "项目与一条记录")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "page.html").write_text(OUTSIDE_PAGE, encoding="utf-8")
    return outside


def _nothing_written(*folders):
    for folder in folders:
        assert not folder.exists() or not any(folder.rglob("*")), folder


@pytest.mark.parametrize("linked", ["templates/record.html", "templates/site/base.html", "site/search.js", "templates"])
def test_a_template_or_site_asset_that_is_a_link_is_named_and_nothing_is_rendered(repo, run, tmp_path, linked):
    """A merge request can replace a template with a link to /etc/passwd or the runner's secrets: the PDFs, the
    site and the review page (an artifact anyone in the merge request opens) would carry them."""
    outside = _with_templates(repo, tmp_path)
    place = repo / linked
    shutil.rmtree(place) if place.is_dir() else place.unlink()
    place.symlink_to(outside if linked == "templates" else outside / "page.html")
    git(repo, "checkout", "-q", "-b", "record/x")
    commit_all(repo, "换成链接")
    checked = run(repo, "check")
    assert checked.exit_code == 1 and linked in checked.output and "符号链接" in checked.output, checked.output
    outs = {name: tmp_path / name for name in ("pdf", "site", "export", "review")}
    for args in (
        ("pdf", "--out", str(outs["pdf"])),
        ("build", "--out", str(outs["site"])),
        ("export", "--semester", "2024-2025-1", "--out", str(outs["export"])),
        ("review", "--base", "main", "--out", str(outs["review"])),
    ):
        done = run(repo, *args)
        assert done.exit_code == 1 and linked in done.output and "不生成任何文件" in done.output, (args, done.output)
        assert "SECRET-OUTSIDE" not in done.output
        assert done.exception is None or isinstance(done.exception, SystemExit), done.exception
    _nothing_written(*outs.values())
    assert run(repo, "query", "--format", "json").output.count('"id"') == 1  # reading records renders nothing


def test_the_form_service_will_not_start_on_linked_templates(repo, tmp_path):
    from liaison.web import ConfigurationError, create_app

    outside = _with_templates(repo, tmp_path)
    (repo / "templates" / "web").rename(tmp_path / "web")
    (repo / "templates" / "web").symlink_to(tmp_path / "web")
    with pytest.raises(ConfigurationError) as refused:
        create_app(repo, tmp_path / "data", start_worker=False)
    assert "templates/" in str(refused.value)
    assert outside.is_dir()


def test_a_folder_linked_to_the_root_is_named_never_walked_and_a_fifo_never_opened(repo, run, tmp_path):
    import os

    _with_templates(repo, tmp_path)
    shutil.rmtree(repo / "site")
    (repo / "site").symlink_to("/")
    os.mkfifo(repo / "templates" / "waiting.html")
    checked = run(repo, "check")
    assert checked.exit_code == 1, checked.output
    assert "site: 这是符号链接" in checked.output
    assert "templates/waiting.html: 这不是普通文件" in checked.output
    assert "site/etc" not in checked.output and "site/usr" not in checked.output


@pytest.mark.parametrize("linked", ["site/evil.css", "templates/web/message.html"])
def test_a_link_pulled_into_a_running_form_service_is_never_served(repo, tmp_path, linked):
    """``git pull`` in the service's checkout needs no restart (docs/deploy.md), so a link can arrive after the
    start check: /static/ is open without login and would send what it points to; no page may read it either."""
    from liaison.web import create_app

    outside = _with_templates(repo, tmp_path)
    client = create_app(repo, tmp_path / "data", dev_login=True, start_worker=False).test_client()
    with client.get("/static/site.css") as served:  # closed: a file left open fails the run when collected
        assert served.status_code == 200
    place = repo / linked
    place.unlink(missing_ok=True)
    place.symlink_to(outside / "page.html")
    for address in ("/static/evil.css", "/static/site.css", "/healthz", "/nothing-here"):
        answer = client.get(address)
        said = answer.get_data(as_text=True)
        assert answer.status_code == 503 and "SECRET-OUTSIDE" not in said, (address, said)
        assert linked in said and "请管理员删除" in said, said
    place.unlink()
    with client.get("/static/site.css") as served:
        assert served.status_code == 200


def test_a_link_git_holds_under_templates_is_named_where_the_checkout_made_it_a_plain_file(repo, run, tmp_path):
    """With core.symlinks=false (a Windows clone, some CI caches) git writes a link as a file holding its
    target's name: nothing is read through it here, but every other clone follows it."""
    import subprocess

    _with_templates(repo, tmp_path)
    git(repo, "config", "core.symlinks", "false")
    blob = (
        subprocess.run(
            ["git", "hash-object", "-w", "--stdin"], cwd=repo, input=b"/etc/passwd", capture_output=True, timeout=30
        )
        .stdout.decode("ascii")
        .strip()
    )
    git(repo, "update-index", "--add", "--cacheinfo", f"120000,{blob},templates/record.html")
    git(repo, "checkout", "--", "templates/record.html")
    commit_all(repo, "模板换成链接")
    assert (repo / "templates" / "record.html").read_text(encoding="utf-8") == "/etc/passwd"  # a plain file here
    checked = run(repo, "check")
    assert checked.exit_code == 1 and "templates/record.html: 这是符号链接" in checked.output, checked.output
    done = run(repo, "pdf", "--out", str(tmp_path / "pdf"))
    assert done.exit_code == 1 and "不生成任何文件" in done.output and "templates/record.html" in done.output
    _nothing_written(tmp_path / "pdf")


def test_what_git_holds_under_templates_is_asked_once_a_command_and_again_when_the_index_changes(
    repo, run, tmp_path, monkeypatch
):
    """build asks three times (its check, its PDFs, its site) which links git holds under templates/ and site/:
    one git run answers all three. A link put into the index afterwards, in the same process (the form's
    server runs for weeks), is named at once; with GIT_INDEX_FILE set, git is asked every time."""
    from liaison.git import filemodes

    asked = []
    real = filemodes._source_modes_from_git
    monkeypatch.setattr(filemodes, "_source_modes_from_git", lambda root: asked.append(root) or real(root))
    _with_templates(repo, tmp_path)
    done = run(repo, "build", "--out", str(tmp_path / "public"))
    assert done.exit_code == 0 and len(asked) == 1, (asked, done.output)
    assert filemodes.source_mode_problems(repo) == [] and len(asked) == 1

    (tmp_path / "target").write_bytes(b"/etc/passwd")
    blob = git(repo, "hash-object", "-w", str(tmp_path / "target"))
    git(repo, "update-index", "--add", "--cacheinfo", f"120000,{blob},site/extra.css")
    assert [p.path for p in filemodes.source_mode_problems(repo)] == ["site/extra.css"] and len(asked) == 2
    monkeypatch.setenv("GIT_INDEX_FILE", str(repo / ".git" / "index"))
    for _ in range(2):
        assert [p.path for p in filemodes.source_mode_problems(repo)] == ["site/extra.css"]
    assert len(asked) == 4


def test_what_git_could_not_say_is_asked_again_and_no_other_repository_s_answer_is_kept(repo, tmp_path, monkeypatch):
    """A git that failed once (a timeout, a repository it refused) is asked again, not remembered as "no link";
    a ``.git`` folder git would not take (git reads the repository above it) and git's variables (a pathspec
    read without case) key no answer of another."""
    from liaison.git import filemodes
    from liaison.git import repo as git_repo

    _with_templates(repo, tmp_path)
    (tmp_path / "target").write_bytes(b"/etc/passwd")
    blob = git(repo, "hash-object", "-w", str(tmp_path / "target"))
    git(repo, "update-index", "--add", "--cacheinfo", f"120000,{blob},templates/evil.css")
    real, failures = git_repo.Repo.query, [git_repo.GitError(["ls-files"], None, "", timed_out=True)]

    def once_failing(self, *args, **kwargs):
        if failures:
            raise failures.pop()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(git_repo.Repo, "query", once_failing)
    assert filemodes.source_mode_problems(repo) == []  # git could not say
    assert [p.path for p in filemodes.source_mode_problems(repo)] == ["templates/evil.css"]

    state = git_repo.index_state(repo)
    monkeypatch.setenv("GIT_ICASE_PATHSPECS", "1")
    assert git_repo.index_state(repo) not in (None, state)
    inner = repo / "templates" / "inner"
    (inner / ".git").mkdir(parents=True)
    for name in ("index", "config"):
        shutil.copy2(repo / ".git" / name, inner / ".git" / name)
    assert git_repo.index_state(inner) is None  # no HEAD: git takes the repository above
    for name in ("objects", "refs"):
        (inner / ".git" / name).mkdir()
    for head in (b"garbage\n", b"", b"ref: heads/main\n"):  # git takes none of them, and reads the one above
        (inner / ".git" / "HEAD").write_bytes(head)
        assert git_repo.index_state(inner) is None, head
    (inner / ".git" / "HEAD").write_bytes(b"ref: refs/heads/main\n")
    taken = git_repo.index_state(inner)
    (inner / ".git" / "HEAD").write_bytes(b"ref: refs/heads/other\n")
    moved = git_repo.index_state(inner)
    assert taken is not None and moved is not None and taken != moved  # HEAD's text is part of the state
