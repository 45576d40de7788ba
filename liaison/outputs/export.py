"""The office's export (requirement 3.(2)): a folder per leader of PDFs, the workbook, a manifest, a zip.

``export_range`` writes ``<out>/<range title>/`` and ``<out>/<range title>.zip``;
``verify_export`` re-checks a folder or zip against its manifest and against
the repository at the commit it names.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from liaison.core.filenames import safe_filename
from liaison.core.project import Project
from liaison.core.query import records_in_range
from liaison.core.records import RECORDS_DIR, Record, parse_record
from liaison.core.semesters import DateRange
from liaison.git.repo import CommitInfo, CommitNotFound, files_at, head_commit
from liaison.outputs.archive import write_stable_zip
from liaison.outputs.files import replace_dir
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
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{title}.building-", dir=out_dir))
    zip_staging = Path(f"{staging}.zip")
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
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        zip_staging.unlink(missing_ok=True)
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


# Verifying ------------------------------------------------------------------


def _read_export(target: Path) -> tuple[dict, dict[str, bytes]]:
    """(manifest, every other file's bytes by path inside the export folder)."""
    files: dict[str, bytes] = {}
    if target.is_dir():
        for path in target.rglob("*"):
            if path.is_file():
                files[path.relative_to(target).as_posix()] = path.read_bytes()
    else:
        with zipfile.ZipFile(target) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            tops = {PurePosixPath(n).parts[0] for n in names}
            if len(tops) != 1:
                raise ValueError("压缩包里应只有一个导出文件夹。")
            top = tops.pop()
            for name in names:
                files[name[len(top) + 1 :]] = archive.read(name)
    if MANIFEST not in files:
        raise ValueError(f"找不到 {MANIFEST}：这不是 liaison 的导出，或清单被删除了。")
    manifest = json.loads(files.pop(MANIFEST).decode("utf-8"))
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{MANIFEST} 的格式不是 {FORMAT}。")
    return manifest, files


def verify_export(target: Path, project: Project) -> list[str]:
    """Every difference between an export and its manifest and the repository; empty when it checks out."""
    try:
        manifest, files = _read_export(target)
    except (ValueError, zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as err:
        return [f"无法读取导出：{err}"]
    differences = []
    listed = {entry["path"]: entry for entry in manifest["files"]}
    for path, entry in sorted(listed.items()):
        if path not in files:
            differences.append(f"缺少文件：{path}")
        elif len(files[path]) != entry["size"] or sha256(files[path]) != entry["sha256"]:
            differences.append(f"文件内容已被改动：{path}（与清单中的 SHA-256 不符）")
    differences.extend(f"多出文件（清单中没有）：{path}" for path in sorted(set(files) - set(listed)))

    exported = {r["id"]: r for r in manifest["records"]}
    with_files = {e["record"] for e in manifest["files"] if e.get("record")}
    differences.extend(f"记录 {i} 在清单中，但没有对应的 PDF" for i in sorted(set(exported) - with_files))
    differences.extend(f"PDF 对应的记录 {i} 不在清单的记录中" for i in sorted(with_files - set(exported)))

    if not manifest.get("commit"):
        differences.append("清单中没有提交编号（导出时不在 Git 仓库中），无法与历史核对。")
        return differences
    if manifest.get("dirty"):
        differences.append(f"导出时有未提交的修改，内容可能与提交 {manifest['commit'][:8]} 不一致。")
    try:
        at_commit = files_at(project.root, manifest["commit"], RECORDS_DIR)
    except CommitNotFound as err:
        differences.append(str(err))
        return differences
    start, end = manifest["range"]["start"], manifest["range"]["end"]
    expected = {}
    for path, raw in at_commit.items():
        record, _ = parse_record(path, raw, project.schema, None)
        if record is None or not isinstance(record.data.get("date"), datetime.date):
            continue
        day = record.date.isoformat()
        if (start is None or day >= start) and (end is None or day <= end):
            expected[record.id] = sha256(raw)
    commit = manifest["commit"][:8]
    differences.extend(f"提交 {commit} 中有记录 {i}，导出中却没有" for i in sorted(set(expected) - set(exported)))
    differences.extend(f"导出中的记录 {i} 不在提交 {commit} 的该范围内" for i in sorted(set(exported) - set(expected)))
    differences.extend(
        f"记录 {i} 与提交 {commit} 中的内容不同"
        for i in sorted(set(expected) & set(exported))
        if expected[i] != exported[i]["sha256"]
    )
    return differences
