"""Printed text boxes read back with poppler's ``pdftotext -bbox-layout``: pages of lines of words."""

from __future__ import annotations

import subprocess
from html.parser import HTMLParser
from pathlib import Path


class _Boxes(HTMLParser):
    """Pages of lines, each line (x0, y0, x1, y1, [(word, x0, y0, x1, y1)])."""

    def __init__(self):
        super().__init__()
        self.pages: list[list[tuple]] = []
        self.line = None
        self.word = None

    def handle_starttag(self, tag, attrs):
        box = {k: float(v) for k, v in attrs if k in ("xmin", "ymin", "xmax", "ymax")}
        if tag == "page":
            self.pages.append([])
        elif tag == "line":
            self.line = [box["xmin"], box["ymin"], box["xmax"], box["ymax"], []]
            self.pages[-1].append(self.line)
        elif tag == "word":
            self.word = [box["xmin"], box["ymin"], box["xmax"], box["ymax"]]

    def handle_data(self, data):
        if self.word is not None and data.strip():
            self.line[4].append((data.strip(), *self.word))
            self.word = None


def printed_pages(pdf: Path) -> list[list[tuple]]:
    done = subprocess.run(
        ["pdftotext", "-bbox-layout", str(pdf), "-"], check=True, capture_output=True, text=True, timeout=60
    )
    parser = _Boxes()
    parser.feed(done.stdout)
    return parser.pages
