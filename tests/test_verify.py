"""``verify`` rebuilds an export from its manifest's commit: a forged file with its hash updated is still caught.

Forgeries are made the way someone with the export in hand would: a PDF of
the same record with other content (rendered from an uncommitted edit), or a
workbook cell changed in a spreadsheet program, with ``manifest.json``
rewritten to the new hashes so the manifest alone vouches for them.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest
from conftest import PROJECT, built_once, commit_all, git, record_data, write_record
from openpyxl import load_workbook
from small_repos import empty_repository

from liaison.core.checks import check_repository
from liaison.core.project import open_project
from liaison.core.semesters import resolve_range
from liaison.outputs.export import MANIFEST, export_range
from liaison.outputs.verify import verify_report
from liaison.outputs.workbook import WORKBOOK_NAME

PDF = "赵某/2024-10-10_国旗护卫队.pdf"
RECORD = "2024-10-10-T1-000002"


def two_records(root: Path) -> Path:
    """``root`` committed with the templates and two records of 赵某's in 2024-2025-1."""
    shutil.copytree(PROJECT / "templates", root / "templates")
    (root / ".gitignore").write_text(".cache/\nexport/\n", encoding="utf-8")
    write_record(root, record_data(date=datetime.date(2024, 9, 10)), suffix="000001")
    write_record(root, record_data(date=datetime.date(2024, 10, 10), content="第二次"), suffix="000002")
    commit_all(root, "初始记录")
    return root


@pytest.fixture(scope="module")
def rendered_once(tmp_path_factory) -> Path:
    """A PDF cache holding the two records' PDFs, rendered once a run (``built_once``), read-only."""

    def render(folder: Path) -> None:
        export(two_records(empty_repository(folder / "repo")), folder / "out", folder / "cache")

    return built_once(tmp_path_factory, "verify-two", render) / "cache"


@pytest.fixture
def exported(repo, tmp_path, rendered_once):
    """The two records exported, through a copy of ``rendered_once`` (the PDFs verify re-derives are the cache's,
    as in CI: a cache key is the record's content and the renderer's)."""
    two_records(repo)
    shutil.copytree(rendered_once, tmp_path / "cache")
    return repo, export(repo, tmp_path / "out", tmp_path / "cache")


def export(root: Path, out: Path, cache: Path):
    project = open_project(root)
    records = check_repository(project).clean_records()
    return export_range(project, records, resolve_range(project.config.calendar, "2024-2025-1"), out, cache)


