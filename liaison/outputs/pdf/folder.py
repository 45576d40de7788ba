"""``pdf``: the checked records of a range (one leader's, or one shard's) as PDFs under leaders' folders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from liaison.core.project import Project
from liaison.core.query import leaders_for_query, select_records
from liaison.core.records import Record
from liaison.core.semesters import DateRange
from liaison.git.verdict import Verdict, verdict
from liaison.outputs.pdf.build import PdfBuild, build_pdfs, shard_of
from liaison.outputs.pdf.cache import default_cache_dir, prune_cache


@dataclass
class PdfFolder:
    out: Path
    records: list[Record]  # the records of the range (and shard) whose PDFs are in ``out``
    build: PdfBuild
    verdict: Verdict
    pruned: int | None = None  # PDFs deleted from the cache (None: not asked to prune)


def pdf_folder(
    project: Project,
    date_range: DateRange,
    out: Path | None = None,
    cache: Path | None = None,
    jobs: int | None = None,
    name: str | None = None,
    leader_id: str | None = None,
    shard: tuple[int, int] | None = None,
    prune: bool = False,
) -> PdfFolder:
    """Render the range's records (of the leader named, or everyone) into ``out`` (default ``export/pdf``).

    ``shard`` (I, N): only the records of the I-th of N shards, for parallel
    CI jobs. ``prune``: afterwards delete the cached PDFs this run did not use.
    Raises QueryError for a leader that cannot be found, OutputDirError for
    an ``out`` that liaison did not make.
    """
    leaders = leaders_for_query(project.roster, name, leader_id) if project.roster else None
    found = verdict(project, renders=True)
    chosen = select_records(found.records, date_range, leaders)
    if shard:
        chosen = [r for r in chosen if shard_of(r.id, shard[1]) == shard[0]]
    out = out or project.root / "export" / "pdf"
    cache = cache or default_cache_dir(project.root)
    build = build_pdfs(project.root, project.schema, project.config, project.roster, chosen, out, cache, jobs)
    pruned = prune_cache(cache, set(build.keys.values())) if prune else None
    return PdfFolder(out, chosen, build, found, pruned)
