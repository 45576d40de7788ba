"""The office's export (requirement 3.(2)): a folder per leader of PDFs, the workbook, a manifest, a zip.

``export_range`` writes ``<out>/<range title>/`` and ``<out>/<range title>.zip``;
``liaison.outputs.verify`` rebuilds an export from the commit its manifest
names and compares the bytes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from liaison.core.filenames import safe_filename
from liaison.core.project import Project
from liaison.core.query import records_in_range
from liaison.core.records import Record
from liaison.core.semesters import DateRange
from liaison.git.repo import CommitInfo, head_commit
from liaison.outputs.archive import write_stable_zip
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
    same commit exports to the same bytes. A folder left by an earlier export
    of the same range is replaced; any other existing folder is refused.
    """
    chosen = sorted(records_in_range(records, date_range), key=lambda r: (r.date, r.id))
    commit = head_commit(project.root)
    warnings = []
    if commit is None:
        warnings.append("注意：仓库不是 Git 仓库（或还没有提交），清单中没有提交编号，日后无法与历史核对。")
        stamp = project.config.now()
        source = "工作目录（未提交）"
    else:
        stamp = commit.time
        source = f"提交 {commit.short}"
        if commit.dirty:
            warnings.append(
                f"注意：记录、名单或配置有未提交的修改，导出内容与提交 {commit.short} 不完全一致；verify 会报告差异。"
            )
            source += "（含未提交的修改）"

    title = safe_filename(date_range.title)
    folder = out_dir / title
    if folder.exists():
        if not (folder / MANIFEST).is_file():
            raise OutputDirError(f"{folder} 已存在且不是以前的导出，为免误删，请换一个输出目录（--out）。")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)

    build = build_pdfs(
        project.root, project.schema, project.config, project.roster, chosen, folder, cache_dir, jobs, mirror=False
    )
    warnings = build.warnings + warnings
    workbook = build_workbook(chosen, project.roster, project.schema, project.config, date_range, stamp, source)
    (folder / WORKBOOK_NAME).write_bytes(workbook)

    record_of_file = {path.relative_to(folder).as_posix(): record_id for record_id, path in build.paths.items()}
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

    zip_path = out_dir / f"{title}.zip"
    entries = [(f"{title}/{p.relative_to(folder).as_posix()}", p) for p in folder.rglob("*") if p.is_file()]
    write_stable_zip(zip_path, entries, stamp)
    return ExportResult(folder, zip_path, chosen, commit, warnings)


def verify_export(target: Path, project: Project, cache_dir: Path | None = None) -> list[str]:
    """``liaison.outputs.verify.verify_export``: kept importable here; verify is its own module (one per verb)."""
    from liaison.outputs.verify import verify_export as verify

    return verify(target, project, cache_dir)
