"""One record's HTML to PDF/A-3b bytes with WeasyPrint, fetching nothing that a record names."""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path
from urllib.parse import unquote, urlparse

from liaison.core import dates
from liaison.core.records import Record
from liaison.outputs.pdf.form import STYLESHEET, record_timestamp

PDF_VARIANT = "pdf/a-3b"


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
