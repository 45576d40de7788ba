"""Many PDFs: rendered through the content-addressed cache in a process pool, placed under leaders' folders."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import multiprocessing
import os
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liaison.core import cachekit
from liaison.core.config import Config
from liaison.core.filenames import record_pdf_paths
from liaison.core.records import Record
from liaison.core.roster import Roster
from liaison.core.schema import Schema
from liaison.outputs.folders import claim_output_dir, left_by_dead_process
from liaison.outputs.pdf.cache import PdfCache, cache_key, file_identifier, renderer_identity, usable_cache
from liaison.outputs.pdf.fonts import font_warnings
from liaison.outputs.pdf.form import record_html
from liaison.outputs.pdf.render import Renderer, load_weasyprint
from liaison.outputs.placing import PLACED, TEMPORARY, Placer

OUTPUT_MARKER = ".liaison-pdf"
# Unless told how many processes (--jobs), fewer PDFs than this render in this process. Starting the pool's workers
# (a fork each, then their fonts) costs about 0.5 CPU-seconds: on 2 busy cores the pool was slower up to 16 PDFs and
# faster from 32; on 2 idle ones it saves at most 0.5 s below 24 (BENCHMARKS.md, "PDF pool threshold").
POOL_FROM = 24


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


def _render_into_cache(record: Record, key: str, cache_dir: Path | None) -> tuple[bytes | None, OSError | None]:
    """Render one PDF into the cache: (None, None); or its bytes, when there is no cache or it cannot take
    them (with the error), for the caller to keep aside."""
    html = record_html(record, _WORKER["schema"], _WORKER["config"], _WORKER["root"] / "templates")
    data = _WORKER["renderer"].render(
        record, html, identifier=file_identifier(record), timezone=_WORKER["config"].timezone
    )
    if cache_dir is None:
        return data, None
    try:
        PdfCache(cache_dir).put(key, data)
    except OSError as error:
        if not cachekit.cannot_write(error):
            raise
        return data, error
    return None, None


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
    placer: Placer | None = None,
) -> PdfBuild:
    """Write ``out_dir/<leader folder>/<date>_<联系对象>.pdf`` for each record.

    A record is rendered only if the cache has no PDF for its content under
    the current template, schema, config and fonts; many renders run in a process
    pool. With ``mirror``, ``out_dir`` is managed: PDFs of records no longer
    asked for are removed, so it always mirrors the selection; without it the
    caller owns the folder (the export builds into a fresh one). ``layout``
    (record id -> path under ``out_dir``) replaces the leaders' folders; the
    site uses ``records/<record id>.pdf``. Every PDF placed is a copy of the
    cache's, never the cache's own file, and one placed last time and left
    untouched is kept (``liaison.outputs.placing``); the site passes its own
    ``placer``, which it saves.
    """
    build = PdfBuild(warnings=font_warnings(root / "templates"))
    identity = renderer_identity(root, schema.path or root / "schema" / "record.yaml", config)
    keys = {record.id: cache_key(identity, record) for record in records}
    build.keys = keys
    cache = usable_cache(cache_dir)  # None: a folder that cannot be written, every PDF is rendered
    missing = [record for record in records if cache is None or not cache.has(keys[record.id])]
    build.rendered, build.cached = len(missing), len(records) - len(missing)
    with tempfile.TemporaryDirectory(prefix="liaison-pdf-") as aside:
        # What the cache could not take waits in ``aside`` (removed after placing): it is never kept.
        kept_aside = PdfCache(Path(aside))
        for key, data, error in _render_missing(root, schema, config, missing, keys, cache, jobs):
            kept_aside.put(key, data)
            if error is not None:
                cachekit.unwritable(cache.folder, error)

        relative = layout if layout is not None else record_pdf_paths(records, roster)
        if mirror:
            _prepare_output(out_dir, set(relative.values()))
        into = placer or Placer(out_dir, index=out_dir / PLACED if mirror else None)
        for record in records:
            name, key = relative[record.id], keys[record.id]
            if not into.kept(name, key):
                into.copy(name, key, kept_aside.path(key) if kept_aside.has(key) else cache.path(key))
            build.paths[record.id] = out_dir / name
    if placer is None:
        into.save()
    return build


def _render_missing(
    root: Path,
    schema: Schema,
    config: Config,
    missing: list[Record],
    keys: dict[str, str],
    cache: PdfCache | None,
    jobs: int | None,
) -> Iterator[tuple[str, bytes, OSError | None]]:
    """Render ``missing`` into ``cache``: in a pool of ``jobs`` processes when ``jobs`` is given, else of one a
    core from ``POOL_FROM`` PDFs on, else in this process. Yields (key, bytes, error) of each PDF the cache did
    not take (all of them when ``cache`` is None)."""
    if not missing:
        return
    cache_dir = cache.folder if cache is not None else None
    workers = max(1, min(jobs or os.cpu_count() or 1, len(missing)))
    if workers == 1 or (jobs is None and len(missing) < POOL_FROM):
        _init_worker(root, schema, config, tune_gc=False)
        for record in missing:
            data, error = _render_into_cache(record, keys[record.id], cache_dir)
            if data is not None:
                yield keys[record.id], data, error
        return
    context = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    if context.get_start_method() == "fork":
        load_weasyprint()  # once here, not once in each worker: a forked worker starts with it (0.25 s of CPU each)
    with ProcessPoolExecutor(workers, context, initializer=_init_worker, initargs=(root, schema, config, True)) as pool:
        chunk = max(1, min(16, len(missing) // (workers * 4)))
        listed = [keys[r.id] for r in missing]
        done = pool.map(_render_into_cache, missing, listed, [cache_dir] * len(missing), chunksize=chunk)
        for key, (data, error) in zip(listed, done, strict=True):
            if data is not None:
                yield key, data, error


def _prepare_output(out_dir: Path, keep: set[str]) -> None:
    """Make ``out_dir`` ours and remove PDFs not in ``keep`` (relative paths) and temporary files of killed runs.

    Another run into the same folder may be at work: its temporary files (named
    by its process id) are left alone, and what it removed first is no error.
    """
    claim_output_dir(out_dir, OUTPUT_MARKER, "由 liaison 管理的 PDF 输出目录，其中的 PDF 会随记录更新。")
    for folder, _subfolders, files in os.walk(out_dir, topdown=False):
        relative = os.path.relpath(folder, out_dir)
        for name in files:
            path = name if relative == "." else f"{relative}/{name}".replace(os.sep, "/")
            stale = name.endswith(".pdf") and path not in keep
            if stale or (name.startswith(TEMPORARY) and left_by_dead_process(name, TEMPORARY)):
                with contextlib.suppress(FileNotFoundError):  # a second run at once removed it first
                    os.unlink(os.path.join(folder, name))
        if relative != "." and not os.listdir(folder):
            with contextlib.suppress(OSError):  # gone, or a second run just put a PDF in it
                os.rmdir(folder)


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
        cache = usable_cache(self.cache_dir)
        cached = cache.get(key) if cache is not None else None
        if cached is not None:
            return cached
        with self._lock:
            if self._renderer is None:
                self._renderer = Renderer(self.root / "templates")
            html = record_html(record, self.schema, self.config, self.root / "templates")
            data = self._renderer.render(
                record, html, identifier=file_identifier(record), timezone=self.config.timezone
            )
        if cache is not None:
            try:
                cache.put(key, data)
            except OSError as error:
                if not cachekit.cannot_write(error):
                    raise
                cachekit.unwritable(cache.folder, error)  # served all the same; rendered again next time
        return data
