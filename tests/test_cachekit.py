"""The cache kit: one codec, code stamps that follow the imports, and caches that cannot be written.

- The codec gives every value back exactly, or refuses it.
- The stamp tests change liaison's own code, so they run a copy of the
  package (in ``tmp_path``) in a subprocess: a change to a module an output
  depends on only through other modules makes that cache start over, and a
  change to a module it does not import leaves it as it was.
- A ``.cache`` that cannot be written: every command runs without it, with
  one warning, and gives the same results. Three ways: ``.cache`` is a file
  (any user can make that, so every command is tried that way, in-process);
  a read-only mount (``EROFS``: a read-only checkout; ``chmod`` does not stop
  root, a read-only bind mount does); a full disk (a tiny tmpfs mounted on
  ``.cache``). The mounts need a mount namespace (``unshare --mount``, as root
  or with user namespaces): those commands run in a subprocess inside one.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT, commit_all, record_data, write_record
from hypothesis import given
from hypothesis import strategies as st

from liaison.core import cachekit


def four_records(root: Path) -> Path:
    """``root`` (an empty repository) with the templates, the site's files and four committed records (more PDFs
    than test_hostile_full_disk's small disks take), the fourth added by a second commit (for ``review --base
    HEAD~1``)."""
    shutil.copytree(PROJECT / "templates", root / "templates")
    shutil.copytree(PROJECT / "site", root / "site")
    write_record(root, record_data(), suffix="aaaaaa")
    write_record(root, record_data(date=datetime.date(2024, 10, 1), target="学生会"), suffix="bbbbbb")
    write_record(root, record_data(date=datetime.date(2024, 10, 9), target="志愿者协会"), suffix="dddddd")
    commit_all(root, "三条记录")
    write_record(root, record_data(date=datetime.date(2024, 11, 5), target="研究生会"), suffix="cccccc")
    commit_all(root, "第三条记录")
    return root


@pytest.fixture
def project(repo) -> Path:
    return four_records(repo)


# The codec ---------------------------------------------------------------------

OFFSETS = st.sampled_from([None, datetime.UTC, datetime.timezone(datetime.timedelta(hours=8))])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()  # lone surrogates included: YAML's "\ud800" escape makes them
    | st.dates()
    | st.builds(lambda moment, zone: moment.replace(tzinfo=zone, fold=0), st.datetimes(), OFFSETS)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text().filter(lambda key: key != "\x00"), inner, max_size=4)
    ),
    max_leaves=20,
)


def same(a, b) -> bool:
    """Equal, and of the very same types all the way down (True is not 1, a date is not its text)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, datetime.datetime):
        return a == b and a.utcoffset() == b.utcoffset()
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


@given(VALUES)
def test_every_value_the_codec_takes_comes_back_exactly(value):
    assert same(cachekit.loads(cachekit.dumps(value)), value)


class Text(str):
    pass


REFUSED = {
    "a tuple": (1, 2),
    "a NaN": float("nan"),
    "an infinity": [float("inf")],
    "a key that is not text": {1: "a"},
    "a dict that looks tagged": {"\x00": "d", "v": "2024-01-01"},
    "a subclass of str": Text("a"),
    "a named time zone": datetime.datetime(2024, 1, 1, tzinfo=__import__("zoneinfo").ZoneInfo("Asia/Shanghai")),
    "bytes": b"raw",
    "the second of a repeated hour": datetime.datetime(2024, 11, 3, 1, 30, fold=1),
}


@pytest.mark.parametrize("value", REFUSED.values(), ids=list(REFUSED))
def test_a_value_the_codec_cannot_give_back_exactly_is_refused(value):
    with pytest.raises(cachekit.Unstorable):
        cachekit.dumps({"remarks": [value]})


@pytest.mark.parametrize(
    "data",
    [b'{"\\u0000":"x","v":1}', b'{"\\u0000":"d","v":"not a day"}', b"[1,", b"\xff\xfe", b"[" * 100_000],
    ids=lambda data: repr(data[:20]),
)
def test_damaged_stored_bytes_raise_a_value_error_never_a_wrong_value(data):
    with pytest.raises(ValueError):
        cachekit.loads(data)


def test_a_stored_value_is_json_so_a_poisoned_cache_cannot_run_code():
    stored = cachekit.dumps({"date": datetime.date(2024, 9, 15), "size": 50})
    assert json.loads(stored) == {"date": {"\x00": "d", "v": "2024-09-15"}, "size": 50}


