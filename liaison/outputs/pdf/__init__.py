"""The PDF of each record: the customer's 附表, archival (PDF/A-3b with the YAML inside), and cached.

* ``form``: the record laid out as the form's rows, then as HTML (pure; golden-testable);
* ``render``: that HTML to PDF bytes with WeasyPrint, fetching nothing a record names;
* ``fonts``: the stylesheet's fonts and warnings about a slow or wrong set-up;
* ``cache``: the content-addressed cache every command and the form share;
* ``build``: many records through the cache and a process pool, under leaders' folders.
"""

from liaison.outputs.folders import OutputDirError
from liaison.outputs.pdf.build import OUTPUT_MARKER, OnDemand, PdfBuild, build_pdfs, shard_of
from liaison.outputs.pdf.cache import (
    PdfCache,
    cache_key,
    default_cache_dir,
    prune_cache,
    renderer_identity,
    usable_cache,
)
from liaison.outputs.pdf.fonts import font_files, font_warnings, stylesheet_families
from liaison.outputs.pdf.form import (
    STYLESHEET,
    TEMPLATE,
    FormCell,
    FormRow,
    display_value,
    form_rows,
    form_title,
    record_html,
    record_timestamp,
)
from liaison.outputs.pdf.render import PDF_VARIANT, GuardedFetcher, Renderer

__all__ = [
    "OUTPUT_MARKER",
    "PDF_VARIANT",
    "STYLESHEET",
    "TEMPLATE",
    "FormCell",
    "FormRow",
    "GuardedFetcher",
    "OnDemand",
    "OutputDirError",
    "PdfBuild",
    "PdfCache",
    "Renderer",
    "build_pdfs",
    "cache_key",
    "default_cache_dir",
    "display_value",
    "font_files",
    "font_warnings",
    "form_rows",
    "form_title",
    "prune_cache",
    "record_html",
    "record_timestamp",
    "renderer_identity",
    "shard_of",
    "stylesheet_families",
    "usable_cache",
]
