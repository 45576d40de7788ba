"""The content-addressed PDF cache: one file per (renderer, record) key, shared by every command and the form.

A key hashes everything that shapes a PDF besides the record (WeasyPrint and
pydyf versions, the code of every liaison module the form and the renderer
import, the template, stylesheet, schema, config and font files) with the
record's path and bytes: the record's path is in the key because the
embedded attachment is named by its id. A cache folder that cannot be
written is not used at all (:func:`usable_cache`): every PDF is rendered.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from pathlib import Path

from liaison.core import cachekit
from liaison.core.atomic import write_atomic
from liaison.core.config import Config
from liaison.core.records import Record
from liaison.outputs.pdf.fonts import font_files
from liaison.outputs.pdf.form import STYLESHEET, TEMPLATE
from liaison.outputs.pdf.render import PDF_VARIANT

FORMAT_VERSION = 1  # raise when what a cached file holds, or how it is keyed, changes
# The modules that make a PDF's bytes (the page: HTML, dates, labels; the renderer); the stamp follows their imports.
FORM_MODULE, RENDER_MODULE = "liaison.outputs.pdf.form", "liaison.outputs.pdf.render"


def default_cache_dir(root: Path) -> Path:
    """``<root>/.cache/pdf``: where every command and the form keep PDFs unless told otherwise."""
    return cachekit.cache_folder(root, "pdf")


def usable_cache(folder: Path) -> PdfCache | None:
    """The cache in ``folder``; None (after the cache kit's one warning) when ``folder`` cannot be written."""
    return PdfCache(folder) if cachekit.usable_folder(Path(folder)) else None


_HEAD, _TAIL, _TAIL_BYTES = b"%PDF-", b"%%EOF", 64


class PdfCache:
    """PDF bytes by cache key, in ``<dir>/<2 hex>/<key>.pdf``; writes are atomic.

    A file that is not a whole PDF (no ``%PDF-`` at its start or no ``%%EOF``
    at its end) is discarded and counts as missing: a power cut soon after a
    write (the cache's writes are not fsynced) can leave one empty or cut
    short, and a CI cache may come back partly. Passed on, it would be an
    empty PDF in an export that ``verify``, rebuilding through the same
    cache, would call right. Checking costs two small reads, not the file.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.pdf"

    def has(self, key: str) -> bool:
        path = self.path(key)
        try:
            with cachekit.open_regular(path) as file:  # a FIFO in an entry's place would hang the command
                head = file.read(len(_HEAD))
                file.seek(max(0, os.fstat(file.fileno()).st_size - _TAIL_BYTES))
                tail = file.read(_TAIL_BYTES)
        except OSError:  # missing, or unreadable here (another user's file, a failing disk): rendered anew
            return False
        return self._whole(path, head + tail)

    def get(self, key: str) -> bytes | None:
        path = self.path(key)
        try:
            with cachekit.open_regular(path) as file:
                data = file.read()
        except OSError:
            return None
        return data if self._whole(path, data[: len(_HEAD)] + data[-_TAIL_BYTES:]) else None

    @staticmethod
    def _whole(path: Path, ends: bytes) -> bool:
        """Whether ``ends`` (the file's first bytes and its last) are a whole PDF's; a file that is not is removed."""
        if ends.startswith(_HEAD) and _TAIL in ends[len(_HEAD) :]:
            return True
        cachekit.discard(path, "not a whole PDF (cut short or empty)")
        return False

    def put(self, key: str, data: bytes) -> Path:
        path = self.path(key)
        write_atomic(path, data)
        return path

    def prune(self, keep: set[str]) -> int:
        """Delete cached PDFs whose key is not in ``keep``; returns how many. Keeps a CI cache from growing."""
        removed = 0
        for path in self.folder.glob("*/*.pdf"):
            if path.stem not in keep:
                path.unlink()
                removed += 1
        return removed


def renderer_identity(root: Path, schema_path: Path, config: Config) -> str:
    """A hash of everything besides the record that shapes a PDF: a new one invalidates the cache."""
    templates_dir = root / "templates"
    fonts = []
    for family, path, names in font_files(templates_dir):
        stat = os.stat(path) if path and os.path.exists(path) else None
        fonts.append(f"{family}|{path}|{names}|{stat.st_size if stat else 0}|{stat.st_mtime_ns if stat else 0}")
    return cachekit.stamp(
        # The memo lives in the PDF cache folder: in CI that folder is what travels between pipelines.
        cachekit.code_stamp(__name__, FORM_MODULE, RENDER_MODULE, memo=default_cache_dir(root)),
        FORMAT_VERSION,
        # From the installed metadata: importing WeasyPrint takes half a second.
        importlib.metadata.version("weasyprint"),
        importlib.metadata.version("pydyf"),
        PDF_VARIANT,
        (templates_dir / TEMPLATE).read_bytes(),
        (templates_dir / STYLESHEET).read_bytes(),
        schema_path.read_bytes(),
        repr(config),
        *fonts,
    )


def cache_key(identity: str, record: Record) -> str:
    return hashlib.sha256(f"{identity}\0{record.path}\0{record.digest}".encode()).hexdigest()


def file_identifier(record: Record) -> bytes:
    """The PDF's file identifier (PDF/A needs one): of the record alone, not of the renderer's identity, so
    that a change of code that leaves the page as it was leaves the bytes as they were (an export made
    before it still verifies)."""
    return hashlib.sha256(f"{record.path}\0{record.digest}".encode()).digest()[:16]


def prune_cache(cache_dir: Path, keep: set[str]) -> int:
    """Delete cached PDFs whose key is not in ``keep``; returns how many (none from a folder that cannot be written)."""
    cache = usable_cache(cache_dir)
    return cache.prune(keep) if cache is not None else 0
