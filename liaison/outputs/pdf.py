"""The PDF of each record: the customer's 附表, archival (PDF/A-3b with the YAML inside), and cached.

Three layers, so each can be tested alone:

* ``form_rows`` and ``record_html`` are pure: the record laid out as the
  form's rows, then as HTML (autoescaped; golden-testable).
* ``Renderer.render`` turns that HTML into PDF bytes with WeasyPrint,
  fetching nothing that a record names.
* ``build_pdfs`` renders many records through a content-addressed cache and a
  process pool, and writes them under leaders' folders.
"""

from __future__ import annotations

import ctypes.util
import datetime
import gc
import hashlib
import multiprocessing
import os
import re
import shutil
import subprocess
import tempfile
import threading
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from liaison.core.config import Config
from liaison.core.filenames import record_pdf_paths
from liaison.core.records import Record
from liaison.core.roster import Roster
from liaison.core.schema import Field, Schema
from liaison.outputs.templating import environment

TEMPLATE = "record.html"
STYLESHEET = "record.css"
PDF_VARIANT = "pdf/a-3b"
CHINA = datetime.timezone(datetime.timedelta(hours=8))
OUTPUT_MARKER = ".liaison-pdf"


# The form, as data -----------------------------------------------------------


@dataclass(frozen=True)
class FormCell:
    key: str
    label: str
    value: str
    span: int = 1


@dataclass(frozen=True)
class FormRow:
    kind: str  # cell, row or block (schema meta `print`)
    cells: tuple[FormCell, ...]


def display_value(field: Field, value: Any) -> str:
    """A value as printed on the form: dates the Chinese way, numbers plain, text as written."""
    if isinstance(value, datetime.date):
        return f"{value.year}年{value.month}月{value.day}日"
    return "" if value is None else str(value)


def form_rows(record: Record, schema: Schema) -> list[FormRow]:
    """The 附表's rows: ``cell`` fields three to a row, ``row`` and ``block`` fields one to a row."""
    rows: list[FormRow] = []
    pending: list[FormCell] = []
    for spec in schema.fields:
        if not spec.print or spec.internal:
            continue
        cell = FormCell(spec.key, spec.label, display_value(spec, record.data.get(spec.key)))
        if spec.print == "cell":
            pending.append(cell)
            if len(pending) == 3:
                rows.append(FormRow("cell", tuple(pending)))
                pending = []
            continue
        if pending:
            rows.append(_short_row(pending))
            pending = []
        rows.append(FormRow(spec.print, (FormCell(cell.key, cell.label, cell.value, span=5),)))
    if pending:
        rows.append(_short_row(pending))
    return rows


def _short_row(cells: list[FormCell]) -> FormRow:
    # A row of fewer than three cells lets its last value span the remaining columns.
    last = cells[-1]
    span = 1 + 2 * (3 - len(cells))
    return FormRow("cell", (*cells[:-1], FormCell(last.key, last.label, last.value, span)))


def form_title(config: Config) -> str:
    return f"{config.school}领导干部结对联系学生工作情况记录表"


def record_timestamp(record: Record) -> datetime.datetime:
    """The PDF's dates: the contact's day in China, never the clock, so renders are reproducible."""
    return datetime.datetime.combine(record.date, datetime.time(0, 0), tzinfo=CHINA)


def record_html(record: Record, schema: Schema, config: Config, templates_dir: Path) -> str:
    """The form as HTML: deterministic for a given record, schema, config and template.

    The stylesheet is not inlined: a :class:`Renderer` parses it once per process.
    """
    env = environment(Path(templates_dir))
    leader = record.data.get("leader", "")
    department = record.data.get("department", "")
    target = record.data.get("target", "")
    return env.get_template(TEMPLATE).render(
        title=form_title(config),
        author=leader,
        subject=f"{leader}（{department}）{record.date.isoformat()} 联系{target}",
        keywords=[record.id, record.date.isoformat(), leader, department],
        timestamp=record_timestamp(record).isoformat(),
        record_id=record.id,
        rows=form_rows(record, schema),
        issued=f"{config.office}存档 · 原始记录 {record.path} 已作为附件嵌入本文件",
    )


# Rendering ------------------------------------------------------------------


