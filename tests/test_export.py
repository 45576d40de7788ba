"""The office's export: folders, workbook, manifest, zip; and ``verify`` catching every change."""

from __future__ import annotations

import datetime
import hashlib
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from conftest import PROJECT, built_once, commit_all, git, record_data, write_record
from openpyxl import load_workbook
from small_repos import empty_repository

from liaison.core.checks import check_repository
from liaison.core.project import open_project
from liaison.core.semesters import resolve_range
from liaison.outputs.export import MANIFEST, export_range
from liaison.outputs.pdf import default_cache_dir
from liaison.outputs.verify import verify_export
from liaison.outputs.workbook import COUNT_SHEET, WORKBOOK_NAME

D = datetime.date
TITLE = "2024-2025学年第一学期"


def five_records(root: Path) -> Path:
    """``root`` committed with records of three leaders (two named 张伟) in one semester and one outside."""
    shutil.copytree(PROJECT / "templates", root / "templates")
    write_record(root, record_data(date=D(2024, 9, 10), target="国旗护卫队/学生会"), suffix="000001")
    write_record(root, record_data(date=D(2024, 10, 10), content="第二次"), suffix="000002")
    write_record(root, record_data(leader_id="T2", leader="张伟", date=D(2024, 11, 5), content="学工"), suffix="000003")
    write_record(root, record_data(leader_id="T3", leader="张伟", date=D(2024, 11, 6), content="基医"), suffix="000004")
    write_record(root, record_data(date=D(2025, 3, 1), content="下学期"), suffix="000005")
    commit_all(root, "初始记录")
    return root


@pytest.fixture
def repo_git(repo):
    return five_records(repo)


def do_export(root, out, semester="2024-2025-1", cache=None):
    project = open_project(root)
    records = check_repository(project).clean_records()
    date_range = resolve_range(project.config.calendar, semester)
    return export_range(project, records, date_range, out, cache or out.parent / "cache")


@pytest.fixture(scope="module")
def rendered_once(tmp_path_factory) -> Path:
    """A PDF cache holding the PDFs of ``repo_git``'s semester, rendered once a run (``built_once``), read-only."""

    def render(folder: Path) -> None:
        do_export(five_records(empty_repository(folder / "repo")), folder / "out", cache=folder / "cache")

    return built_once(tmp_path_factory, "export-five", render) / "cache"


@pytest.fixture
def warm(repo_git, tmp_path, rendered_once) -> None:
    """Copies of ``rendered_once`` where ``do_export`` and ``verify`` find PDFs (``tmp_path / "cache"``, the
    repository's ``.cache/pdf``), for a test whose point is not rendering: a cache key is the record's content and
    the renderer's, the same in every test's repository. (An auditor's clone renders anew.)"""
    shutil.copytree(rendered_once, tmp_path / "cache")
    shutil.copytree(rendered_once, default_cache_dir(repo_git))