def vouch(folder: Path) -> None:
    """Rewrite the manifest's sizes and hashes to match the files as they are now."""
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    for entry in manifest["files"]:
        data = (folder / entry["path"]).read_bytes()
        entry["size"], entry["sha256"] = len(data), hashlib.sha256(data).hexdigest()
    (folder / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")


def test_an_untouched_export_verifies(exported, tmp_path):
    repo, result = exported
    report = verify_report(result.folder, open_project(repo), tmp_path / "cache")
    assert report.differences == [] and report.notes == []


def test_a_forged_pdf_with_its_manifest_hash_updated_is_named(exported, tmp_path, run):
    repo, result = exported
    write_record(repo, record_data(date=datetime.date(2024, 10, 10), content="伪造的内容"), suffix="000002")
    forged = export(repo, tmp_path / "forged", tmp_path / "cache")  # uncommitted: a PDF of other content
    shutil.copyfile(forged.folder / PDF, result.folder / PDF)
    vouch(result.folder)
    commit = result.commit.sha[:8]

    report = verify_report(result.folder, open_project(repo), tmp_path / "cache")
    assert report.differences == [f"PDF {PDF}（记录 {RECORD}）中嵌入的记录数据与提交 {commit} 中的不同：联系内容。"]
    outcome = run(repo, "verify", str(result.folder), "--cache", str(tmp_path / "cache"))
    assert outcome.exit_code == 1 and "核对未通过：共 1 处差异。" in outcome.output


def test_a_pdf_whose_page_was_changed_but_not_its_yaml_is_named(exported, tmp_path):
    repo, result = exported
    pdf = result.folder / PDF
    pdf.write_bytes(pdf.read_bytes().replace(b"%%EOF", b"%%EOF\n% edited", 1))
    vouch(result.folder)
    report = verify_report(result.folder, open_project(repo), tmp_path / "cache")
    assert report.differences == [
        f"PDF {PDF}（记录 {RECORD}）中嵌入的记录数据与提交 {result.commit.sha[:8]} 一致，"
        "但页面内容被改动或替换（与按提交重新生成的字节不同）。"
    ]


def test_a_pdf_saved_over_itself_is_named_and_the_next_export_is_clean(exported, tmp_path):
    """An exported PDF edited in place (the same file, as a PDF editor saves it): the cache it came from
    is not touched, so the next export of the range has the true PDF and verify names the edited one."""
    repo, result = exported
    pdf = result.folder / PDF
    original = pdf.read_bytes()
    with open(pdf, "r+b") as edited:
        edited.write(original.replace(b"%%EOF", b"%%EOF\n% edited", 1))
    vouch(result.folder)
    again = export(repo, tmp_path / "again", tmp_path / "cache")
    assert (again.folder / PDF).read_bytes() == original
    report = verify_report(result.folder, open_project(repo), tmp_path / "cache")
    assert report.differences == [
        f"PDF {PDF}（记录 {RECORD}）中嵌入的记录数据与提交 {result.commit.sha[:8]} 一致，"
        "但页面内容被改动或替换（与按提交重新生成的字节不同）。"
    ]


def test_a_workbook_cell_changed_with_its_hash_updated_is_named(exported, tmp_path):
    repo, result = exported
    book = load_workbook(result.folder / WORKBOOK_NAME)
    sheet = book.worksheets[1]
    cell = next(c for row in sheet.iter_rows() for c in row if c.value == "第二次")
    cell.value = "第三次"
    data = io.BytesIO()
    book.save(data)
    (result.folder / WORKBOOK_NAME).write_bytes(data.getvalue())
    vouch(result.folder)
    report = verify_report(result.folder, open_project(repo), tmp_path / "cache")
    assert report.differences == [
        f"汇总表 {WORKBOOK_NAME}「{sheet.title}」{cell.coordinate} 格：导出中为“第三次”，"
        f"按提交 {result.commit.sha[:8]} 应为“第二次”。"
    ]


def test_records_added_after_the_manifest_s_commit_are_noted_not_failed(exported, tmp_path, run):
    repo, result = exported
    write_record(repo, record_data(date=datetime.date(2024, 12, 1), content="后来补录"), suffix="000009")
    later = commit_all(repo, "补录")
    report = verify_report(result.zip_path, open_project(repo), tmp_path / "cache")
    assert report.differences == []
    assert len(report.notes) == 1 and report.notes[0].startswith(
        f"记录 2024-12-01-T1-000009（2024-12-01）在导出所依据的提交 {result.commit.sha[:8]} 之后新增：提交 {later[:8]}"
    )
    outcome = run(repo, "verify", str(result.zip_path), "--cache", str(tmp_path / "cache"))
    assert outcome.exit_code == 0 and "说明：记录 2024-12-01-T1-000009" in outcome.output


def test_a_manifest_naming_a_commit_whose_template_is_a_link_renders_nothing(exported, tmp_path):
    """The manifest names the commit to rebuild from, any commit in the repository: one where a template is a
    link (to /etc/passwd, to the runner's secrets) is named, and nothing is rendered through it."""
    repo, result = exported
    secret = tmp_path / "secret.html"
    secret.write_text("<p>SECRET-OUTSIDE-42</p>", encoding="utf-8")
    git(repo, "checkout", "-q", "-b", "record/x")
    (repo / "templates" / "record.html").unlink()
    (repo / "templates" / "record.html").symlink_to(secret)
    linked = commit_all(repo, "换成链接")
    git(repo, "checkout", "-q", "-")
    manifest = json.loads((result.folder / MANIFEST).read_text(encoding="utf-8"))
    manifest["commit"] = linked
    (result.folder / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    report = verify_report(result.folder, open_project(repo), tmp_path / "fresh-cache")
    assert any("templates/record.html: 这是符号链接" in d and "不生成任何文件" in d for d in report.differences), (
        report.differences
    )


def test_a_fifo_given_to_verify_is_named_not_waited_on(repo, tmp_path):
    import os
    import subprocess
    import sys

    commit_all(repo)
    pipe = tmp_path / "导出.zip"
    os.mkfifo(pipe)
    done = subprocess.run(
        [sys.executable, str(PROJECT / "build.py"), "--root", str(repo), "verify", str(pipe)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and f"{pipe} 不是普通文件" in done.stdout + done.stderr, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
