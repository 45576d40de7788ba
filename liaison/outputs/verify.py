"""``verify``: an export checked against the history, never against its own manifest alone.

A manifest can be rewritten together with the file it vouches for, so
``verify`` rebuilds the export from the commit the manifest names: it checks
that commit out aside, exports the same range with the same code (PDFs come
from the content-addressed PDF cache, so a warm cache renders nothing) and
compares every file byte for byte. A PDF that differs is opened to say what
differs: the YAML embedded in it against the record at the commit, or the
page around it. The workbook is compared cell by cell. Records of the range
that entered the mainline after the manifest's commit are reported as notes:
they are not in the export, and that is not the export's fault.
"""

from __future__ import annotations

import datetime
import io
import itertools
import json
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from liaison.core.checks import check_repository
from liaison.core.project import Project, ProjectError, open_project
from liaison.core.records import parse_record
from liaison.core.semesters import DateRange, RangeError, parse_semester_id
from liaison.core.sheets import MB, SheetError, central_directory_bytes, check_workbook, env_int
from liaison.git.history.model import field_changes
from liaison.git.history.read import read_history
from liaison.git.repo import CommitNotFound, GitError, Repo
from liaison.git.verdict import NotReady, require_ready
from liaison.outputs.export import FORMAT, MANIFEST, export_range, sha256
from liaison.outputs.pdf import default_cache_dir, usable_cache
from liaison.outputs.workbook import WORKBOOK_NAME

MAX_CELLS = 10  # differing workbook cells named one by one; the rest are counted
# A zip's list of members, which zipfile turns into an object each before anything can be counted: an
# export of 10,000 records lists about 2 MB; 16 MB of 46-byte members would be 350,000 objects.
MAX_DIRECTORY = 16 * MB


@dataclass
class VerifyReport:
    differences: list[str] = field(default_factory=list)  # the export is not what its commit gives: fails verify
    notes: list[str] = field(default_factory=list)  # worth knowing, not a fault of the export

    @property
    def ok(self) -> bool:
        return not self.differences


def export_limit(packed: int | None = None) -> int:
    """How many bytes an export may hold unpacked: ``LIAISON_VERIFY_MAX_MB`` (4,096 MB) at most, and for a zip
    of ``packed`` bytes no more than 20 times that (256 MB at least). An export's PDFs and workbook are
    compressed already, so an honest zip unpacks to barely more than itself; a "zip bomb" to far more."""
    limit = env_int("LIAISON_VERIFY_MAX_MB", 4096) * MB
    return limit if packed is None else min(limit, max(256 * MB, 20 * packed))


def _refuse_size(size: int, limit: int) -> ValueError:
    return ValueError(
        f"解压后有 {size // MB} MB，超过 {limit // MB} MB 的上限（压缩包的 20 倍，且不超过环境变量 "
        "LIAISON_VERIFY_MAX_MB 所设）。这不像是本系统的导出（可能是“压缩炸弹”），没有读取。"
    )


def read_export(target: Path) -> tuple[dict, dict[str, bytes]]:
    """(manifest, every other file's bytes by path inside the export folder), from a folder or its zip.

    Bounded before anything is read: a zip's declared sizes (Python's zipfile never gives back more than
    them) against :func:`export_limit`, a folder's file sizes likewise; a link in a folder is not followed.
    """
    files: dict[str, bytes] = {}
    if target.is_dir():
        found = [(p, p.lstat()) for p in sorted(target.rglob("*"))]
        links = [p for p, st in found if stat.S_ISLNK(st.st_mode)]
        if links:
            raise ValueError(
                f"导出文件夹中有符号链接（{links[0].relative_to(target)}），本系统的导出中没有链接，未读取。"
            )
        plain = [(p, st) for p, st in found if stat.S_ISREG(st.st_mode)]
        total, limit = sum(st.st_size for _, st in plain), export_limit()
        if total > limit:
            raise _refuse_size(total, limit)
        for path, _ in plain:
            files[path.relative_to(target).as_posix()] = path.read_bytes()
    else:
        if target.exists() and not target.is_file():  # a FIFO or a device: opening it would wait for ever
            raise ValueError(f"{target} 不是普通文件（可能是管道或设备），不是本系统的导出，没有读取。")
        with open(target, "rb") as file:
            directory = central_directory_bytes(file)
        if directory > MAX_DIRECTORY:
            raise ValueError(
                f"压缩包的文件目录有 {directory // MB} MB，超过 {MAX_DIRECTORY // MB} MB 的上限"
                "（本系统的导出远小于此），不像是本系统的导出，没有读取。"
            )
        with zipfile.ZipFile(target) as archive:
            total, limit = sum(i.file_size for i in archive.infolist()), export_limit(target.stat().st_size)
            if total > limit:
                raise _refuse_size(total, limit)
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
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{MANIFEST} 的格式不是 {FORMAT}。")
    _check_manifest(manifest)
    return manifest, files