@pytest.mark.usefixtures("warm")
def test_export_writes_leader_folders_workbook_manifest_and_zip(repo_git, tmp_path):
    result = do_export(repo_git, tmp_path / "out")
    folder = tmp_path / "out" / TITLE
    assert result.folder == folder and result.zip_path == tmp_path / "out" / f"{TITLE}.zip"
    pdfs = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.pdf"))
    assert pdfs == [
        "张伟（基础医学院）/2024-11-06_国旗护卫队.pdf",
        "张伟（学生工作处）/2024-11-05_国旗护卫队.pdf",
        "赵某/2024-09-10_国旗护卫队／学生会.pdf",
        "赵某/2024-10-10_国旗护卫队.pdf",
    ]
    book = load_workbook(folder / WORKBOOK_NAME)
    counts = {
        row[1] + (row[2] or ""): row[4]
        for row in book[COUNT_SHEET].iter_rows(min_row=4, values_only=True)
        if row[0] != "合计"
    }
    assert counts["赵某学生工作处"] == 2

    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["commit"] == git(repo_git, "rev-parse", "HEAD") and manifest["dirty"] is False
    assert manifest["range"] == {"title": TITLE, "semester": "2024-2025-1", "start": "2024-08-01", "end": "2025-01-31"}
    assert sorted(r["id"] for r in manifest["records"]) == sorted(r.id for r in result.records)
    assert len(result.records) == 4
    listed = {entry["path"]: entry for entry in manifest["files"]}
    assert set(listed) == {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {MANIFEST}
    for path, entry in listed.items():
        data = (folder / path).read_bytes()
        assert entry["size"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert {e["record"] for e in manifest["files"] if e["record"]} == {r.id for r in result.records}


@pytest.mark.usefixtures("warm")
def test_zip_has_utf8_names_and_the_same_files(repo_git, tmp_path):
    result = do_export(repo_git, tmp_path / "out")
    with zipfile.ZipFile(result.zip_path) as archive:
        infos = archive.infolist()
        assert all(info.flag_bits & 0x800 for info in infos if not info.filename.isascii())
        names = {info.filename for info in infos}
        expected = {
            f"{TITLE}/{p.relative_to(result.folder).as_posix()}" for p in result.folder.rglob("*") if p.is_file()
        }
        assert names == expected
        for name in names:
            assert archive.read(name) == (result.folder.parent / name).read_bytes()
    # What Windows Explorer and macOS Finder would list: a reader that ignores the flag would show mojibake.
    raw = result.zip_path.read_bytes()
    assert "张伟（学生工作处）".encode() in raw


def test_the_same_commit_exports_to_the_same_bytes(repo_git, tmp_path):
    first = do_export(repo_git, tmp_path / "a", cache=tmp_path / "cache-a")
    second = do_export(repo_git, tmp_path / "b", cache=tmp_path / "cache-b")
    assert first.zip_path.read_bytes() == second.zip_path.read_bytes()


@pytest.mark.usefixtures("warm")
def test_verify_passes_on_folder_and_zip_and_in_another_clone(repo_git, tmp_path):
    result = do_export(repo_git, tmp_path / "out")
    project = open_project(repo_git)
    assert verify_export(result.folder, project) == []
    assert verify_export(result.zip_path, project) == []
    # An auditor's clone, through a bare remote, after further commits.
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo_git), str(bare)], check=True, timeout=60)
    clone = tmp_path / "auditor"
    subprocess.run(["git", "clone", "-q", str(bare), str(clone)], check=True, timeout=60)
    write_record(clone, record_data(date=D(2024, 12, 24), content="后来补录"), suffix="000009")
    commit_all(clone, "补录")
    assert verify_export(result.zip_path, open_project(clone)) == []


def rewrite_zip(path, change):
    """Apply ``change(dict name -> bytes)`` to a zip's entries, as someone editing the download would."""
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    change(entries)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


@pytest.mark.usefixtures("warm")
def test_verify_reports_a_changed_a_missing_and_an_extra_file(repo_git, tmp_path):
    result = do_export(repo_git, tmp_path / "out")
    folder = result.folder
    changed = folder / "赵某/2024-10-10_国旗护卫队.pdf"
    changed.write_bytes(changed.read_bytes() + b"%tampered")
    (folder / "张伟（学生工作处）/2024-11-05_国旗护卫队.pdf").unlink()
    (folder / "赵某/多出来的.pdf").write_bytes(b"%PDF-1.7")
    differences = verify_export(folder, open_project(repo_git))
    assert "文件内容已被改动：赵某/2024-10-10_国旗护卫队.pdf（与清单中的 SHA-256 不符）" in differences
    assert "缺少文件：张伟（学生工作处）/2024-11-05_国旗护卫队.pdf" in differences
    assert "多出文件（清单中没有）：赵某/多出来的.pdf" in differences
    assert len(differences) == 3


@pytest.mark.usefixtures("warm")
def test_verify_reports_changes_inside_the_zip(repo_git, tmp_path, run):
    result = do_export(repo_git, tmp_path / "out")

    def tamper(entries):
        entries[f"{TITLE}/{WORKBOOK_NAME}"] += b"x"
        del entries[f"{TITLE}/赵某/2024-09-10_国旗护卫队／学生会.pdf"]

    rewrite_zip(result.zip_path, tamper)
    outcome = run(repo_git, "verify", str(result.zip_path))
    assert outcome.exit_code == 1
    assert f"文件内容已被改动：{WORKBOOK_NAME}" in outcome.output
    assert "缺少文件：赵某/2024-09-10_国旗护卫队／学生会.pdf" in outcome.output
    assert "核对未通过：共 2 处差异。" in outcome.output


