"""Benchmark: PDFs of generated records, this build against a plain loop, in one run.

    python bench/pdf.py [--records 1000] [--cached 10000]

(a) a plain loop, one ``HTML(string=...).write_pdf()`` per record, as a
    newcomer would write it, with the same HTML, stylesheet, PDF/A-3b variant
    and attachment, so both produce the same files;
(b) ``build_pdfs`` cold: empty cache, a process pool across the cores;
(c) ``python build.py pdf`` (a fresh process, check included) after one
    record changed among ``--cached`` records already in the cache.

For (c) the cache is filled by storing one rendered PDF under every other
record's cache key: a rebuild never reads a cached PDF's content (it links
the file into place), so what is timed is the same as with real renders,
without spending minutes rendering 10,000 PDFs first.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.synth import synthetic  # noqa: E402
from liaison.core.checks import check_repository  # noqa: E402
from liaison.core.project import open_project  # noqa: E402
from liaison.outputs.pdf import (  # noqa: E402
    PDF_VARIANT,
    STYLESHEET,
    build_pdfs,
    cache_key,
    record_html,
    record_timestamp,
    renderer_identity,
)


def repository(where: Path, n_records: int, seed: int) -> Path:
    root = where / f"repo-{n_records}"
    synthetic(root, n_records, 150, seed)
    shutil.copytree(ROOT / "templates", root / "templates")
    return root


def load(root: Path):
    project = open_project(root)
    result = check_repository(project)
    assert result.ok, [p.format() for p in result.problems[:3]]
    return project, result.records


def plain_loop(root: Path, out: Path) -> float:
    """(a): what a newcomer writes; same inputs and options, nothing shared between records."""
    from weasyprint import CSS, HTML, Attachment

    project, records = load(root)
    css = (root / "templates" / STYLESHEET).read_text(encoding="utf-8")
    out.mkdir(parents=True)
    start = time.perf_counter()
    for record in records:
        html = record_html(record, project.schema, project.config, root / "templates")
        stamp = record_timestamp(record).replace(tzinfo=None)
        attachment = Attachment(
            string=record.raw, name=f"{record.id}.yaml", created=stamp, modified=stamp, relationship="Source"
        )
        HTML(string=html).write_pdf(
            out / f"{record.id}.pdf", stylesheets=[CSS(string=css)], pdf_variant=PDF_VARIANT, attachments=[attachment]
        )
    return time.perf_counter() - start


def this_build(root: Path, out: Path, cache: Path) -> tuple[float, list[int]]:
    """(b): build_pdfs from an empty cache; returns the time and the sizes of the PDFs."""
    project, records = load(root)
    start = time.perf_counter()
    build = build_pdfs(root, project.schema, project.config, project.roster, records, out, cache)
    elapsed = time.perf_counter() - start
    assert build.rendered == len(records)
    return elapsed, [path.stat().st_size for path in build.paths.values()]


def fill_cache(root: Path, cache: Path, sample_pdf: Path) -> None:
    """Store ``sample_pdf`` under every record's cache key (see the module docstring for why)."""
    project, records = load(root)
    identity = renderer_identity(root, project.schema.path, project.config)
    for record in records:
        key = cache_key(identity, record)
        target = cache / key[:2] / f"{key}.pdf"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            os.link(sample_pdf, target)


def one_changed(root: Path, cache: Path, sample_pdf: Path) -> tuple[float, str]:
    """(c): fill the cache for every record, change one, time the whole command."""
    project, records = load(root)
    fill_cache(root, cache, sample_pdf)
    out = root / "out"
    command = [
        sys.executable,
        str(ROOT / "build.py"),
        "--root",
        str(root),
        "pdf",
        "--out",
        str(out),
        "--cache",
        str(cache),
    ]
    subprocess.run(command, check=True, capture_output=True)  # places all 10,000 once, as the last pipeline did
    path = root / records[len(records) // 2].path
    path.write_text(path.read_text(encoding="utf-8").replace("content: ", "content: （已更正）", 1), encoding="utf-8")
    start = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return time.perf_counter() - start, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--cached", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = repository(tmp, args.records, seed=7)
        plain = plain_loop(root, tmp / "plain")
        built, sizes = this_build(root, tmp / "built", tmp / "cache")
        big = repository(tmp, args.cached, seed=8)
        sample = next((tmp / "built").rglob("*.pdf"))
        rebuild, said = one_changed(big, tmp / "cache-big", sample)

    print(f"records: {args.records}, cores: {os.cpu_count()}")
    print(f"(a) plain loop                      {plain:7.1f} s   {args.records / plain:6.1f} PDF/s")
    print(
        f"(b) this build, cold                {built:7.1f} s   {args.records / built:6.1f} PDF/s   "
        f"{plain / built:4.2f}x the throughput of (a)"
    )
    print(f"(c) one changed among {args.cached} cached {rebuild:7.1f} s   ({said})")
    print(f"PDF size: median {statistics.median(sizes) / 1024:.0f} KB, max {max(sizes) / 1024:.0f} KB")
    ok = plain / built >= 2.5 and rebuild < 5 and statistics.median(sizes) < 120 * 1024
    print(f"targets ((b) >= 2.5x (a); (c) < 5 s; typical PDF < 120 KB): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