class GuardedFetcher:
    """A WeasyPrint URL fetcher that refuses every URL outside the project's template folders.

    Record text is escaped, so it cannot add markup; this is the second wall:
    ``file:///etc/passwd``, ``http://169.254.169.254/``, ``data:`` and every
    other URL is refused and noted in ``refused`` (tests read it).
    """

    def __init__(self, allowed_dirs: list[Path]):
        from weasyprint.urls import URLFetcher

        class _Fetcher(URLFetcher):
            def fetch(inner, url, headers=None):  # noqa: N805 - closure over self
                if not self._allowed(url):
                    self.refused.append(url)
                    raise ValueError(f"liaison refuses to fetch {url!r}")
                return URLFetcher.fetch(inner, url, headers)

        self.allowed_dirs = [Path(d).resolve() for d in allowed_dirs]
        self.refused: list[str] = []
        self.fetcher = _Fetcher(allowed_protocols={"file"}, allow_redirects=False, timeout=2)

    def _allowed(self, url: str) -> bool:
        parsed = urlparse(url)
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            return False
        path = Path(unquote(parsed.path)).resolve()
        return path.is_file() and any(path.is_relative_to(d) for d in self.allowed_dirs)


class _Flate6:
    """pydyf's ``zlib`` with level 9 turned into level 6.

    pydyf deflates every stream at level 9. WeasyPrint subsets fonts keeping
    glyph ids, so each embedded CJK font carries ~300 KB of mostly-zero
    tables, and level 9 spends about a quarter of a whole render on them
    (measured: 72 ms → 54 ms a record) to save under 1 % of the file.
    """

    def __getattr__(self, name):
        return getattr(zlib, name)

    @staticmethod
    def compressobj(level: int = 6, *args, **kwargs):
        return zlib.compressobj(min(level, 6), *args, **kwargs)


def _use_faster_deflate() -> None:
    import pydyf

    if not isinstance(pydyf.zlib, _Flate6):
        pydyf.zlib = _Flate6()


class Renderer:
    """Everything WeasyPrint needs that does not change between records, made once per process.

    Sharing the font configuration and the parsed stylesheet saves about a
    quarter of each render, and level-6 deflate another quarter (_Flate6);
    sharing leaves the output byte-identical (tested).
    """

    def __init__(self, templates_dir: Path):
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        _use_faster_deflate()
        self.templates_dir = Path(templates_dir).resolve()
        self.fetcher = GuardedFetcher([self.templates_dir])
        self.fonts = FontConfiguration()
        self.stylesheet = CSS(
            string=(self.templates_dir / STYLESHEET).read_text(encoding="utf-8"),
            base_url=self.templates_dir.as_uri() + "/",
            url_fetcher=self.fetcher.fetcher,
            font_config=self.fonts,
        )

    def render(self, record: Record, html: str, identifier: bytes = b"") -> bytes:
        """PDF/A-3b bytes of one record's form, with its YAML file embedded as the source."""
        from weasyprint import HTML, Attachment

        stamp = record_timestamp(record).replace(tzinfo=None)
        attachment = Attachment(
            string=record.raw,
            name=f"{record.id}.yaml",
            description="联系记录原始数据（YAML，UTF-8）",
            created=stamp,
            modified=stamp,
            relationship="Source",
            url_fetcher=self.fetcher.fetcher,
        )
        document = HTML(string=html, base_url=self.templates_dir.as_uri() + "/", url_fetcher=self.fetcher.fetcher)
        return document.write_pdf(
            stylesheets=[self.stylesheet],
            pdf_variant=PDF_VARIANT,
            attachments=[attachment],
            pdf_identifier=identifier or hashlib.md5(html.encode("utf-8")).digest(),
            font_config=self.fonts,
        )


# Fonts ----------------------------------------------------------------------

_FAMILY = re.compile(r'"([^"]+)"')


@cache
def stylesheet_families(templates_dir: Path) -> tuple[str, ...]:
    """Every quoted font family the form's stylesheet names, in order of first use."""
    css = (Path(templates_dir) / STYLESHEET).read_text(encoding="utf-8")
    families = []
    for declaration in re.findall(r"font-family:([^;]+);", css):
        families.extend(_FAMILY.findall(declaration))
    return tuple(dict.fromkeys(families))


@cache
def font_files(templates_dir: Path) -> tuple[tuple[str, str, str], ...]:
    """(family, font file, family fontconfig found) for each family the stylesheet names."""
    out = []
    for family in stylesheet_families(templates_dir):
        try:
            found = subprocess.run(
                ["fc-match", "-f", "%{file}\t%{family}", family], capture_output=True, text=True, timeout=10
            ).stdout
        except (OSError, subprocess.SubprocessError):
            found = ""
        path, _, names = found.partition("\t")
        out.append((family, path, names))
    return tuple(out)


