"""One record's HTML to PDF/A-3b bytes with WeasyPrint, fetching nothing that a record names."""

from __future__ import annotations

import hashlib
import os
import re
import struct
import subprocess
import sys
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlparse

from liaison.core import dates
from liaison.core.records import Record
from liaison.outputs.pdf.form import STYLESHEET, record_timestamp

PDF_VARIANT = "pdf/a-3b"


_LOADING = threading.Lock()


def load_weasyprint() -> None:
    """Import WeasyPrint, its C libraries looked up in the dynamic linker's cache alone.

    WeasyPrint 70 asks ``ctypes.util.find_library`` for each library under
    every platform's names (``libgobject-2.0-0`` for Windows, a ``.dylib``
    for macOS) and for harfbuzz-vector, which Debian 12 does not ship. On
    Linux each name the linker's cache (``ldconfig -p``) does not know then
    runs gcc and ld, where they are installed, to look further: 13 such
    names, about 200 processes and 0.13-0.2 s before a command's first PDF
    (BENCHMARKS.md). While WeasyPrint loads, the names this thread asks for
    are looked up in that cache only (every other thread keeps the full
    lookup); one it does not know is None, and WeasyPrint goes on to its
    next name, its list ending with the exact file names
    (``libgobject-2.0.so.0``), which the dynamic loader finds itself
    (LD_LIBRARY_PATH included). The cache is listed once for all 22 names
    (:func:`_linker_cache`), not once a name as ctypes does. Elsewhere, or
    on a Python without that lookup, WeasyPrint loads as it would.
    """
    if "weasyprint" in sys.modules:
        return
    import ctypes.util

    if getattr(ctypes.util, "_findSoname_ldconfig", None) is None or not sys.platform.startswith("linux"):
        import weasyprint  # noqa: F401

        return
    with _LOADING:
        in_cache = _linker_cache()
        find = ctypes.util.find_library
        loader = threading.get_ident()

        def find_library(name: str) -> str | None:
            return in_cache(name) if threading.get_ident() == loader else find(name)

        ctypes.util.find_library = find_library
        try:
            import weasyprint  # noqa: F401
        finally:
            ctypes.util.find_library = find


# ctypes.util's names for the C library's ABI in ``ldconfig -p`` (``_findSoname_ldconfig``), by machine and word size.
_ABI = {
    "x86_64-64": "libc6,x86-64",
    "ppc64-64": "libc6,64bit",
    "sparc64-64": "libc6,64bit",
    "s390x-64": "libc6,64bit",
    "ia64-64": "libc6,IA-64",
}