_TEXT, _OPTIONAL = (str,), (str, type(None))
# What each part of a manifest holds, as export writes it; anything else is refused before it is used.
_MANIFEST_SHAPE = {"commit": _OPTIONAL, "range": (dict,), "records": (list,), "files": (list,)}
_ENTRY_SHAPES = {
    "records": {"id": _TEXT, "sha256": _TEXT},
    "files": {"path": _TEXT, "size": (int,), "sha256": _TEXT, "record": _OPTIONAL},
}
_RANGE_SHAPE = {"semester": _OPTIONAL, "start": _OPTIONAL, "end": _OPTIONAL, "title": _TEXT}


def _check_manifest(manifest: dict) -> None:
    """Raise ValueError unless the manifest has the shape export writes (its range readable too): a manifest
    handed over with an export may be anything, and verify reads it before it can trust it."""

    def fits(value: object, shape: dict) -> bool:
        return isinstance(value, dict) and all(isinstance(value.get(key), kinds) for key, kinds in shape.items())

    well_formed = fits(manifest, _MANIFEST_SHAPE) and fits(manifest["range"], _RANGE_SHAPE)
    for part, shape in _ENTRY_SHAPES.items():
        well_formed = well_formed and all(fits(entry, shape) for entry in manifest.get(part, ()))
    if not well_formed:
        raise ValueError(f"{MANIFEST} 的内容不完整或被改动过（缺少项目，或项目的类型不对），无法核对。")
    manifest_range(manifest)  # a RangeError (a ValueError) says what is wrong with it


def manifest_differences(manifest: dict, files: dict[str, bytes]) -> tuple[list[str], set[str]]:
    """The files that do not match the manifest's own list and hashes, and the paths already named."""
    differences, named = [], set()
    listed = {entry["path"]: entry for entry in manifest["files"]}
    for path, entry in sorted(listed.items()):
        if path not in files:
            differences.append(f"缺少文件：{path}")
        elif len(files[path]) != entry["size"] or sha256(files[path]) != entry["sha256"]:
            differences.append(f"文件内容已被改动：{path}（与清单中的 SHA-256 不符）")
        else:
            continue
        named.add(path)
    extra = sorted(set(files) - set(listed))
    differences.extend(f"多出文件（清单中没有）：{path}" for path in extra)
    exported = {r["id"] for r in manifest["records"]}
    with_files = {e["record"] for e in manifest["files"] if e.get("record")}
    differences.extend(f"记录 {i} 在清单中，但没有对应的 PDF" for i in sorted(exported - with_files))
    differences.extend(f"PDF 对应的记录 {i} 不在清单的记录中" for i in sorted(with_files - exported))
    return differences, named | set(extra)


def manifest_range(manifest: dict) -> DateRange:
    """The range the manifest says was exported."""
    described = manifest["range"]
    semester = parse_semester_id(described["semester"]) if described.get("semester") else None
    start, end = (datetime.date.fromisoformat(d) if d else None for d in (described["start"], described["end"]))
    return DateRange(start, end, described["title"], semester)


