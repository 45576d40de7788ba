"""Small real repositories in tmp_path, and the CLI driven in-process."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from chromium import launch as chromium_launch
from click.testing import CliRunner

from liaison.cli import cli
from liaison.core.records import dump_record, new_record_id, record_path
from liaison.core.schema import Schema

PROJECT = Path(__file__).resolve().parent.parent
SCHEMA = Schema.load(PROJECT / "schema" / "record.yaml")

CONFIG = """\
school: 测试大学
office: 学生工作处思政科
timezone: Asia/Shanghai
"""

ROSTER = """\
leaders:
  - {id: T1, name: 赵某, department: 学生工作处, position: 副处长, login: zhao, email: zhao@example.edu.cn, active: true}
  - {id: T2, name: 张伟, department: 学生工作处, position: 处长, login: zhangwei, active: true}
  - {id: T3, name: 张伟, department: 基础医学院, position: 党委书记, login: zhangwei2, active: true}
  - {id: T4, name: 阿依古丽·买买提, department: 护理学院, position: 党委副书记, login: ayi, active: false}
"""


_CLEARING: list = []
# pytest's own clean-up of old runs, run as `python -c` (no conftest, no plugins to import). A run's lock names its
# process; pytest takes a lock for dead only after three days, so a run killed outright (SIGKILL, a CI job's
# timeout) kept its 1.3 GB (in memory, below) that long. A lock an hour old whose process is gone is made to look
# three days old. Not sooner: a pid means something only in its own PID namespace, and a run in a container
# sharing this folder (the same uid, /dev/shm shared as Playwright advises) names a process this one cannot see;
# no run of the tests takes an hour. Only a regular file is read (a FIFO would block); no error stops pytest's part.
_CLEAN_UP = """\
import os, stat, sys, time
from pathlib import Path
from _pytest.pathlib import cleanup_numbered_dir
root = Path(sys.argv[1])
hour_ago = time.time() - 3600
for lock in root.glob("pytest-*/.lock"):
    try:
        held = lock.lstat()
        if not stat.S_ISREG(held.st_mode) or held.st_mtime > hour_ago:
            continue
        os.kill(int(lock.read_text(encoding="ascii")), 0)
    except ProcessLookupError:
        try:
            os.utime(lock, (0, 0), follow_symlinks=False)
        except OSError:
            pass
    except (OSError, ValueError, OverflowError):
        pass