def font_warnings(templates_dir: Path) -> list[str]:
    """Loud warnings (Chinese) about a font set-up that makes PDFs slow or wrong."""
    warnings = []
    if ctypes.util.find_library("harfbuzz-subset") is None:
        warnings.append(
            "警告：未安装 libharfbuzz-subset0。WeasyPrint 将改用 fontTools 裁剪字体，每页 PDF 要慢约 30 倍"
            "（实测约 5 秒对 0.15 秒）。请以 root 运行 scripts/setup.sh，或 apt-get install libharfbuzz-subset0。"
        )
    missing = [family for family, _, names in font_files(templates_dir) if family not in names.split(",")]
    if missing:
        warnings.append(
            f"警告：找不到字体 {'、'.join(missing)}，PDF 将用其他字体代替，版式会变，个别汉字可能缺失。"
            "请运行 scripts/setup.sh 安装 fonts-arphic-uming、fonts-wqy-microhei、fonts-hanazono。"
        )
    return warnings


# Building many --------------------------------------------------------------


def renderer_identity(root: Path, schema_path: Path, config: Config) -> str:
    """A hash of everything besides the record that shapes a PDF: a new one invalidates the cache."""
    import pydyf
    import weasyprint

    templates_dir = root / "templates"
    digest = hashlib.sha256()
    for part in (
        weasyprint.__version__,
        pydyf.__version__,
        PDF_VARIANT,
        Path(__file__).read_text(encoding="utf-8"),
        (templates_dir / TEMPLATE).read_text(encoding="utf-8"),
        (templates_dir / STYLESHEET).read_text(encoding="utf-8"),
        schema_path.read_text(encoding="utf-8"),
        repr(config),
    ):
        digest.update(part.encode("utf-8") + b"\0")
    for family, path, names in font_files(templates_dir):
        stat = os.stat(path) if path and os.path.exists(path) else None
        digest.update(
            f"{family}|{path}|{names}|{stat.st_size if stat else 0}|{stat.st_mtime_ns if stat else 0}\0".encode()
        )
    return digest.hexdigest()


def shard_of(record_id: str, total: int) -> int:
    """The render shard (1 … total) of a record: a stable hash of its id, the same on every runner."""
    return int(hashlib.sha256(record_id.encode("utf-8")).hexdigest()[:12], 16) % total + 1


def prune_cache(cache_dir: Path, keep: set[str]) -> int:
    """Delete cached PDFs whose key is not in ``keep``; returns how many. Keeps a CI cache from growing."""
    removed = 0
    for path in cache_dir.glob("*/*.pdf"):
        if path.stem not in keep:
            path.unlink()
            removed += 1
    return removed


def cache_key(identity: str, record: Record) -> str:
    return hashlib.sha256(f"{identity}\0{record.path}\0{record.digest}".encode()).hexdigest()


@dataclass
class PdfBuild:
    """What ``build_pdfs`` did: where each record's PDF is, and how many were rendered anew."""

    paths: dict[str, Path] = field(default_factory=dict)  # record id -> written PDF
    keys: dict[str, str] = field(default_factory=dict)  # record id -> cache key
    rendered: int = 0
    cached: int = 0
    warnings: list[str] = field(default_factory=list)


class OutputDirError(Exception):
    """The output folder is not one liaison manages; the message is Chinese."""


# Per-process state of the render workers: set once by _init_worker.
_WORKER: dict[str, Any] = {}


def _init_worker(root: Path, schema: Schema, config: Config, tune_gc: bool) -> None:
    _WORKER.update(root=root, schema=schema, config=config, renderer=Renderer(root / "templates"))
    if tune_gc:
        # Layout allocates many short-lived objects; fewer full collections
        # make a worker a few percent faster. Only in pool workers.
        gc.freeze()
        gc.set_threshold(50_000, 50, 100)


def _render_into_cache(record: Record, key: str, cache_dir: Path) -> str:
    html = record_html(record, _WORKER["schema"], _WORKER["config"], _WORKER["root"] / "templates")
    data = _WORKER["renderer"].render(record, html, identifier=bytes.fromhex(key)[:16])
    _write_atomic(cache_dir / key[:2] / f"{key}.pdf", data)
    return key


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, prefix=".tmp-") as tmp:
        tmp.write(data)
    os.replace(tmp.name, path)


