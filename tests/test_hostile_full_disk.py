"""Outputs written to a disk that fills on the way: one Chinese message, no traceback, nothing half-written.

Each command writes into a small tmpfs (in its own mount namespace, as test_cachekit stages a full
``.cache``) that holds part of what it makes: the export and the site are whole or absent, every PDF in
the PDF folder is whole, the audit log is not there, and the command says in Chinese what filled and what
to do, with exit code 1.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT
from test_cachekit import SEMESTER, mount_namespace, project  # noqa: F401 - project is the fixture

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


CASES = [(name, fill) for name in COMMANDS for fill in (False, True) if fill or not name.startswith("check")]


@pytest.mark.parametrize(
    "name, fill", CASES, ids=[f"{n}-{'full-from-the-start' if f else 'fills-on-the-way'}" for n, f in CASES]
)
def test_an_output_on_a_disk_that_fills_is_whole_or_absent_and_said_in_chinese(project, name, fill):  # noqa: F811
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