@dataclass
class Rebuilt:
    manifest: dict
    files: dict[str, bytes]
    raw_records: dict[str, bytes]  # record id -> its YAML at the commit


def unshare_cache(cache_dir: Path, target: Path) -> int:
    """Drop cached PDFs that are the very files of the export being verified; returns how many.

    Builds now place copies of cached PDFs, but earlier versions placed hard
    links, so an export folder they made shares its PDFs' bytes with the
    cache: editing one in place edited the cache too, and a rebuild from that
    cache would agree with the forgery. Those records are rendered again (the
    cache is never wrong, only slower); for a folder of copies this costs one
    stat a PDF.
    """
    if not target.is_dir():
        return 0
    ours = {(s.st_dev, s.st_ino) for s in (p.stat() for p in target.rglob("*.pdf") if p.is_file()) if s.st_nlink > 1}
    if not ours or usable_cache(cache_dir) is None:  # a cache that cannot be written is not read either
        return 0
    dropped = 0
    for cached in Path(cache_dir).glob("*/*.pdf"):
        stat = cached.stat()
        if (stat.st_dev, stat.st_ino) in ours:
            cached.unlink()
            dropped += 1
    return dropped


def rebuild(project: Project, manifest: dict, cache_dir: Path, jobs: int | None = None) -> Rebuilt:
    """The export of the manifest's range, made again from the manifest's commit (checked out aside)."""
    repo = Repo(project.root)
    sha = repo.resolve(manifest["commit"])
    if sha is None:
        raise CommitNotFound(
            f"仓库中找不到导出所依据的提交“{manifest['commit'][:12]}”。若是浅克隆，请先 git fetch --unshallow；"
            "否则这份导出不是由本仓库生成的。"
        )
    with tempfile.TemporaryDirectory(prefix="liaison-verify-") as folder:
        checkout = Path(folder) / "source"
        repo.run("worktree", "add", "--detach", "--force", str(checkout), sha)
        try:
            source = open_project(checkout)
            require_ready(source, renders=True)  # the commit is the manifest's: any, even one a check refused
            records = check_repository(source).clean_records()
            result = export_range(source, records, manifest_range(manifest), Path(folder) / "out", cache_dir, jobs)
            files = {
                p.relative_to(result.folder).as_posix(): p.read_bytes() for p in result.folder.rglob("*") if p.is_file()
            }
            raw = {r.id: r.raw if isinstance(r.raw, bytes) else r.raw.encode("utf-8") for r in records}
        finally:
            repo.attempt("worktree", "remove", "--force", str(checkout))
            repo.attempt("worktree", "prune")
    rebuilt_manifest = json.loads(files.pop(MANIFEST).decode("utf-8"))
    return Rebuilt(rebuilt_manifest, files, raw)