# The stamp follows the imports -------------------------------------------------


def test_a_stamp_covers_what_its_modules_import_at_any_depth_and_nothing_else():
    reached = cachekit.dependencies("liaison.outputs.pdf.form")
    assert "liaison.core.dates" in reached  # imported by the form itself, outside outputs/pdf/
    assert "liaison.core.yamlsyntax" in reached  # form -> records -> yamlio -> yamlsyntax
    assert "liaison.outputs" in reached and "liaison" in reached  # parent packages run first
    assert "liaison.outputs.workbook" not in reached and "liaison.web" not in reached
    check = cachekit.dependencies("liaison.git.checkcache")
    assert "liaison.core.cachekit" in check and "liaison.outputs.pdf.form" not in check


def test_relative_imports_and_imports_inside_functions_are_followed():
    reached = cachekit.dependencies("liaison.web.views.form")
    assert "liaison.web.views.mine" in reached  # from .mine import ...
    assert "liaison.web.formfields" in reached  # from ..formfields import ...
    assert "liaison.git.repo" in cachekit.dependencies("liaison.cli.import_")  # imported inside `import_`


def forget_imports(monkeypatch, package_memo: Path) -> None:
    """This process forgets what it parsed, as a new process would; ``package_memo`` stands for the file beside
    the package's bytecode."""
    monkeypatch.setattr(cachekit, "_KNOWN_IMPORTS", {})
    monkeypatch.setattr(cachekit, "_IN_FILE", {})
    monkeypatch.setattr(cachekit, "_USED", set())
    monkeypatch.setattr(cachekit, "_PACKAGE_MEMO", package_memo)


def test_the_stamp_is_remembered_and_parses_nothing_the_second_time(tmp_path, monkeypatch):
    memo = tmp_path / ".cache"
    memo.mkdir()
    forget_imports(monkeypatch, tmp_path / "read-only-package" / "__pycache__" / "imports.json")  # not there
    first = cachekit.dependencies("liaison.outputs.site", memo=memo)
    assert (memo / "code-imports.json").is_file()
    forget_imports(monkeypatch, tmp_path / "read-only-package" / "__pycache__" / "imports.json")
    monkeypatch.setattr(cachekit, "_imported", lambda *args: pytest.fail("parsed again"))
    assert cachekit.dependencies("liaison.outputs.site", memo=memo) == first


def test_a_project_with_no_cache_yet_parses_nothing_the_package_s_file_remembers(tmp_path, monkeypatch):
    parse = cachekit._imported
    package_memo = tmp_path / "package" / "__pycache__" / "imports.json"
    package_memo.parent.mkdir(parents=True)
    forget_imports(monkeypatch, package_memo)
    first = cachekit.dependencies("liaison.outputs.site", memo=tmp_path / "one" / ".cache")  # no such folder yet
    assert package_memo.is_file() and not (tmp_path / "one").exists()
    forget_imports(monkeypatch, package_memo)
    monkeypatch.setattr(cachekit, "_imported", lambda *args: pytest.fail("parsed again"))
    other = tmp_path / "other" / ".cache"
    other.mkdir(parents=True)
    assert cachekit.dependencies("liaison.outputs.site", memo=other) == first
    assert (other / "code-imports.json").is_file()  # the project keeps its own as well (CI keeps .cache/)
    package_memo.write_bytes(b"\x00 cut short")
    forget_imports(monkeypatch, package_memo)
    monkeypatch.setattr(cachekit, "_imported", parse)
    assert cachekit.dependencies("liaison.outputs.site") == first  # a damaged file: parsed again, and written whole
    assert json.loads(package_memo.read_bytes())


@pytest.mark.timeout(30)  # a FIFO read without care blocks for ever
@pytest.mark.parametrize("planted", ["fifo", "link to /dev/zero", "folder"])
def test_a_memo_that_is_no_regular_file_is_passed_over_never_waited_on(tmp_path, monkeypatch, planted):
    parse = cachekit._imported
    first = cachekit.dependencies("liaison.outputs.pdf.form")
    for memo in (tmp_path / "package" / "__pycache__" / "imports.json", tmp_path / ".cache" / cachekit._Imports.FILE):
        memo.parent.mkdir(parents=True, exist_ok=True)
        {"fifo": lambda m: os.mkfifo(m), "link to /dev/zero": lambda m: m.symlink_to("/dev/zero")}.get(
            planted, lambda m: m.mkdir()
        )(memo)
    forget_imports(monkeypatch, tmp_path / "package" / "__pycache__" / "imports.json")
    monkeypatch.setattr(cachekit, "_imported", parse)
    assert cachekit.dependencies("liaison.outputs.pdf.form", memo=tmp_path / ".cache") == first