def build_pdfs(
    root: Path,
    schema: Schema,
    config: Config,
    roster: Roster,
    records: list[Record],
    out_dir: Path,
    cache_dir: Path,
    jobs: int | None = None,
    mirror: bool = True,
    layout: dict[str, str] | None = None,
) -> PdfBuild:
    """Write ``out_dir/<leader folder>/<date>_<联系对象>.pdf`` for each record.

    A record is rendered only if the cache has no PDF for its content under
    the current template, schema, config and fonts; renders run in a process
    pool. With ``mirror``, ``out_dir`` is managed: PDFs of records no longer
    asked for are removed, so it always mirrors the selection; without it the
    caller owns the folder (the export builds into a fresh one). ``layout``
    (record id -> path under ``out_dir``) replaces the leaders' folders; the
    site uses ``records/<record id>.pdf``.
    """
    build = PdfBuild(warnings=font_warnings(root / "templates"))
    identity = renderer_identity(root, schema.path or root / "schema" / "record.yaml", config)
    keys = {record.id: cache_key(identity, record) for record in records}
    build.keys = keys
    cached = {key for key in keys.values() if (cache_dir / key[:2] / f"{key}.pdf").is_file()}
    missing = [record for record in records if keys[record.id] not in cached]
    build.rendered, build.cached = len(missing), len(records) - len(missing)

    workers = max(1, min(jobs or os.cpu_count() or 1, len(missing)))
    if workers == 1 or len(missing) < 4:
        _init_worker(root, schema, config, tune_gc=False)
        for record in missing:
            _render_into_cache(record, keys[record.id], cache_dir)
    else:
        context = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
        with ProcessPoolExecutor(
            workers, context, initializer=_init_worker, initargs=(root, schema, config, True)
        ) as pool:
            chunk = max(1, min(16, len(missing) // (workers * 4)))
            list(
                pool.map(
                    _render_into_cache,
                    missing,
                    [keys[r.id] for r in missing],
                    [cache_dir] * len(missing),
                    chunksize=chunk,
                )
            )

    relative = layout if layout is not None else record_pdf_paths(records, roster)
    if mirror:
        _prepare_output(out_dir, set(relative.values()))
    for record in records:
        target = out_dir / relative[record.id]
        _place(cache_dir / keys[record.id][:2] / f"{keys[record.id]}.pdf", target)
        build.paths[record.id] = target
    return build


def _prepare_output(out_dir: Path, keep: set[str]) -> None:
    """Make ``out_dir`` ours and remove PDFs not in ``keep`` (relative paths)."""
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / OUTPUT_MARKER).exists():
        raise OutputDirError(f"输出目录 {out_dir} 已有其他文件。为免误删，请指定一个新的或空的目录（--out）。")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / OUTPUT_MARKER).write_text(
        "由 liaison 管理的 PDF 输出目录，其中的 PDF 会随记录更新。\n", encoding="utf-8"
    )
    for path in sorted(out_dir.rglob("*.pdf"), reverse=True):
        if path.relative_to(out_dir).as_posix() not in keep:
            path.unlink()
    for folder in sorted((p for p in out_dir.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()


def _place(source: Path, target: Path) -> None:
    """Put the cached PDF at ``target``: a hard link when possible (no copy of the bytes)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        if target.samefile(source):
            return
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


class OnDemand:
    """PDFs rendered one at a time for the web form (即填即导), through the same cache as the build.

    WeasyPrint is not thread-safe, so renders are serialised; a cached PDF is
    served without rendering.
    """

    def __init__(self, root: Path, schema: Schema, config: Config, cache_dir: Path):
        self.root, self.schema, self.config, self.cache_dir = root, schema, config, cache_dir
        self._identity = renderer_identity(root, schema.path or root / "schema" / "record.yaml", config)
        self._renderer: Renderer | None = None
        self._lock = threading.Lock()

    def pdf(self, record: Record) -> bytes:
        key = cache_key(self._identity, record)
        path = self.cache_dir / key[:2] / f"{key}.pdf"
        if path.is_file():
            return path.read_bytes()
        with self._lock:
            if self._renderer is None:
                self._renderer = Renderer(self.root / "templates")
            html = record_html(record, self.schema, self.config, self.root / "templates")
            data = self._renderer.render(record, html, identifier=bytes.fromhex(key)[:16])
        _write_atomic(path, data)
        return data