def embedded_yaml(pdf: bytes) -> dict[str, bytes] | None:
    """The files embedded in a PDF (name -> bytes), or None when it cannot be read as a PDF."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        attachments = PdfReader(io.BytesIO(pdf)).attachments
        return {name: contents[0] for name, contents in attachments.items() if contents}
    except (PdfReadError, ValueError, KeyError, TypeError):
        return None


def pdf_difference(path: str, given: bytes, record_id: str, raw: bytes | None, commit: str, project: Project) -> str:
    """Why a PDF differs from its rebuild, in words: its embedded YAML, or the page around it."""
    where = f"PDF {path}（记录 {record_id}）"
    embedded = embedded_yaml(given)
    if embedded is None:
        return f"{where}不是可读的 PDF，与按提交 {commit} 重新生成的不同。"
    inside = embedded.get(f"{record_id}.yaml")
    if inside is None:
        return f"{where}中没有嵌入记录的 YAML（应有 {record_id}.yaml），与按提交 {commit} 重新生成的不同。"
    if raw is not None and inside != raw:
        name = f"records/{record_id[:4]}/{record_id}.yaml"
        old, _ = parse_record(name, raw, project.schema, None)
        new, _ = parse_record(name, inside, project.schema, None)
        if old and new:
            labels = "、".join(f.label for f in field_changes(dict(old.data), dict(new.data), project.schema))
            return f"{where}中嵌入的记录数据与提交 {commit} 中的不同：{labels or '格式或空白'}。"
        return f"{where}中嵌入的记录数据与提交 {commit} 中的不同（无法作为记录读取）。"
    return f"{where}中嵌入的记录数据与提交 {commit} 一致，但页面内容被改动或替换（与按提交重新生成的字节不同）。"


def workbook_difference(given: bytes, expected: bytes, commit: str) -> list[str]:
    """The cells of the workbook that differ from its rebuild (sheet, cell, both values)."""
    where = f"汇总表 {WORKBOOK_NAME}"
    try:
        check_workbook(given)  # the export's workbook may be anything: read within an import's limits
    except SheetError as err:
        return [f"{where}与按提交 {commit} 重新生成的不同，且无法安全读取：{err}"]
    try:
        cells = _cell_differences(given, expected, where, commit)
    except Exception:  # noqa: BLE001 - the workbook given may be anything: any failure of the reader means this
        return [f"{where}不是可读的工作簿，与按提交 {commit} 重新生成的不同。"]
    if not cells:
        return [f"{where}的单元格内容与按提交 {commit} 重新生成的一致，但文件字节不同（格式或属性被改动）。"]
    more = len(cells) - MAX_CELLS
    return cells[:MAX_CELLS] + ([f"{where}另有 {more} 处单元格不同。"] if more > 0 else [])


def _cell_differences(given: bytes, expected: bytes, where: str, commit: str) -> list[str]:
    """The cells that differ, named up to MAX_CELLS and counted beyond ('' each).

    The workbook given is read only as far as the rebuilt one reaches, and one row and column more: its
    own dimension and row numbers are its say, and a row numbered 1,048,576 would make a million empty
    rows of 16,384 cells each to compare. What lies further differs in bytes, which verify reports anyway.
    """
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    # Streamed, one row at a time: the workbook given may hold millions of cells within the limits.
    ours = load_workbook(io.BytesIO(given), read_only=True)
    theirs = load_workbook(io.BytesIO(expected), read_only=True)
    cells = []
    for name in theirs.sheetnames:
        if name not in ours.sheetnames:
            cells.append(f"{where}缺少工作表「{name}」。")
            continue
        right_rows = list(theirs[name].iter_rows(values_only=True))
        width = max((len(row) for row in right_rows), default=0) + 1
        mine_rows = ours[name].iter_rows(max_row=len(right_rows) + 1, max_col=width, values_only=True)
        rows = itertools.zip_longest(mine_rows, right_rows)
        for number, (mine, right) in enumerate(rows, 1):
            pairs = itertools.zip_longest(mine or (), right or ())
            for column, (value, wanted) in enumerate(pairs, 1):
                if value != wanted and len(cells) <= MAX_CELLS:
                    cells.append(
                        f"{where}「{name}」{get_column_letter(column)}{number} 格：导出中为“{value}”，"
                        f"按提交 {commit} 应为“{wanted}”。"
                    )
                elif value != wanted:
                    cells.append("")  # counted, not named
    ours.close()
    theirs.close()
    return cells


def rebuild_differences(
    files: dict[str, bytes], rebuilt: Rebuilt, named: set[str], commit: str, project: Project
) -> list[str]:
    """Every file of the export that is not what the commit gives, named with its record and what differs."""
    record_of = {e["path"]: e.get("record") for e in rebuilt.manifest["files"]}
    differences = []
    for path in sorted(set(files) | set(rebuilt.files)):
        if path in named:
            continue  # already named against the manifest
        record = record_of.get(path)
        about = f"（记录 {record}）" if record else ""
        if path not in files:
            differences.append(f"缺少文件：{path}{about}，按提交 {commit} 重新生成时有它。")
        elif path not in rebuilt.files:
            differences.append(f"多出文件：{path}，按提交 {commit} 重新生成时没有它。")
        elif files[path] != rebuilt.files[path]:
            if path == WORKBOOK_NAME:
                differences.extend(workbook_difference(files[path], rebuilt.files[path], commit))
            elif record:
                raw = rebuilt.raw_records.get(record)
                differences.append(pdf_difference(path, files[path], record, raw, commit, project))
            else:
                differences.append(f"文件 {path} 与按提交 {commit} 重新生成的不同。")
    return differences


def records_of_the_commit(manifest: dict, rebuilt: Rebuilt, commit: str) -> list[str]:
    """The manifest's records against those the commit has in the range."""
    exported = {r["id"]: r["sha256"] for r in manifest["records"]}
    expected = {r["id"]: r["sha256"] for r in rebuilt.manifest["records"]}
    return (
        [f"提交 {commit} 中有记录 {i}，导出中却没有" for i in sorted(set(expected) - set(exported))]
        + [f"导出中的记录 {i} 不在提交 {commit} 的该范围内" for i in sorted(set(exported) - set(expected))]
        + [
            f"记录 {i} 与提交 {commit} 中的内容不同"
            for i in sorted(set(expected) & set(exported))
            if expected[i] != exported[i]
        ]
    )


