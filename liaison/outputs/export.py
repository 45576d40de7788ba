"""The office's export (requirement 3.(2)): a folder per leader of PDFs, the workbook, a manifest, a zip.

``export_range`` writes ``<out>/<range title>/`` and ``<out>/<range title>.zip``;
``liaison.outputs.verify`` rebuilds an export from the commit its manifest
names and compares the bytes.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from liaison.core.filenames import safe_filename
from liaison.core.project import Project
from liaison.core.query import records_in_range
from liaison.core.records import Record
from liaison.core.semesters import DateRange
from liaison.git.repo import CommitInfo, head_commit
from liaison.git.verdict import Verdict, verdict
from liaison.outputs.archive import write_stable_zip
from liaison.outputs.folders import replace_dir
from liaison.outputs.pdf import OutputDirError, build_pdfs
from liaison.outputs.workbook import WORKBOOK_NAME, build_workbook

MANIFEST = "manifest.json"
FORMAT = "liaison-export/1"


@dataclass
class ExportResult:
    folder: Path
    zip_path: Path
    records: list[Record]
    commit: CommitInfo | None
    warnings: list[str] = field(default_factory=list)
    verdict: Verdict | None = None  # check's verdict, when the export ran it (``export``)


class ExportRefused(Exception):
    """The export was not made (nothing written, an earlier export untouched); the message says why, in Chinese.

    ``verdict``: check's verdict when it was the reason (records that fail check may belong to the range).
    """

    def __init__(self, message: str, verdict: Verdict | None = None) -> None:
        super().__init__(message)
        self.verdict = verdict


def export(
    project: Project, date_range: DateRange, out_dir: Path, cache_dir: Path, jobs: int | None = None
) -> ExportResult:
    """``export``: check, then export the range's records (``export_range``); refused when any record fails check.

    A record that fails check may belong to the range, and an export without
    it would look whole: so nothing is written then (ExportRefused). A range
    needs a start or an end.
    """
    if date_range.start is None and date_range.end is None:
        raise ExportRefused("请用 --semester 学期 或 --from/--to 日期 指定导出范围，如 --semester 2025-2026-1。")
    found = verdict(project, renders=True)
    if found.left_out:
        raise ExportRefused("有记录文件未通过检查（见上），未导出，也未改动以前的导出。请修改后重新导出。", found)
    result = export_range(project, found.records, date_range, out_dir, cache_dir, jobs)
    result.verdict = found
    if date_range.start is not None and date_range.end is None:
        result.warnings.insert(
            0,
            f"注意：只给了 --from，导出 {date_range.start} 起到今天（{project.today()}）为止的全部记录；"
            "如需别的截止日期，请加 --to 日期。",
        )
    return result


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def range_json(date_range: DateRange) -> dict:
    return {
        "title": date_range.title,
        "semester": date_range.semester.id if date_range.semester else None,
        "start": date_range.start.isoformat() if date_range.start else None,
        "end": date_range.end.isoformat() if date_range.end else None,
    }


def export_range(
    project: Project,
    records: list[Record],
    date_range: DateRange,
    out_dir: Path,
    cache_dir: Path,
    jobs: int | None = None,
) -> ExportResult:
    """Export the records in ``date_range``; ``records`` must have passed ``check``.

    Everything dated inside comes from the commit (not the clock), so the
    same commit exports to the same bytes. The export is whole or absent: it
    is built in a hidden folder beside the target and moved into place (the
    zip likewise) only when everything was written; a failure leaves the
    earlier export, if any, as it was. A folder left by an earlier export of
    the same range is replaced; any other existing folder is refused.
    """
    chosen = sorted(records_in_range(records, date_range), key=lambda r: (r.date, r.id))
    commit, stamp, source, warnings = _provenance(project)
    title = safe_filename(date_range.title)
    folder, zip_path = out_dir / title, out_dir / f"{title}.zip"
    if folder.exists() and not (folder / MANIFEST).is_file():
        raise OutputDirError(f"{folder} 已存在且不是以前的导出，为免误删，请换一个输出目录（--out）。")
    made = [folder for folder in (out_dir, *out_dir.parents) if not folder.exists()]  # removed if it fails
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{title}.building-", dir=out_dir))
    zip_staging = Path(f"{staging}.zip")
    done = False
    try:
        content = staging / title
        content.mkdir()
        build = build_pdfs(
            project.root, project.schema, project.config, project.roster, chosen, content, cache_dir, jobs, mirror=False
        )
        workbook = build_workbook(chosen, project.roster, project.schema, project.config, date_range, stamp, source)
        (content / WORKBOOK_NAME).write_bytes(workbook)
        _write_manifest(content, project, date_range, chosen, build.paths, commit, stamp)
        entries = [(f"{title}/{p.relative_to(content).as_posix()}", p) for p in content.rglob("*") if p.is_file()]
        # Zip entry times have no zone: the configured zone's wall clock, as Windows Explorer shows them.
        write_stable_zip(zip_staging, entries, project.config.local(stamp))
        replace_dir(content, folder)
        os.replace(zip_staging, zip_path)
        done = True
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        zip_staging.unlink(missing_ok=True)
        for folder in made if not done else ():
            with contextlib.suppress(OSError):  # not empty: another export finished there meanwhile
                folder.rmdir()
    return ExportResult(folder, zip_path, chosen, commit, build.warnings + warnings)


def _provenance(project: Project) -> tuple[CommitInfo | None, datetime.datetime, str, list[str]]:
    """(commit, the time that dates the export, where it came from, warnings about that)."""
    commit = head_commit(project.root)
    if commit is None:
        warning = "注意：仓库不是 Git 仓库（或还没有提交），清单中没有提交编号，日后无法与历史核对。"
        return None, project.config.now(), "工作目录（未提交）", [warning]
    if not commit.dirty:
        return commit, commit.time, f"提交 {commit.short}", []
    warning = f"注意：记录、名单或配置有未提交的修改，导出内容与提交 {commit.short} 不完全一致；verify 会报告差异。"
    return commit, commit.time, f"提交 {commit.short}（含未提交的修改）", [warning]


def _write_manifest(
    folder: Path,
    project: Project,
    date_range: DateRange,
    chosen: list[Record],
    pdf_paths: dict[str, Path],
    commit: CommitInfo | None,
    stamp: datetime.datetime,
) -> None:
    record_of_file = {path.relative_to(folder).as_posix(): record_id for record_id, path in pdf_paths.items()}
    files = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        data = path.read_bytes()
        files.append(
            {"path": relative, "size": len(data), "sha256": sha256(data), "record": record_of_file.get(relative)}
        )
    manifest = {
        "format": FORMAT,
        "school": project.config.school,
        "range": range_json(date_range),
        "commit": commit.sha if commit else None,
        "commit_time": stamp.isoformat(),
        "dirty": bool(commit and commit.dirty),
        "records": [{"id": r.id, "path": r.path, "sha256": r.digest} for r in chosen],
        "files": files,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
