"""Many PDFs: rendered through the content-addressed cache in a process pool, placed under leaders' folders."""

from __future__ import annotations

import errno
import gc
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liaison.core.config import Config
from liaison.core.filenames import record_pdf_paths
from liaison.core.files import write_atomic
from liaison.core.records import Record
from liaison.core.roster import Roster
from liaison.core.schema import Schema
from liaison.outputs.files import claim_output_dir
from liaison.outputs.pdf.cache import PdfCache, cache_key, renderer_identity
from liaison.outputs.pdf.fonts import font_warnings
from liaison.outputs.pdf.form import record_html
from liaison.outputs.pdf.render import Renderer

OUTPUT_MARKER = ".liaison-pdf"


def shard_of(record_id: str, total: int) -> int:
    """The render shard (1 … total) of a record: a stable hash of its id, the same on every runner."""
    return int(hashlib.sha256(record_id.encode("utf-8")).hexdigest()[:12], 16) % total + 1


@dataclass
class PdfBuild:
    """What ``build_pdfs`` did: where each record's PDF is, and how many were rendered anew."""

    paths: dict[str, Path] = field(default_factory=dict)  # record id -> written PDF
    keys: dict[str, str] = field(default_factory=dict)  # record id -> cache key
    rendered: int = 0
    cached: int = 0
    warnings: list[str] = field(default_factory=list)


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
    data = _WORKER["renderer"].render(
        record, html, identifier=bytes.fromhex(key)[:16], timezone=_WORKER["config"].timezone
    )
    PdfCache(cache_dir).put(key, data)
    return key


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
    site uses ``records/<record id>.pdf``. Every PDF placed is a copy of the
    cache's, never the cache's own file (``_place``).
    """
    build = PdfBuild(warnings=font_warnings(root / "templates"))
    identity = renderer_identity(root, schema.path or root / "schema" / "record.yaml", config)
    keys = {record.id: cache_key(identity, record) for record in records}
    build.keys = keys
    cache = PdfCache(cache_dir)
    missing = [record for record in records if not cache.has(keys[record.id])]
    build.rendered, build.cached = len(missing), len(records) - len(missing)
    _render_missing(root, schema, config, missing, keys, cache_dir, jobs)

    relative = layout if layout is not None else record_pdf_paths(records, roster)
    if mirror:
        _prepare_output(out_dir, set(relative.values()))
    placed = _read_placed(out_dir) if mirror else {}
    now_placed = {}
    for record in records:
        name, key = relative[record.id], keys[record.id]
        now_placed[name] = _place(cache, key, out_dir, name, placed.get(name))
        build.paths[record.id] = out_dir / name
    if mirror and now_placed != placed:
        write_atomic(out_dir / PLACED, json.dumps(now_placed, sort_keys=True, separators=(",", ":")).encode())
    return build


def _render_missing(
    root: Path, schema: Schema, config: Config, missing: list[Record], keys: dict[str, str], cache_dir: Path, jobs
) -> None:
    """Render ``missing`` into the cache: in this process for a few, else in a process pool."""
    if not missing:
        return
    workers = max(1, min(jobs or os.cpu_count() or 1, len(missing)))
    if workers == 1 or len(missing) < 4:
        _init_worker(root, schema, config, tune_gc=False)
        for record in missing:
            _render_into_cache(record, keys[record.id], cache_dir)
        return
    context = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    with ProcessPoolExecutor(workers, context, initializer=_init_worker, initargs=(root, schema, config, True)) as pool:
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


def _prepare_output(out_dir: Path, keep: set[str]) -> None:
    """Make ``out_dir`` ours and remove PDFs not in ``keep`` (relative paths) and temporary files of a killed run."""
    claim_output_dir(out_dir, OUTPUT_MARKER, "由 liaison 管理的 PDF 输出目录，其中的 PDF 会随记录更新。")
    for folder, _subfolders, files in os.walk(out_dir, topdown=False):
        relative = os.path.relpath(folder, out_dir)
        for name in files:
            path = name if relative == "." else f"{relative}/{name}".replace(os.sep, "/")
            if (name.endswith(".pdf") and path not in keep) or name.startswith(_TEMPORARY):
                os.unlink(os.path.join(folder, name))
        if relative != "." and not os.listdir(folder):
            os.rmdir(folder)


# Beside the PDFs of a managed output folder: for each PDF placed, its cache key and the
# file's inode, size, mtime and ctime then. A file whose stat still agrees is the copy
# placed (any write changes its mtime and ctime) and is left untouched; any other is
# copied again from the cache.
PLACED = ".liaison-pdf-placed.json"
_TEMPORARY = ".tmp-liaison-"


def _read_placed(out_dir: Path) -> dict[str, list]:
    try:
        placed = json.loads((out_dir / PLACED).read_bytes())
    except (OSError, ValueError):
        return {}
    return placed if isinstance(placed, dict) else {}


def _stamp(stat: os.stat_result) -> list[int]:
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


def _place(cache: PdfCache, key: str, out_dir: Path, name: str, placed: list | None) -> list:
    """Put a copy of the cached PDF at ``out_dir/name`` unless the copy placed last time is there untouched.

    Always a copy (a reflink where the file system has them), never a hard
    link: an output opened and saved in place, or edited on purpose, must not
    change the cache entry that later exports, the site and ``verify`` use.
    Returns what the placed index records for the file.
    """
    target = os.path.join(out_dir, name)
    if placed and placed[0] == key:
        try:
            if _stamp(os.stat(target)) == placed[1:]:
                return placed
        except FileNotFoundError:
            pass
    folder = os.path.dirname(target)
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f"{_TEMPORARY}{os.getpid()}-{threading.get_ident()}.pdf")
    try:
        _copy(cache.path(key), temporary)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return [key, *_stamp(os.stat(target))]


_FICLONE = 0x40049409  # linux/fs.h: share the source's blocks copy-on-write (btrfs, XFS)
_NO_REFLINK = {errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY, errno.ENOSYS, errno.EBADF}
_reflinks = [sys.platform == "linux"]


def _copy(source: Path, target: str) -> None:
    """``target`` (new; permissions from the umask) with the bytes of ``source``."""
    with open(source, "rb") as src, open(target, "xb") as dst:
        if _reflinks[0]:
            import fcntl

            try:
                fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
                return
            except OSError as err:
                if err.errno not in _NO_REFLINK:
                    raise
                _reflinks[0] = False  # this file system has none: plain copies from now on
        shutil.copyfileobj(src, dst, 1 << 20)


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
        cache = PdfCache(self.cache_dir)
        cached = cache.get(key)
        if cached is not None:
            return cached
        with self._lock:
            if self._renderer is None:
                self._renderer = Renderer(self.root / "templates")
            html = record_html(record, self.schema, self.config, self.root / "templates")
            data = self._renderer.render(
                record, html, identifier=bytes.fromhex(key)[:16], timezone=self.config.timezone
            )
        cache.put(key, data)
        return data