def _linker_cache() -> Callable[[str], str | None]:
    """ctypes.util's lookup in the dynamic linker's cache (``_findSoname_ldconfig``), the same pattern on the
    same listing, with ``ldconfig -p`` run once: ctypes runs it for every name it is asked, 22 processes while
    WeasyPrint loads (about 15 ms of CPU a command that renders, BENCHMARKS.md). A listing that cannot be had
    knows no name."""
    try:
        listed = subprocess.run(
            ["/sbin/ldconfig", "-p"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={"LC_ALL": "C", "LANG": "C"},
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        listed = b""
    machine = os.uname().machine + ("-32" if struct.calcsize("l") == 4 else "-64")
    abi = _ABI.get(machine, "libc6")

    def find(name: str) -> str | None:
        found = re.search(os.fsencode(rf"\s+(lib{re.escape(name)}\.[^\s]+)\s+\({abi}"), listed)
        return os.fsdecode(found.group(1)) if found else None

    return find


class GuardedFetcher:
    """A WeasyPrint URL fetcher that refuses every URL outside the project's template folders.

    Record text is escaped, so it cannot add markup; this is the second wall:
    ``file:///etc/passwd``, ``http://169.254.169.254/``, ``data:`` and every
    other URL is refused and noted in ``refused`` (tests read it).
    """

    def __init__(self, allowed_dirs: list[Path]):
        load_weasyprint()
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


_SIZED_ARRAY = re.compile(r"hb_codepoint_t\[(\d+)\]")


class _ArrayFFI:
    """WeasyPrint's cffi handle for its font subsetting, making the same arrays without parsing C.

    Subsetting a font, WeasyPrint 70 asks for ``hb_codepoint_t[N]`` twice a
    font, N the number of glyphs used and then the highest glyph id + 1. cffi
    parses every new spelling of the type with pycparser (2–10 ms), and N is
    new nearly every record: measured 8 ms a record. ``hb_codepoint_t[]``
    sized by its initialiser is the same array without a parse, and the
    0 … N-1 range of the second pass is sliced from one array kept per process.
    """

    def __init__(self, ffi):
        self._ffi = ffi
        self._range: tuple[int, ...] = ()
        self._range_array = None

    def __getattr__(self, name):
        return getattr(self._ffi, name)

    def new(self, cdecl, init=None):
        sized = _SIZED_ARRAY.fullmatch(cdecl) if isinstance(cdecl, str) else None
        if sized is None or init is None or int(sized.group(1)) != len(init):
            return self._ffi.new(cdecl, init)
        if type(init) is tuple and len(init) > 1024:
            if len(init) > len(self._range):
                self._range = tuple(range(len(init)))
                self._range_array = self._ffi.new("hb_codepoint_t[]", self._range)
            if init == self._range[: len(init)]:
                # Only its address and the caller's count reach HarfBuzz: the first len(init) items.
                return self._range_array
        return self._ffi.new("hb_codepoint_t[]", init)


def _use_typed_arrays() -> None:
    import weasyprint.pdf.fonts

    if not isinstance(weasyprint.pdf.fonts.ffi, _ArrayFFI):
        weasyprint.pdf.fonts.ffi = _ArrayFFI(weasyprint.pdf.fonts.ffi)


_WRITING = threading.local()


def _serialise_streams_once() -> None:
    """Make pydyf deflate each stream once per written PDF, not twice.

    With a file identifier (PDF/A needs one), ``pydyf.PDF.write`` serialises
    every object a second time to hash it, deflating every stream again (the
    fonts' ~1 MB a record): 7 ms of 60. While a PDF is being written, a
    stream's bytes are kept by object; the objects do not change during the
    write, so the file is byte-identical (tested).
    """
    import pydyf

    if getattr(pydyf.PDF.write, "_liaison_once", False):
        return
    serialise, write = pydyf.Stream.data.fget, pydyf.PDF.write

    def data(stream):
        kept = getattr(_WRITING, "streams", None)
        if kept is None:
            return serialise(stream)
        if id(stream) not in kept:
            kept[id(stream)] = (stream, serialise(stream))  # the stream held: its id stays its own
        return kept[id(stream)][1]

    def write_once(pdf, *args, **kwargs):
        _WRITING.streams = {}
        try:
            return write(pdf, *args, **kwargs)
        finally:
            _WRITING.streams = None

    write_once._liaison_once = True
    pydyf.Stream.data = property(data)
    pydyf.PDF.write = write_once


YAML_MIME = "application/yaml"  # RFC 9512


class _AttachmentFixer:
    """WeasyPrint 70's embedded file, put right before the PDF is written.

    It lists the file twice in the catalog's ``/AF`` (once from the name tree,
    once from the file specification), gives it no MIME type for ``.yaml``
    (Python's table has none) and writes its dates as local time marked ``Z``.
    Here ``/AF`` lists it once, its ``/Subtype`` is application/yaml and its
    dates carry the configured zone's offset (+08'00').
    """

    def __init__(self, stamp):
        offset = stamp.strftime("%z")
        self.date = f"D:{stamp:%Y%m%d%H%M%S}{offset[:3]}'{offset[3:]}'"

    def __call__(self, document, pdf) -> None:
        import pydyf

        catalog = pdf.catalog
        if "AF" in catalog:
            # Entries are references ("11 0 R", as str or bytes): keep each object once.
            unique = {bytes(e, "ascii") if isinstance(e, str) else bytes(e): e for e in catalog["AF"]}
            catalog["AF"] = pydyf.Array(unique.values())
        for item in pdf.objects:
            extra = getattr(item, "extra", None)
            if isinstance(extra, dict) and extra.get("Type") == "/EmbeddedFile":
                extra["Subtype"] = "/" + YAML_MIME.replace("/", "#2f")
                extra["Params"]["CreationDate"] = pydyf.String(self.date)
                extra["Params"]["ModDate"] = pydyf.String(self.date)


class Renderer:
    """Everything WeasyPrint needs that does not change between records, made once per process.

    Sharing the font configuration and the parsed stylesheet saves about a
    quarter of each render, and level-6 deflate another quarter (_Flate6);
    arrays without C parsing (_ArrayFFI) and streams deflated once
    (_serialise_streams_once) a quarter of what is left. Everything but the
    deflate level leaves the output byte-identical (tested).
    """

    def __init__(self, templates_dir: Path):
        load_weasyprint()
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        _use_faster_deflate()
        _use_typed_arrays()
        _serialise_streams_once()
        self.templates_dir = Path(templates_dir).resolve()
        self.fetcher = GuardedFetcher([self.templates_dir])
        self.fonts = FontConfiguration()
        self.stylesheet = CSS(
            string=(self.templates_dir / STYLESHEET).read_text(encoding="utf-8"),
            base_url=self.templates_dir.as_uri() + "/",
            url_fetcher=self.fetcher.fetcher,
            font_config=self.fonts,
        )

    def render(self, record: Record, html: str, identifier: bytes = b"", timezone: str = dates.DEFAULT_ZONE) -> bytes:
        """PDF/A-3b bytes of one record's form, with its YAML file embedded as the source."""
        from weasyprint import HTML, Attachment

        stamp = record_timestamp(record, timezone).replace(tzinfo=None)
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
            finisher=_AttachmentFixer(record_timestamp(record, timezone)),
            stylesheets=[self.stylesheet],
            pdf_variant=PDF_VARIANT,
            attachments=[attachment],
            pdf_identifier=identifier or hashlib.md5(html.encode("utf-8")).digest(),
            font_config=self.fonts,
        )
