"""Outputs written to a disk that fills on the way: one Chinese message, no traceback, nothing half-written.

Each command writes into a small tmpfs (in its own mount namespace, as test_cachekit stages a full
``.cache``) that holds part of what it makes: the export and the site are whole or absent, every PDF in
the PDF folder is whole, the audit log is not there, and the command says in Chinese what filled and what
to do, with exit code 1.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import PROJECT, built_once
from ports import free_port
from small_repos import empty_repository
from test_cachekit import SEMESTER, four_records, mount_namespace, project  # noqa: F401 - project is the fixture

from liaison.core.checks import check_repository
from liaison.core.project import open_project
from liaison.outputs.pdf import build_pdfs, default_cache_dir

OUTPUT = "out"
# Each command, what it is asked to write into the small disk, and how much room that disk has.
COMMANDS = {
    "pdf": (["pdf", "--out", f"{OUTPUT}/pdfs"], "64k"),
    "build": (["build", "--out", f"{OUTPUT}/public"], "150k"),
    "export": (["export", "--semester", SEMESTER, "--out", f"{OUTPUT}/export"], "150k"),
    "audit": (["audit", "--semester", SEMESTER, "--out", f"{OUTPUT}/审计日志.xlsx"], "4k"),
    "check --format junit": (["check", "--format", "junit", "--output", f"{OUTPUT}/junit.xml"], "4k"),  # a small file
}


def _on_a_small_disk(root: Path, args: list[str], size: str, fill: bool) -> tuple[int, str]:
    """(exit code, stderr) of ``build.py args`` in ``root`` with ``root/out`` a tmpfs of ``size`` (filled first
    when ``fill``)."""
    out = root / OUTPUT
    out.mkdir(exist_ok=True)
    command = shlex.join([sys.executable, str(PROJECT / "build.py"), "--root", str(root), *args])
    filler = f" && (head -c 1M /dev/zero > {shlex.quote(str(out))}/fill || true)" if fill else ""
    script = (
        f"mount -t tmpfs -o size={size} tmpfs {shlex.quote(str(out))}{filler} && cd {shlex.quote(str(root))} && "
        f"{command} >{root / 'stdout'} 2>{root / 'stderr'}; echo $? >{root / 'rc'}; "
        # What the disk holds when the command is done, copied out before the mount goes.
        f"cp -a {shlex.quote(str(out))} {shlex.quote(str(root / 'left'))}"
    )
    staged = subprocess.run([*mount_namespace(), "sh", "-c", script], capture_output=True, text=True, timeout=600)
    assert staged.returncode == 0, staged.stderr
    return int((root / "rc").read_text()), (root / "stderr").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def rendered_once(tmp_path_factory) -> Path:
    """The PDF cache of ``project``'s records, rendered once a run (``built_once``). What fills here is the output's
    disk, never the cache's: each command takes its PDFs from a copy, as from the cache CI keeps between pipelines."""

    def render(folder: Path) -> None:
        root = four_records(empty_repository(folder / "repo"))
        opened = open_project(root)
        records = check_repository(opened).clean_records()
        build_pdfs(root, opened.schema, opened.config, opened.roster, records, folder / "pdfs", default_cache_dir(root))

    return default_cache_dir(built_once(tmp_path_factory, "full-disk-four", render) / "repo")


CASES = [(name, fill) for name in COMMANDS for fill in (False, True) if fill or not name.startswith("check")]


@pytest.mark.parametrize(
    "name, fill", CASES, ids=[f"{n}-{'full-from-the-start' if f else 'fills-on-the-way'}" for n, f in CASES]
)
def test_an_output_on_a_disk_that_fills_is_whole_or_absent_and_said_in_chinese(
    project,  # noqa: F811
    rendered_once,
    name,
    fill,
):
    shutil.copytree(rendered_once, default_cache_dir(project))
    args, size = COMMANDS[name]
    code, stderr = _on_a_small_disk(project, args, size, fill)
    assert code == 1, stderr
    assert "Traceback" not in stderr and "磁盘已满" in stderr, stderr
    left = project / "left"
    files = [p for p in left.rglob("*") if p.is_file() and p.name != "fill"]
    assert not [p for p in files if p.name.startswith(".tmp-") or ".new-" in p.name], files
    assert all(p.read_bytes().rstrip().endswith(b"%%EOF") for p in files if p.suffix == ".pdf")
    if name != "pdf":  # the PDF folder is a mirror kept up to date file by file; every other output is one whole
        assert not files, files