def test_with_bytecode_kept_elsewhere_the_package_s_folder_is_neither_read_nor_written(tmp_path, monkeypatch):
    package_memo = tmp_path / "package" / "__pycache__" / "imports.json"
    package_memo.parent.mkdir(parents=True)
    forget_imports(monkeypatch, package_memo)
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path / "prefix"))  # PYTHONPYCACHEPREFIX
    cachekit.dependencies("liaison.outputs.site")
    assert not package_memo.exists()


def test_the_package_s_file_is_readable_by_every_user_of_the_install(tmp_path, monkeypatch):
    package_memo = tmp_path / "package" / "__pycache__" / "imports.json"
    package_memo.parent.mkdir(parents=True)
    forget_imports(monkeypatch, package_memo)
    cachekit.dependencies("liaison.outputs.site")
    assert package_memo.stat().st_mode & 0o777 == 0o644


RUNNER = """
import sys
from pathlib import Path

kind, root, code = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
import liaison

assert liaison.__file__.startswith(code), liaison.__file__  # the copy, not the project's package
from liaison.core.project import open_project

project = open_project(root)
if kind == "check":
    import liaison.git.checkcache as checkcache
    from liaison.git.closed import check_with_history

    parsed, parse = [], checkcache.parse_record
    checkcache.parse_record = lambda *args, **kwargs: parsed.append(1) or parse(*args, **kwargs)
    check_with_history(project)
    print(len(parsed))
elif kind == "history":
    import logging
    from liaison.git.history.read import read_history

    built = []
    handler = logging.Handler()
    handler.emit = lambda record: built.append(record.getMessage())
    logger = logging.getLogger("liaison.git.history.index")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    read_history(root, project.schema)
    print(sum("building it" in message for message in built))
elif kind == "pdf":
    from liaison.core.checks import check_repository
    from liaison.outputs.pdf import build_pdfs, default_cache_dir

    records = check_repository(project).clean_records()[:1]  # one PDF shows a rebuild (or none) as four do
    made = build_pdfs(root, project.schema, project.config, project.roster, records, root / "out",
                      default_cache_dir(root), jobs=1)
    print(made.rendered)
else:
    from liaison.core.checks import check_repository
    from liaison.outputs.pdf import PdfCache, cache_key, default_cache_dir, renderer_identity
    from liaison.outputs.site import build_site, store

    identity = renderer_identity(root, project.schema.path, project.config)
    for record in check_repository(project).clean_records():  # stand-ins: the site links PDFs, never reads them
        PdfCache(default_cache_dir(root)).put(cache_key(identity, record), b"%PDF-1.7 stand-in\\n%%EOF\\n")
    rendered, place = [], store.SiteStore.place

    def counted(self, *args):
        placed = place(self, *args)
        rendered.append(placed.rendered)
        return placed

    store.SiteStore.place = counted
    built = build_site(project, root / "public", default_cache_dir(root))
    assert built.pdfs_rendered == 0, "the PDF cache refused the stand-ins"  # whole (%%EOF), or each run renders
    print(rendered[0])
"""

# (cache, a module it reaches only through others, a module it does not import at all)
EDITS = [
    ("check", "core/yamlsyntax.py", "outputs/pdf/form.py"),  # checkcache -> records -> yamlio -> yamlsyntax
    ("history", "core/dates.py", "git/checkcache.py"),  # index -> gitlog -> records -> dates
    ("pdf", "core/semesters.py", "outputs/workbook.py"),  # form -> config -> semesters: outside outputs/pdf/
    ("site", "core/pinyin.py", "outputs/review.py"),  # site -> pages -> ... -> pinyin (leaders' order)
]


@pytest.fixture
def copy_of_liaison(tmp_path) -> Path:
    code = tmp_path / "code"
    shutil.copytree(PROJECT / "liaison", code / "liaison", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "runner.py").write_text(RUNNER, encoding="utf-8")
    return code


