"""Benchmark: PDFs of generated records, this build against a plain loop, in one run.

    python bench/pdf.py [--records 300] [--cached 10000] [--split 40]

(a) a plain loop, one ``HTML(string=...).write_pdf()`` per record, as a
    newcomer would write it, with the same HTML, stylesheet, PDF/A-3b variant
    and attachment, so both produce the same files;
(b) ``build_pdfs`` cold: empty cache, a process pool across the cores;
(c) ``python build.py pdf`` (a fresh process, check included) after one
    record changed among ``--cached`` records (``bench/bigrepo.py``) whose
    PDFs are all in the cache and already placed in ``export/pdf``, against
    ``python build.py check`` of the same repository in the same run;
(d) where one render's time goes, per record on one core (``--split``
    records): HTML parse, CSS cascade, box tree, layout, drawing, font
    subsetting, pydyf serialisation and deflate.

For (c) the cache is filled by storing one rendered PDF under every other
record's cache key: a rebuild never reads a cached PDF it does not place anew,
so what is timed is the same as with real renders, without spending an hour
rendering 10,000 PDFs first. CPU seconds (this process and its children) are
printed beside wall time: the machine is shared.
"""

from __future__ import annotations

import argparse
import collections
import functools
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bigrepo import big_repository  # noqa: E402
from bench.synth import synthetic  # noqa: E402
from liaison.core.checks import check_repository  # noqa: E402
from liaison.core.project import open_project  # noqa: E402
from liaison.outputs.pdf import (  # noqa: E402
    PDF_VARIANT,
    STYLESHEET,
    Renderer,
    build_pdfs,
    cache_key,
    record_html,
    record_timestamp,
    renderer_identity,
)


def cpu_seconds() -> float:
    """User and system CPU of this process and its finished children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"


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
            os.link(sample_pdf, target)  # cache entries only: outputs are copies of them


def timed(command: list[str], cwd: Path) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, stdout) of one fresh process."""
    cpu, start = cpu_seconds(), time.perf_counter()
    done = subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True)
    return time.perf_counter() - start, cpu_seconds() - cpu, done.stdout.strip()


def one_changed(where: Path, n_records: int, rounds: int = 3) -> dict[str, tuple[float, float]]:
    """(c): best (wall, CPU) of ``pdf`` after one change, ``pdf`` with none, and ``check``, alternated."""
    root, _ = big_repository(where / "big", n_records)
    shutil.copytree(ROOT / "templates", root / "templates")
    cache = where / "cache-big"
    project, records = load(root)
    sample = where / "sample.pdf"
    html = record_html(records[0], project.schema, project.config, root / "templates")
    sample.write_bytes(Renderer(root / "templates").render(records[0], html))
    fill_cache(root, cache, sample)
    build = [sys.executable, str(ROOT / "build.py")]
    pdf = [*build, "pdf", "--cache", str(cache)]
    timed(pdf, root)  # places all PDFs once, as the last pipeline did
    best: dict[str, tuple[float, float]] = {}
    for n in range(rounds):
        path = root / records[n * 97 % len(records)].path
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("content: ", f"content: （第{n + 1}次更正）", 1), encoding="utf-8")
        for name, command in (("pdf, one changed", pdf), ("pdf, none changed", pdf), ("check", [*build, "check"])):
            wall, cpu, said = timed(command, root)
            if name == "pdf, one changed":
                assert "新生成 1 份" in said, said
            best[name] = min(best.get(name, (wall, cpu)), (wall, cpu))
    return best


STAGES = (
    ("weasyprint", "HTML", "__init__", "HTML parse"),
    ("weasyprint.document", "get_all_computed_styles", None, "CSS cascade"),
    ("weasyprint.document", "build_formatting_structure", None, "box tree"),
    ("weasyprint.document", "Document", "_render", "parse to pages, whole"),
    ("weasyprint.document", "Page", "paint", "drawing"),
    ("weasyprint.pdf.fonts", "Font", "_harfbuzz_subset", "font subsetting (HarfBuzz)"),
    ("weasyprint.pdf", "build_fonts_dictionary", None, "fonts, whole"),
    ("weasyprint.document", "generate_pdf", None, "PDF objects, whole"),
    ("pydyf", "PDF", "write", "pydyf serialise + deflate"),
)


