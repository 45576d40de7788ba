"""The content-addressed PDF cache: one file per (renderer, record) key, shared by every command and the form.

A key hashes everything that shapes a PDF besides the record (WeasyPrint and
pydyf versions, this package's code, the template, stylesheet, schema,
config and font files) with the record's path and bytes: the record's path
is in the key because the embedded attachment is named by its id.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from pathlib import Path

from liaison.core.atomic import write_atomic
from liaison.core.config import Config
from liaison.core.records import Record
from liaison.outputs.pdf.fonts import font_files
from liaison.outputs.pdf.form import STYLESHEET, TEMPLATE
from liaison.outputs.pdf.render import PDF_VARIANT

CACHE_FOLDER = (".cache", "pdf")


def default_cache_dir(root: Path) -> Path:
    """``<root>/.cache/pdf``: where every command and the form keep PDFs unless told otherwise."""
    return Path(root).joinpath(*CACHE_FOLDER)


class PdfCache:
    """PDF bytes by cache key, in ``<dir>/<2 hex>/<key>.pdf``; writes are atomic."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.pdf"

    def has(self, key: str) -> bool:
        return os.path.isfile(os.path.join(self.folder, key[:2], f"{key}.pdf"))

    def get(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            return None

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


def _package_code() -> str:
    return "".join(p.read_text(encoding="utf-8") for p in sorted(Path(__file__).parent.glob("*.py")))


def renderer_identity(root: Path, schema_path: Path, config: Config) -> str:
    """A hash of everything besides the record that shapes a PDF: a new one invalidates the cache."""
    templates_dir = root / "templates"
    digest = hashlib.sha256()
    for part in (
        # From the installed metadata: importing WeasyPrint takes half a second.
        importlib.metadata.version("weasyprint"),
        importlib.metadata.version("pydyf"),
        PDF_VARIANT,
        _package_code(),
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


def cache_key(identity: str, record: Record) -> str:
    return hashlib.sha256(f"{identity}\0{record.path}\0{record.digest}".encode()).hexdigest()


def prune_cache(cache_dir: Path, keep: set[str]) -> int:
    """Delete cached PDFs whose key is not in ``keep``; returns how many."""
    return PdfCache(cache_dir).prune(keep)