def made_anew(kind: str, root: Path, code: Path) -> int:
    """How much a run of ``kind``'s cache made anew (files parsed, index builds, PDFs or site files rendered)."""
    env = {**os.environ, "PYTHONPATH": str(code), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, str(code.parent / "runner.py"), kind, str(root), str(code)],
        cwd=code.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


def edit(code: Path, module: str) -> None:
    with open(code / "liaison" / module, "a", encoding="utf-8") as source:
        source.write("\n# a change a cache must notice if, and only if, its output imports this module\n")


@pytest.mark.parametrize("kind, dependency, unrelated", EDITS, ids=[e[0] for e in EDITS])
def test_a_change_to_a_module_an_output_imports_invalidates_its_cache_and_no_other_does(
    kind, dependency, unrelated, copy_of_liaison, project
):
    assert made_anew(kind, project, copy_of_liaison) > 0  # the first run fills the cache
    edit(copy_of_liaison, unrelated)
    assert made_anew(kind, project, copy_of_liaison) == 0  # everything from the cache
    edit(copy_of_liaison, dependency)
    assert made_anew(kind, project, copy_of_liaison) > 0


# A cache folder that cannot be written -------------------------------------------

NOTICE = "注意：缓存目录"
RECORD = "2024-09-15-T1-aaaaaa"
SEMESTER = "2024-2025-1"
COMMAND_NAMES = ["check", "audit", "history", "query", "pdf", "build", "export", "review", "verify"]


def commands(root: Path, prefix: str = "") -> dict[str, list[str]]:
    """Each command's arguments, its outputs (absolute: the CLI reads --out against the working folder) named
    with ``prefix``."""
    out = lambda name: str(root / f"{prefix}{name}")  # noqa: E731
    return {
        "check": ["check"],
        "audit": ["audit", "--semester", SEMESTER, "--format", "csv"],
        "history": ["history", RECORD],
        "query": ["query", "--semester", SEMESTER, "--format", "brief"],
        "pdf": ["pdf", "--out", out("pdfs")],
        "build": ["build", "--out", out("public")],
        "export": ["export", "--semester", SEMESTER, "--out", out("export")],
        "review": ["review", "--base", "HEAD~1", "--out", out("review")],
        "verify": ["verify", out("export/2024-2025学年第一学期.zip")],
    }


# What each command leaves, whole, in the repository.
OUTPUTS = {
    "pdf": "pdfs/赵某/2024-09-15_国旗护卫队.pdf",
    "build": "public/index.html",
    "export": "export/2024-2025学年第一学期.zip",
    "review": "review/index.html",
}


def notices(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(NOTICE)]


@pytest.mark.parametrize("command", COMMAND_NAMES)
def test_every_command_runs_uncached_with_one_warning_when_cache_is_not_a_folder(project, run, command):
    if command == "verify":
        assert run(project, *commands(project)["export"]).exit_code == 0  # with the cache: verify rebuilds without
        shutil.rmtree(project / ".cache")
    (project / ".cache").write_text("不是文件夹", encoding="utf-8")
    result = run(project, *commands(project)[command])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 0, result.output
    assert len(notices(result.stderr)) == 1, result.stderr
    assert ".cache" in notices(result.stderr)[0]
    assert command not in OUTPUTS or (project / OUTPUTS[command]).is_file()
    assert (project / ".cache").read_text(encoding="utf-8") == "不是文件夹"


def mount_namespace() -> list[str]:
    """The prefix that runs a command in its own mount namespace here; skips where there is none."""
    for prefix in (["unshare", "--mount"], ["unshare", "--map-root-user", "--mount"]):
        try:
            probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return prefix
    pytest.skip("no mount namespace here (unshare --mount): a read-only or full .cache cannot be staged")


MOUNTS = {
    # A read-only checkout: the bind mount refuses every write with EROFS, root's too.
    "read-only": "mount --bind .cache .cache && mount -o remount,bind,ro .cache",
    # A disk that fills while the caches are written: 96 KB take the first entries, not the PDFs or the site.
    "full": "mount -t tmpfs -o size=96k tmpfs .cache",
}
UNDER_MOUNT = ["pdf", "build", "export"]  # the three that ended in a traceback; each checks first
# pdf renders in a pool of two (--jobs 2): a worker hands back each PDF the cache could not take. The others render
# in their own process (fewer PDFs than POOL_FROM), so both ways meet both caches.
POOLED = ["--jobs", "2"]