cleanup_numbered_dir(root, "pytest-", int(sys.argv[2]), float(sys.argv[3]))
"""


@pytest.hookimpl(trylast=True)  # after pytest's tmpdir plugin has made config._tmp_path_factory
def pytest_configure(config):
    """Older runs' temporary folders (pytest keeps the last three, two in memory) are deleted while the tests run,
    not after.

    A run leaves about 150,000 files there; pytest deletes the oldest run's at the end of each session, and on
    this machine's disk that held the end of a run for 14-18 s with the CPU idle when those files were no longer
    in the page cache. Here pytest's own clean-up (its lock files keep a running session's folder safe) starts
    as soon as this run makes its own folder, in the controller (not in xdist's workers), as a process of its
    own: a thread would take the GIL from a run without workers, and a process in pytest's group would die
    with it at Ctrl-C, leaving a half-deleted folder under a fresh lock. At the end pytest finds nothing left.
    A run that makes no folder (``--collect-only``, a ``-k`` that selects nothing) deletes nothing.
    """
    import os

    config.addinivalue_line("markers", "early: run at the start of the run (pytest_collection_modifyitems)")
    factory = getattr(config, "_tmp_path_factory", None)  # None under -p no:tmpdir
    if os.environ.get("PYTEST_XDIST_WORKER") or factory is None or factory._given_basetemp is not None:
        return
    keep = int(config.getini("tmp_path_retention_count"))
    if _temporary_files_in_memory():
        # Each run's 1.3 GB stays in RAM until later runs delete it: the last two (a failed run still there to
        # look at after another session, a probe of tests/test_structure.py among them, has ended).
        keep = factory._retention_count = min(keep, 2)
    make_basetemp = factory.getbasetemp

    def getbasetemp():
        made = factory._basetemp is None
        basetemp = make_basetemp()
        if made and keep:
            _start_clean_up(basetemp, keep)
        return basetemp

    factory.getbasetemp = getbasetemp


# /dev/shm as the tests' temporary folder (below): free space it must have, for a run (1.3 GB at its peak), the
# run kept before it, and room to spare for what else uses it.
IN_MEMORY_FREE = 8 << 30


def _temporary_files_in_memory() -> bool:
    """Send this run's temporary files (pytest's tmp_path and every ``tempfile`` of the tests and of the commands
    they start) to a RAM disk, /dev/shm, when the system's temporary folder is on a disk; True if it did.

    A run makes about 150,000 files and deletes the run before it: on this machine's disk (ext4) the kernel's
    work for them, allocating inodes among so many just deleted, was about 5% of the run's busy CPU, and three
    of four pairs of runs took 0.76-0.85x as long in memory (BENCHMARKS.md, "Fourth round").

    Nothing changes when TMPDIR is set (``TMPDIR=/tmp make test`` keeps them on disk), when the temporary
    folder is already in memory, or when /dev/shm is no RAM disk with 8 GiB free (a container's 64 MB
    /dev/shm) where programs may run (not ``noexec``: the tests' git hooks live there). The folder,
    ``/dev/shm/liaison-tests-<uid>``, is this user's alone: one that another user made, or a link, is not used.
    """
    import os
    import stat
    import tempfile

    if os.environ.get("TMPDIR") or os.environ.get("PYTEST_DEBUG_TEMPROOT"):
        return False
    shm = Path("/dev/shm")
    if _filesystem_type(Path(tempfile.gettempdir())) == "tmpfs" or _filesystem_type(shm) != "tmpfs":
        return False
    try:
        free = os.statvfs(shm)
        if free.f_bavail * free.f_frsize < IN_MEMORY_FREE or free.f_flag & os.ST_NOEXEC:
            return False
        folder = shm / f"liaison-tests-{os.getuid()}"
        folder.mkdir(mode=0o700, exist_ok=True)
        made = folder.lstat()
    except OSError:
        return False
    if not stat.S_ISDIR(made.st_mode) or made.st_uid != os.getuid() or stat.S_IMODE(made.st_mode) & 0o077:
        return False
    os.environ["TMPDIR"] = str(folder)  # xdist's workers, started after this, inherit it
    tempfile.tempdir = None  # asked again on next use
    return True


def _filesystem_type(path: Path) -> str:
    """The type of the file system ``path`` is on (``tmpfs``, ``ext4``), from the longest mount point above it."""
    try:
        mounts = Path("/proc/self/mounts").read_text(encoding="utf-8", errors="replace").splitlines()
        path = path.resolve()
    except OSError:
        return ""
    found, depth = "", -1
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = Path(fields[1].replace("\\040", " "))
        if (path == point or point in path.parents) and len(point.parts) >= depth:  # the last one mounted shows
            found, depth = fields[2], len(point.parts)
    return found


def _start_clean_up(basetemp: Path, keep: int) -> None:
    import subprocess
    import sys

    dead_before = basetemp.stat().st_mtime - 60 * 60 * 24 * 3  # pytest's LOCK_TIMEOUT: a lock this old is dead
    command = [sys.executable, "-c", _CLEAN_UP, str(basetemp.parent), str(keep), str(dead_before)]
    _CLEARING.append(
        subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    )


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    """Wait for the clean-up (pytest's own would skip what it is deleting); one that takes longer than five
    minutes (a disk that hangs) is left to finish on its own."""
    import contextlib
    import subprocess

    for process in _CLEARING:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=300)


def pytest_collection_modifyitems(items):
    """Tests marked ``early`` run first, in their collected order; the others follow in theirs.

    Those are the tests that mostly wait (on a server's timeout, a slow peer, a hung git) or take long: started
    at the end of a run, they were its last seconds, with one worker waiting and the two cores idle; at the
    start, a third worker (make test runs one more than there are cores) waits while the others keep both cores
    busy. xdist's worksteal gives the first worker the first third of this order, and steals from its end.
    A module whose early tests share a module-scoped fixture with its other tests is marked whole
    (``pytestmark``): split, the fixture would be made twice.
    """
    items.sort(key=lambda item: item.get_closest_marker("early") is None)


def pytest_collection_finish(session):
    """What collection made (modules, the test items, hypothesis' tables) lives until the run ends: the cyclic
    garbage collector need not walk it again at each full collection (a third of the GC's time here).

    The youngest generation is collected every 20,000 allocations, not 700: a worker's heap (the modules and
    fonts its tests load) is large, and Python's default made about 5,000 collections a worker, 30 of them full
    ones of 0.07 s each: 7.5 CPU-seconds of a run, against 3.2 s with no full collection left and each worker's
    peak memory about the same (435-633 MB against 435-569 MB; BENCHMARKS.md, sixth round).
    """
    import gc

    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


def china_today() -> datetime.date:
    return datetime.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def record_data(**overrides) -> dict:
    """A valid record of leader T1; any field may be overridden."""
    data = {
        "leader_id": "T1",
        "leader": "赵某",
        "department": "学生工作处",
        "position": "副处长",
        "date": datetime.date(2024, 9, 15),
        "place": "图书馆101",
        "size": 50,
        "target": "国旗护卫队",
        "student_contact": "刘某",
        "content": "座谈交流。\n了解学习和生活情况。",
        "feedback": "希望延长自习室开放时间。",
        "remarks": "",
    }
    data.update(overrides)
    return data


def long_text(length: int, seed: str) -> str:
    """Paragraphs of Chinese with Latin words and numbers, ``length`` characters: a long 联系内容."""
    sentence = "与同学们座谈，了解学习、生活和就业的情况（Python 课程、GPA 3.5 以上），逐一回应同学们提出的问题。"
    paragraphs, n = [], 0
    while len("\n".join(paragraphs)) < length:
        n += 1
        paragraphs.append(f"{seed}{n}. " + sentence * (1 + n % 4))
    return "\n".join(paragraphs)[:length].rstrip()


def fill_repo(root: Path) -> Path:
    """Make ``root`` an empty liaison repository (not yet a git one): the project's schema, a test config and
    roster, no record."""
    shutil.copytree(PROJECT / "schema", root / "schema")
    (root / "config.yaml").write_text(CONFIG, encoding="utf-8")
    (root / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    (root / "records").mkdir()
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty liaison repository: the project's schema, a test config and roster."""
    return fill_repo(tmp_path / "repo")


def write_record(
    root: Path,
    data: dict | None = None,
    *,
    text: str | bytes | None = None,
    record_id: str | None = None,
    path: str | None = None,
    suffix: str = "abc123",
) -> str:
    """Write a record file (from data, or raw text/bytes) and return its path relative to root."""
    data = data or record_data()
    if path is None:
        record_id = record_id or new_record_id(data["date"], data["leader_id"], suffix)
        path = record_path(record_id)
    content = dump_record(data, SCHEMA) if text is None else text
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content, encoding="utf-8")
    return path


@pytest.fixture
def run():
    """Run a CLI command in-process against a repository: run(root, "check", ...)."""

    def invoke(root: Path, *args: str):
        return CliRunner().invoke(cli, ["--root", str(root), *args], prog_name="python build.py")

    return invoke


GIT_ENV = {
    "GIT_AUTHOR_NAME": "测试",
    "GIT_AUTHOR_EMAIL": "test@example.edu.cn",
    "GIT_COMMITTER_NAME": "测试",
    "GIT_COMMITTER_EMAIL": "test@example.edu.cn",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def replace_field(text: str, key: str, new: str) -> str:
    """Record YAML with ``key``'s entry (its line and, for a literal block, its indented lines) replaced by ``new``."""
    lines, out, skipping = text.splitlines(True), [], False
    for line in lines:
        if line.startswith(f"{key}:"):
            out.append(new if new.endswith("\n") else new + "\n")
            skipping = True
        elif skipping and (line.startswith("  ") or line == "\n"):
            continue
        else:
            skipping = False
            out.append(line)
    return "".join(out)


def git(root: Path, *args: str) -> str:
    """Run real git in ``root`` with a fixed identity (CI machines have none configured)."""
    import os
    import subprocess

    env = {**os.environ, **GIT_ENV, "HOME": str(root)}
    done = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True, check=True, timeout=60)
    return done.stdout.strip()


def commit_all(root: Path, message: str = "记录") -> str:
    if not (root / ".git").exists():
        git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return head_commit(root)


def head_commit(root: Path) -> str:
    """The commit HEAD names: read from the branch's ref file where git keeps it loose (a commit just made), else
    asked of git (a detached or packed head)."""
    dot_git = root / ".git"
    head = (dot_git / "HEAD").read_text(encoding="utf-8").strip()
    loose = dot_git / head.removeprefix("ref: ") if head.startswith("ref: refs/heads/") else None
    if loose is not None and loose.is_file():
        return loose.read_text(encoding="utf-8").strip()
    return git(root, "rev-parse", "HEAD")


def records_by_hand(root: Path, leader_id=None, start=None, end=None, text=None) -> list[dict]:
    """Walk the record files with a plain YAML parser and pick the way a person would (the test oracle)."""
    import yaml

    found = []
    for path in sorted((root / "records").glob("*/*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        day = data["date"]
        if leader_id and data["leader_id"] != leader_id:
            continue
        if (start and day < start) or (end and day > end):
            continue
        if text and not any(isinstance(v, str) and text in v for v in data.values()):
            continue
        found.append({"id": path.stem, **data, "date": day.isoformat()})
    return sorted(found, key=lambda r: (r["date"], r["leader_id"], r["id"]))


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = chromium_launch(playwright)
        yield chromium
        chromium.close()


def built_once(tmp_path_factory, name: str, build) -> Path:
    """The folder ``build(folder)`` fills, made once per run and shared read-only by every test that asks.

    Under pytest-xdist each worker has its own session, so a session fixture
    alone would build once per worker: the first worker to ask builds in the
    run's common folder while the others wait on a lock, then all reuse it.
    """
    import fcntl
    import os

    common = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        common = common.parent  # above each worker's own folder: the run's
    folder, done = common / name, common / f"{name}.built"
    with open(common / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a worker killed mid-build left it half made
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


def built_copy(tmp_path_factory, name: str, build, destination: Path) -> Path:
    """``destination``: a copy of the folder ``build(folder)`` fills once per run (``built_once``).

    For setup that costs git many calls and is the same in every test (a
    repository, a history with fixed dates): each test gets a whole copy, a
    repository with its own objects (no alternates, no shared files), which it
    may change, gc or push as it likes.
    """
    template = built_once(tmp_path_factory, name, build)
    shutil.copytree(template, destination, symlinks=True, dirs_exist_ok=True)
    return destination


def tree_digest(folder: Path) -> dict[str, str]:
    """Each file under ``folder`` (relative path) and the SHA-256 of its bytes."""
    import hashlib

    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory):
    """The demo data's site (public/), built once per run (``built_once``) and shared by the site tests.

    Read-only: a test that needs to change a site builds or copies its own. The
    files are compared with their digests at the end, so a test that wrote into
    the shared site fails the run instead of quietly changing what later tests see.
    """
    from liaison.core.project import open_project
    from liaison.outputs.site import build_site

    def build(folder: Path) -> None:
        build_site(open_project(PROJECT), folder / "public", folder / "cache", site_cache=folder / "store")

    out = built_once(tmp_path_factory, "demo-site", build) / "public"
    built = tree_digest(out)
    yield out
    now = tree_digest(out)
    changed = sorted(name for name in built.keys() | now.keys() if built.get(name) != now.get(name))
    assert changed == [], f"a test changed the shared demo site (copy it before changing it): {changed[:10]}"


@pytest.fixture(scope="session")
def serve(tmp_path_factory):
    """serve(directory, prefix) -> base URL: a real HTTP server on loopback, the site under a sub-path."""
    import functools
    import http.server

    from webclient import ServerThread

    servers = []

    def start(directory: Path, prefix: str = "group/project") -> str:
        www = tmp_path_factory.mktemp("served")
        mount = www / prefix
        mount.parent.mkdir(parents=True, exist_ok=True)
        mount.symlink_to(directory, target_is_directory=True)

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(www)))
        servers.append(ServerThread(server))
        return f"http://127.0.0.1:{server.server_address[1]}/{prefix}/"

    yield start
    for server in servers:
        server.close()


def pipeline_files() -> list[str]:
    """The project's files as a commit would hold them (tracked, or untracked and not ignored), with every twelfth
    demo record: 5 of 59, three semesters, both render shards. The jobs do the same whatever the count, and every
    demo record is rendered by demo_site; with fewer than four PDFs to make, each render shard (and the export of
    2025-2026-1) renders them in its own process, where a pool of render processes (tests/test_pdf_build.py) would
    cost its workers' start-up, half a second a job here."""
    import subprocess

    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.splitlines()
    files = [n for n in listed if not n.startswith("tools/node_modules/") and (PROJECT / n).is_file()]
    records = sorted(n for n in files if n.startswith("records/") and n.endswith(".yaml"))
    return sorted(set(files) - set(records) | set(records[::12]))


@pytest.fixture(scope="session")
def pipeline_origin(tmp_path_factory) -> Path:
    """A bare repository with one commit on main, the project as committed (``pipeline_files``); made once.

    Its objects are packed: gitlab-ci-local copies the repository, .git included, into each job's folder
    (``--shell-isolation``), and one pack copies in a third of the time of three hundred loose objects."""

    def build(work: Path) -> None:
        project = work / "project"
        for name in pipeline_files():
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT / name, project / name)
        git(project, "init", "-q", "-b", "main")
        git(project, "add", "-A")
        git(project, "commit", "-q", "-m", "项目")
        git(work, "clone", "-q", "--bare", str(project), str(work / "origin.git"))
        git(work / "origin.git", "repack", "-adq")

    return built_once(tmp_path_factory, "pipeline-origin", build) / "origin.git"


def pipeline_clone(origin: Path, folder: Path) -> Path:
    """``folder/project``: a clone of ``origin`` whose own origin is a new bare repository, ``folder/origin.git``."""
    remote, repo = folder / "origin.git", folder / "project"
    git(folder, "clone", "-q", "--bare", str(origin), str(remote))
    git(folder, "clone", "-q", str(remote), str(repo))
    return repo


@pytest.fixture
def pipeline_repo(tmp_path, pipeline_origin) -> Path:
    """A clone of the project as committed work would be, whose origin is a bare repository of its own."""
    return pipeline_clone(pipeline_origin, tmp_path)


PROXY_SECRET = "test-proxy-secret-0123456789"


FORM_WEB = "web:\n  remote: ''\n  labels: [联系记录, 待审核]\n  contact: 思政科（电话 1234）\n"


def build_form_repo(root: Path) -> None:
    """The form's repository, committed (``form_repo``)."""
    fill_repo(root)
    shutil.copytree(PROJECT / "templates", root / "templates")
    shutil.copytree(PROJECT / "site", root / "site")
    (root / "config.yaml").write_text(CONFIG + FORM_WEB, encoding="utf-8")
    write_record(root, record_data(date=datetime.date(2024, 9, 1), content="已合并的记录"), suffix="0000aa")
    commit_all(root, "初始")


@pytest.fixture
def form_repo(tmp_path_factory, tmp_path):
    """A committed repository with the templates and site assets, and its stand-in GitLab remote.

    A copy of one made once per run (``built_copy``): the same files and commit as making it here would give, in
    a repository of its own, at the path ``repo`` would have (a test that asks for both gets this one).
    """
    return built_copy(tmp_path_factory, "form-repo", build_form_repo, tmp_path / "repo")


def seed_embedded_remote(tmp_path_factory, root: Path, data_dir: Path) -> None:
    """Put in ``data_dir`` the git repositories the service makes for ``root`` on its first start, the embedded
    remote and the mirror, copied from ones the service's own code made once per run, where they would be the same:
    nothing there yet, no remote configured, and ``root``'s HEAD the form repository's commit (``form_repo``).
    Else the service makes its own.

    Making them (two ``git init``, their settings, a hook, a first push) is most of what starting the service
    costs git. The mirror made here names the template's remote; the service sets it to its own as it starts.
    """
    import os

    import yaml

    if any((data_dir / name).exists() for name in ("remote.git", "mirror.git")):
        return
    if os.environ.get("LIAISON_REMOTE") or not (root / ".git" / "HEAD").is_file():
        return
    try:
        web = yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))["web"]
    except (OSError, ValueError, yaml.YAMLError, TypeError, KeyError):
        return  # a test's broken or missing setting: the service says what is wrong, as it would
    if not isinstance(web, dict) or web.get("remote") or web.get("target_branch", "main") != "main":
        return
    form = built_once(tmp_path_factory, "form-repo", build_form_repo)
    if head_commit(root) != head_commit(form):
        return

    def build(folder: Path) -> None:
        from liaison.submit.push import Mirror, Settings, init_local_remote

        init_local_remote(folder / "remote.git", form, "main")
        Mirror(folder / "mirror.git", Settings(remote=str(folder / "remote.git")))

    made = built_once(tmp_path_factory, "form-service-data", build)
    for name in ("remote.git", "mirror.git"):
        shutil.copytree(made / name, data_dir / name, symlinks=True)


