"""Printed text boxes read back with poppler's ``pdftotext -bbox-layout``: pages of lines of words."""

from __future__ import annotations

import io
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

# LibreOffice's page footer, as the files set it: 第 N 页，共 M 页.
FOOTER = re.compile(r"第\d+页，共\d+页")


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


def column_texts(pages: list[list[tuple]], header: list[str], widths: list[float]) -> list[str]:
    """What a printed sheet shows in each column, top to bottom and page after page, without white space.

    Columns print in proportion to their widths, so the centres of the header
    labels that are printed whole on one line fix where every column lies on
    the page (a straight line through them: points per unit of width, and the
    left edge). A word belongs to the column its centre is in; only the words
    below the repeated header row and above the page footer count.
    """
    edges = [0.0]
    for width in widths:
        edges.append(edges[-1] + width)
    streams = [[] for _ in header]
    for lines in pages:
        words = [w for line in lines if not FOOTER.fullmatch("".join(w[0] for w in line[4])) for w in line[4]]
        found = {}
        for word in words:
            if word[0] in header and word[0] not in found:
                found[word[0]] = word
        pairs = [
            ((edges[i] + edges[i + 1]) / 2, (found[h][1] + found[h][3]) / 2) for i, h in enumerate(header) if h in found
        ]
        assert len(pairs) >= 2, f"a page without the header row: {[w[0] for w in words][:20]}"
        n = len(pairs)
        mean_u, mean_x = sum(u for u, _ in pairs) / n, sum(x for _, x in pairs) / n
        slope = sum((u - mean_u) * (x - mean_x) for u, x in pairs) / sum((u - mean_u) ** 2 for u, _ in pairs)
        left = mean_x - slope * mean_u
        top = max(found[h][4] for h in found)
        body = sorted((w for w in words if w[2] > top), key=lambda w: (w[2], w[1]))
        for word in body:
            centre = ((word[1] + word[3]) / 2 - left) / slope
            column = next((i for i in range(len(widths)) if centre < edges[i + 1]), len(widths) - 1)
            streams[column].append(word[0])
    return ["".join(stream) for stream in streams]


def text_sizes(pdf: bytes) -> list[tuple[float, str]]:
    """(font size in points as drawn, text) of every piece of text on every page, read with pypdf."""
    from pypdf import PdfReader

    found: list[tuple[float, str]] = []

    def visit(text, cm, tm, font, size):
        if text.strip():
            found.append((abs(size * tm[3] * cm[3]), text))

    for page in PdfReader(io.BytesIO(pdf)).pages:
        page.extract_text(visitor_text=visit)
    return found


def stream_text(pdf: Path) -> str:
    """The PDF's text in the order it is drawn (``pdftotext -raw``), without white space: a value
    drawn as several lines comes back whole, whatever stands beside it on the page."""
    done = subprocess.run(["pdftotext", "-raw", str(pdf), "-"], check=True, capture_output=True, text=True, timeout=60)
    return re.sub(r"\s+", "", done.stdout)