def tree(folder: Path, pattern: str = "*") -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob(pattern)) if p.is_file()}


@pytest.mark.early
def test_outputs_are_whole_and_the_same_when_cache_is_read_only_or_full(project, run):
    prefix = mount_namespace()
    # What the commands give with a cache that works: the results to match.
    for command in UNDER_MOUNT:
        assert run(project, *commands(project, "expected-")[command]).exit_code == 0
    shutil.rmtree(project / ".cache")
    (project / ".cache").mkdir()
    for how, mount in MOUNTS.items():
        steps = [
            shlex.join([sys.executable, "build.py", "--root", str(project), *commands(project, how)[c]])
            + (f" {shlex.join(POOLED)}" if c == "pdf" else "")
            + f" >{project / f'{how}{c}.out'} 2>{project / f'{how}{c}.err'}; echo $? >{project / f'{how}{c}.rc'}"
            for c in UNDER_MOUNT
        ]
        script = f"cd {shlex.quote(str(project))} && {mount} && cd {shlex.quote(str(PROJECT))} && " + "; ".join(steps)
        staged = subprocess.run([*prefix, "sh", "-c", script], capture_output=True, text=True, timeout=600)
        assert staged.returncode == 0, staged.stderr

        for command in UNDER_MOUNT:
            stderr = (project / f"{how}{command}.err").read_text(encoding="utf-8")
            assert (project / f"{how}{command}.rc").read_text().strip() == "0", stderr
            assert "Traceback" not in stderr
            assert len(notices(stderr)) == 1, (how, stderr)
            assert stderr.count("WARNING liaison.core.cachekit") == 1, (how, stderr)
        assert tree(project / f"{how}pdfs", "*.pdf") == tree(project / "expected-pdfs", "*.pdf")
        assert tree(project / f"{how}public") == tree(project / "expected-public")
        assert tree(project / f"{how}export") == tree(project / "expected-export")
    assert not list(project.glob("*.new-*")) and not list(project.glob("*export/.*"))  # nothing half-made


def test_only_a_cache_folder_is_kept_out_of_git_never_a_folder_given_by_cache(project, run):
    assert run(project, "pdf", "--out", str(project / "pdfs"), "--cache", str(project)).exit_code == 0
    assert not (project / ".gitignore").exists()  # --cache . must not hide the records from git
    assert (project / ".cache" / ".gitignore").read_bytes().endswith(b"*\n")  # the check cache's folder


def test_an_export_that_fails_leaves_no_folder_it_made(project, run, monkeypatch):
    import liaison.outputs.export as export

    def failing(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export, "build_workbook", failing)
    result = run(project, "export", "--semester", SEMESTER, "--out", str(project / "fresh" / "export"))
    assert result.exit_code != 0
    assert not (project / "fresh").exists()


@pytest.mark.parametrize("entry", ["project.json", "closures.json", "pinyin.json", "a PDF"])
def test_a_fifo_in_a_cache_file_s_place_is_passed_over_not_waited_on(project, run, entry, monkeypatch):
    """Every cache file is opened as a regular file or not at all: a FIFO in its place blocked the command's read
    for ever (and a link to /dev/zero would have read without end)."""
    from liaison.core import pinyin

    for known in (pinyin._syllables, pinyin.pinyin_readings, pinyin.sort_reading):
        known.cache_clear()  # readings an earlier test left in this process: this export asks pypinyin, and keeps
    for name, empty in (("_RECALLED", {}), ("_RECALLED_SORT", {}), ("_FOUND", set()), ("_FOUND_SORT", set())):
        monkeypatch.setattr(pinyin, name, empty)
    first = run(project, "export", "--semester", SEMESTER, "--out", str(project / "first"))
    assert first.exit_code == 0, first.output
    cache = project / ".cache"
    target = next((cache / "pdf").glob("*/*.pdf")) if entry == "a PDF" else cache / entry
    assert target.is_file()
    target.unlink()
    os.mkfifo(target)
    command = [sys.executable, str(PROJECT / "build.py"), "--root", str(project), "export", "--semester", SEMESTER]
    try:
        again = subprocess.run([*command, "--out", str(project / "again")], capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail(f"export waited on a FIFO at .cache/{target.relative_to(cache)}")
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    (made,) = (project / "again").glob("*.zip")
    assert made.read_bytes() == next((project / "first").glob("*.zip")).read_bytes()