def later_changes(project: Project, manifest: dict, date_range: DateRange) -> list[str]:
    """Records of the range that entered the mainline after the manifest's commit (not in this export)."""
    history = read_history(project.root, project.schema)
    since = history.position(manifest["commit"])
    if since is None:
        return [f"导出所依据的提交 {manifest['commit'][:8]} 不在当前分支（HEAD）的历史中。"]
    notes = []
    for change in history.changes:
        day = change.data.get("date")
        if change.position <= since or not isinstance(day, datetime.date) or day not in date_range:
            continue
        when = project.config.shown(change.when)
        notes.append(
            f"记录 {change.record_id}（{day}）在导出所依据的提交 {manifest['commit'][:8]} 之后{change.kind}："
            f"提交 {change.commit.sha[:8]}，{when} 进入主分支；这份导出中没有这次{change.kind}。"
        )
    return notes


def verify_report(
    target: Path, project: Project, cache_dir: Path | None = None, jobs: int | None = None
) -> VerifyReport:
    """Every difference between an export and what its commit gives, and notes on later records."""
    report = VerifyReport()
    try:
        manifest, files = read_export(target)
    except (ValueError, zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError, KeyError, EOFError) as err:
        report.differences.append(f"无法读取导出：{err}")
        return report
    except (RuntimeError, NotImplementedError, OSError) as err:  # an encrypted member, an unknown method; deep JSON
        report.differences.append(f"无法读取导出：压缩包或清单无法按本系统的导出读取（{type(err).__name__}）。")
        return report
    report.differences, named = manifest_differences(manifest, files)
    if not manifest.get("commit"):
        report.differences.append("清单中没有提交编号（导出时不在 Git 仓库中），无法与历史核对。")
        return report
    commit = manifest["commit"][:8]
    if manifest.get("dirty"):
        report.differences.append(f"导出时有未提交的修改，内容可能与提交 {commit} 不一致。")
    try:
        cache = cache_dir or default_cache_dir(project.root)
        unshare_cache(cache, target)
        rebuilt = rebuild(project, manifest, cache, jobs)
    except (CommitNotFound, ProjectError, RangeError) as err:
        report.differences.append(str(err))
        return report
    except NotReady as err:
        named = "；".join(problem.format() for problem in err.problems)
        report.differences.append(f"无法按提交 {commit} 重新生成导出：{named}。{err}")
        return report
    except GitError as err:
        report.differences.append(f"无法按提交 {commit} 重新生成导出：{err}")
        return report
    report.differences += records_of_the_commit(manifest, rebuilt, commit)
    report.differences += rebuild_differences(files, rebuilt, named, commit, project)
    report.notes = later_changes(project, manifest, manifest_range(manifest))
    return report


def verify_export(target: Path, project: Project, cache_dir: Path | None = None) -> list[str]:
    """Every difference between an export and the repository at its commit; empty when it checks out."""
    return verify_report(target, project, cache_dir).differences