def stage_split(root: Path, n_records: int) -> tuple[float, dict[str, float]]:
    """(d): CPU ms a record, and per stage, wrapping WeasyPrint's functions with timers (one process)."""
    import importlib

    project, records = load(root)
    records = records[: n_records + 1]
    renderer = Renderer(root / "templates")
    htmls = [record_html(r, project.schema, project.config, root / "templates") for r in records]
    renderer.render(records[0], htmls[0])  # start-up: fonts loaded, types parsed
    spent: collections.Counter = collections.Counter()

    def timer(function, label):
        @functools.wraps(function)
        def timed_function(*args, **kwargs):
            start = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label] += time.process_time() - start

        return timed_function

    undo = []
    for module_name, name, method, label in STAGES:
        owner = importlib.import_module(module_name)
        if method:
            owner = getattr(owner, name)
            name = method
        original = getattr(owner, name)
        setattr(owner, name, timer(original, label))
        undo.append((owner, name, original))
    start = time.process_time()
    for record, html in zip(records[1:], htmls[1:], strict=True):
        renderer.render(record, html)
    total = time.process_time() - start
    for owner, name, original in undo:
        setattr(owner, name, original)
    count = len(records) - 1
    ms = {label: 1000 * spent[label] / count for *_, label in STAGES}
    rows = {
        "HTML parse (tinyhtml5)": ms["HTML parse"],
        "CSS cascade": ms["CSS cascade"],
        "box tree": ms["box tree"],
        "layout": ms["parse to pages, whole"] - ms["CSS cascade"] - ms["box tree"],
        "drawing (PDF operators)": ms["drawing"],
        "font subsetting (HarfBuzz)": ms["font subsetting (HarfBuzz)"],
        "other PDF objects, PDF/A": ms["PDF objects, whole"] - ms["drawing"] - ms["font subsetting (HarfBuzz)"],
        "pydyf serialise + deflate": ms["pydyf serialise + deflate"],
    }
    rows["the rest (attachment, glue)"] = 1000 * total / count - sum(rows.values())
    return 1000 * total / count, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=300)
    parser.add_argument("--cached", type=int, default=10_000)
    parser.add_argument("--split", type=int, default=40, help="records for the time split (d); 0 skips it")
    args = parser.parse_args()
    print(f"records: {args.records}, cores: {os.cpu_count()}, load average at start: {load_average()}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = repository(tmp, args.records, seed=7)
        cpu = cpu_seconds()
        plain = plain_loop(root, tmp / "plain")
        plain_cpu, cpu = cpu_seconds() - cpu, cpu_seconds()
        built, sizes = this_build(root, tmp / "built", tmp / "cache")
        built_cpu = cpu_seconds() - cpu
        print(
            f"(a) plain loop                 {plain:7.1f} s  {args.records / plain:5.1f} PDF/s  CPU {plain_cpu:6.1f} s"
        )
        print(
            f"(b) this build, cold           {built:7.1f} s  {args.records / built:5.1f} PDF/s  CPU {built_cpu:6.1f} s"
            f"   {plain / built:4.2f}x the throughput of (a); CPU a record {1000 * plain_cpu / args.records:.0f}"
            f" → {1000 * built_cpu / args.records:.0f} ms ({plain_cpu / built_cpu:4.2f}x)"
        )
        print(f"    PDF size: median {statistics.median(sizes) / 1024:.0f} KB, max {max(sizes) / 1024:.0f} KB")
        print(f"    load average after (b): {load_average()}")
        if args.split:
            total, stages = stage_split(root, args.split)
            print(f"(d) one render on one core: {total:.1f} ms CPU a record")
            for label, ms in stages.items():
                print(f"      {label:28s} {ms:6.1f} ms  {100 * ms / total:4.0f} %")
        if args.cached:
            best = one_changed(tmp, args.cached)
            check_wall, check_cpu = best["check"]
            for name, (wall, cpu) in best.items():
                print(
                    f"(c) {name:18s} among {args.cached}: {wall:5.2f} s (CPU {cpu:5.2f} s)"
                    f"  {wall / check_wall:4.2f}x check, non-check part {wall - check_wall:+5.2f} s"
                )
            print(f"    load average after (c): {load_average()}")


if __name__ == "__main__":
    main()