@pytest.fixture
def make_app(monkeypatch, tmp_path, tmp_path_factory):
    """make_app(root, **kw) -> a Flask app on its own data folder, the proxy secret set; stopped afterwards."""
    from liaison.web import create_app

    monkeypatch.setenv("LIAISON_PROXY_SECRET", PROXY_SECRET)
    apps = []

    def make(root: Path, data_dir: Path | None = None, **kwargs):
        data_dir = data_dir or tmp_path / "data"
        seed_embedded_remote(tmp_path_factory, root, data_dir)
        app = create_app(root, data_dir, **kwargs)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.config["LIAISON_SUBMITTER"].stop()
        app.config["LIAISON_NOTIFIER"].stop()


@pytest.fixture
def live():
    """live(app) -> port: the app served by a real waitress server on loopback."""
    from webclient import LiveServer

    servers = []

    def start(app) -> int:
        servers.append(LiveServer(app))
        return servers[-1].port

    yield start
    for server in servers:
        server.stop()


def proxy_headers(login: str) -> dict:
    return {"X-Remote-User": login, "X-Liaison-Proxy-Secret": PROXY_SECRET}


def good_form(**overrides) -> dict:
    fields = {
        "position": "副处长",
        "date": "2024-10-08",
        "place": "图书馆101",
        "size": "30",
        "target": "学生会",
        "student_contact": "刘某",
        "content": "座谈交流。",
        "feedback": "",
        "remarks": "",
    }
    fields.update(overrides)
    return fields


def push_options_remote(repo: Path, tmp_path: Path) -> Path:
    """A bare repository as ``repo``'s origin that takes push options, as GitLab does, and logs those it got
    (``GIT_PUSH_OPTION_*``) in ``options.log``."""
    remote = tmp_path / "gitlab.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(remote, "config", "receive.advertisePushOptions", "true")
    hook = remote / "hooks" / "post-receive"
    hook.write_text('#!/bin/sh\nenv | grep GIT_PUSH_OPTION_ | sort > "$GIT_DIR/options.log"\n', encoding="utf-8")
    hook.chmod(0o755)
    git(repo, "remote", "add", "origin", str(remote))
    return remote
