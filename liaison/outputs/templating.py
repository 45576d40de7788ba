"""The one Jinja2 environment: templates from ``templates/``, autoescaping always on."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2


@cache
def environment(templates_dir: Path) -> jinja2.Environment:
    """Autoescape every template whatever its extension: record text is data, never markup."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