def test_an_import_into_a_repository_whose_disk_is_full_says_nothing_was_written(project, tmp_path):  # noqa: F811
    """git cannot even refresh its index: the import says that nothing was committed (not that a push failed
    and a branch is waiting), and no branch is made."""
    sheet = tmp_path / "一条.csv"
    sheet.write_text(
        "领导姓名,联系时间,联系地点,人员规模,联系对象,学生联系人,联系内容\n赵某,2024-10-20,图书馆,5,新生班,刘某,座谈。\n"
    )
    command = shlex.join([sys.executable, str(PROJECT / "build.py"), "--root", str(project), "import", str(sheet)])
    git = shlex.quote(str(project / ".git"))
    copy = shlex.quote(str(tmp_path / "git-copy"))
    script = (
        f"cp -a {git} {copy} && mount -t tmpfs -o size=8m tmpfs {git} && cp -a {copy}/. {git} && "
        f"(head -c 16M /dev/zero > {git}/fill || true) && rm -rf {shlex.quote(str(project / '.cache'))} && "
        f"GIT_AUTHOR_NAME=a GIT_AUTHOR_EMAIL=a@x GIT_COMMITTER_NAME=a GIT_COMMITTER_EMAIL=a@x "
        f"{command} >{tmp_path / 'stdout'} 2>{tmp_path / 'stderr'}; echo $? >{tmp_path / 'rc'}; "
        f"git -C {shlex.quote(str(project))} branch --list 'import/*' >{tmp_path / 'branches'}"
    )
    staged = subprocess.run([*mount_namespace(), "sh", "-c", script], capture_output=True, text=True, timeout=600)
    assert staged.returncode == 0, staged.stderr
    said = (tmp_path / "stdout").read_text(encoding="utf-8") + (tmp_path / "stderr").read_text(encoding="utf-8")
    assert (tmp_path / "rc").read_text().strip() == "1" and "Traceback" not in said, said
    assert "没有写入任何内容" in said and "推送失败" not in said and "分支已在本地创建" not in said, said
    assert (tmp_path / "branches").read_text() == ""


class Output:
    """What a process writes on its stdout pipe, kept by a thread; ``heard`` is set once a line holds ``mark``
    (or the process ended): a test blocks on it, spending nothing, instead of asking again and again."""

    def __init__(self, process: subprocess.Popen, mark: bytes):
        self.lines: list[bytes] = []
        self.heard = threading.Event()
        self._process = process
        self._reader = threading.Thread(target=self._keep, args=(mark,), daemon=True)
        self._reader.start()

    def _keep(self, mark: bytes) -> None:
        for line in self._process.stdout:
            self.lines.append(line)
            if mark in line:
                self.heard.set()
        self.heard.set()

    def text(self) -> str:
        return b"".join(self.lines).decode(errors="replace")

    def close(self) -> None:
        """After the process ended: the rest of what it said, and the pipe closed."""
        self._reader.join(timeout=30)
        self._process.stdout.close()


CACHE_MOUNTS = {
    "full-from-the-start": "mount -t tmpfs -o size=64k tmpfs .cache && (head -c 1M /dev/zero > .cache/fill || true)",
    "fills-on-the-way": "mount -t tmpfs -o size=64k tmpfs .cache",  # the first PDF (about 40 KB) fits, not the next
    "read-only": "mount --bind .cache .cache && mount -o remount,bind,ro .cache",
}


@pytest.mark.early
@pytest.mark.timeout(300)
@pytest.mark.parametrize("how", list(CACHE_MOUNTS))
def test_the_form_serves_whole_pdfs_when_its_cache_disk_is_full_or_read_only(form_repo, tmp_path, how):
    """A reviewer saw the record page's PDF answer 500 with the cache's disk full: the form (python build.py serve,
    in a mount namespace) serves every PDF and the semester's zip whole, and only warns."""
    import http.client
    import io
    import os
    import time
    import zipfile

    from conftest import PROXY_SECRET, proxy_headers, record_data, write_record

    for day in (2, 3, 4):  # more PDFs than the small disk takes
        write_record(form_repo, record_data(date=__import__("datetime").date(2024, 9, day)), suffix=f"0000b{day}")
    subprocess.run(["git", "add", "-A"], cwd=form_repo, check=True, timeout=60)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "三条"],
        cwd=form_repo,
        check=True,
        timeout=60,
    )
    (form_repo / ".cache").mkdir()
    port = free_port()
    serve = shlex.join(
        [sys.executable, str(PROJECT / "build.py"), "--root", str(form_repo), "serve", "--port", str(port)]
        + ["--data", str(tmp_path / "data")]
    )
    script = f"cd {shlex.quote(str(form_repo))} && {CACHE_MOUNTS[how]} && exec {serve}"
    env = {**os.environ, "LIAISON_PROXY_SECRET": PROXY_SECRET}
    process = subprocess.Popen(
        [*mount_namespace(), "sh", "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output = Output(process, "表单服务：".encode())  # said once its socket is bound

    def get(path: str):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            connection.request("GET", path, headers=proxy_headers("zhao"))
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    try:
        ids = ["2024-09-01-T1-0000aa", *(f"2024-09-0{day}-T1-0000b{day}" for day in (2, 3, 4))]
        assert output.heard.wait(120), output.text()  # blocked, spending nothing, while the service starts
        deadline = time.monotonic() + 120
        while True:  # until the service answers and its worker has fetched the records
            assert process.poll() is None, output.text()
            try:
                status, _ = get(f"/records/{ids[-1]}")
            except OSError:
                status = 0
            if status == 200 or time.monotonic() > deadline:
                break
        for record_id in ids * 2:  # twice: the second time from the cache where it took the PDF
            status, body = get(f"/records/{record_id}.pdf")
            assert status == 200 and body.startswith(b"%PDF-") and body.rstrip().endswith(b"%%EOF"), (
                status,
                body[:300],
            )
        status, body = get("/mine/2024-2025-1.zip")
        assert status == 200
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            assert len(archive.namelist()) == 4
            assert all(archive.read(name).rstrip().endswith(b"%%EOF") for name in archive.namelist())
    finally:
        process.terminate()
        process.wait(timeout=30)
        output.close()
    assert "Traceback" not in output.text(), output.text()[-3000:]