@pytest.mark.usefixtures("warm")
def test_verify_reports_records_that_are_not_those_of_the_commit(repo_git, tmp_path):
    write_record(repo_git, record_data(date=D(2024, 12, 1), content="未提交的记录"), suffix="00000a")
    result = do_export(repo_git, tmp_path / "out")
    assert any("未提交的修改" in w for w in result.warnings)
    differences = verify_export(result.folder, open_project(repo_git))
    assert any("导出时有未提交的修改" in d for d in differences)
    assert any("2024-12-01-T1-00000a" in d and "不在提交" in d for d in differences)


def test_export_command_and_empty_range(repo_git, run, tmp_path):
    outcome = run(repo_git, "export", "--semester", "2030-2031-1", "--out", str(tmp_path / "out"))
    assert outcome.exit_code == 0, outcome.output
    assert "没有联系记录" in outcome.output
    book = load_workbook(tmp_path / "out" / "2030-2031学年第一学期" / WORKBOOK_NAME)
    counts = [row[4] for row in book[COUNT_SHEET].iter_rows(min_row=4, values_only=True) if row[0] != "合计"]
    assert counts and set(counts) == {0}
    assert run(repo_git, "verify", str(tmp_path / "out" / "2030-2031学年第一学期.zip")).exit_code == 0


def test_export_needs_a_range(repo_git, run, tmp_path):
    outcome = run(repo_git, "export", "--out", str(tmp_path / "out"))
    assert outcome.exit_code != 0 and "指定导出范围" in outcome.output


def test_export_refuses_a_folder_it_did_not_write(repo_git, run, tmp_path):
    (tmp_path / "out" / TITLE).mkdir(parents=True)
    (tmp_path / "out" / TITLE / "重要.docx").write_text("x", encoding="utf-8")
    outcome = run(repo_git, "export", "--semester", "2024-2025-1", "--out", str(tmp_path / "out"))
    assert outcome.exit_code != 0 and "为免误删" in outcome.output
    assert (tmp_path / "out" / TITLE / "重要.docx").exists()


@pytest.mark.usefixtures("warm")
def test_a_broken_record_leaves_no_export_and_keeps_the_earlier_one(repo_git, run, tmp_path):
    out = tmp_path / "out"
    assert run(repo_git, "export", "--semester", "2024-2025-1", "--out", str(out)).exit_code == 0
    before = (out / f"{TITLE}.zip").read_bytes()
    broken = next((repo_git / "records").rglob("*.yaml"))
    broken.write_text(broken.read_text(encoding="utf-8").replace("size: ", "size: 很多"), encoding="utf-8")
    outcome = run(repo_git, "export", "--semester", "2024-2025-1", "--out", str(out))
    assert outcome.exit_code == 1 and "未导出" in outcome.output
    assert (out / f"{TITLE}.zip").read_bytes() == before
    fresh = tmp_path / "fresh"
    assert run(repo_git, "export", "--semester", "2024-2025-1", "--out", str(fresh)).exit_code == 1
    assert not fresh.exists() or not any(fresh.iterdir())


@pytest.mark.usefixtures("warm")
def test_a_failure_midway_leaves_the_earlier_export_whole(repo_git, tmp_path, monkeypatch):
    from liaison.outputs import export as export_module

    out = tmp_path / "out"
    first = do_export(repo_git, out)
    files_before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    zip_before = first.zip_path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("磁盘已满")

    monkeypatch.setattr(export_module, "build_workbook", fail)
    with pytest.raises(OSError):
        do_export(repo_git, out)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == files_before  # nothing half-built left
    assert first.zip_path.read_bytes() == zip_before
    with pytest.raises(OSError):
        do_export(repo_git, tmp_path / "new")
    assert not (tmp_path / "new").exists()  # the folder the failed export made is gone too (issue 27)


@pytest.mark.usefixtures("warm")
def test_zip_entry_times_are_the_configured_zones_wall_clock(repo_git, tmp_path):
    result = do_export(repo_git, tmp_path / "out")
    project = open_project(repo_git)
    local = project.config.local(result.commit.time)
    expected = (local.year, local.month, local.day, local.hour, local.minute, local.second - local.second % 2)
    with zipfile.ZipFile(result.zip_path) as archive:
        assert {info.date_time for info in archive.infolist()} == {expected}
    with zipfile.ZipFile(result.folder / WORKBOOK_NAME) as workbook:
        assert {info.date_time for info in workbook.infolist()} == {expected}
