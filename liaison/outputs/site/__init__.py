"""The static searchable site (``public/``): search, leaders, records, overview, downloads.

Everything is computed first (``site_outputs``: each file's path, the key of
its inputs and how to make it), then only the files with new keys are made
(``store``), so the output is deterministic, testable without a browser, and
a commit that changes one record costs about one record's pages. Links are relative, so the site works from ``file://``, from a
sub-path on GitLab Pages and from ``python -m http.server`` alike.

The browser gets the records as JavaScript data files (``data/*.js``): one
per semester and one per leader, loaded only as a search needs them, so the
first search on a 10,000-record site reads one semester, not everything.
Script files rather than JSON because ``fetch`` is refused on ``file://``.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from liaison.core.project import Project
from liaison.git.history.read import read_history
from liaison.git.repo import head_commit, require_whole_history
from liaison.git.verdict import Verdict, require_ready, verdict
from liaison.outputs.folders import process_alive, swap_dir
from liaison.outputs.pdf import OutputDirError, build_pdfs
from liaison.outputs.placing import Placer
from liaison.outputs.site.pages import site_outputs
from liaison.outputs.site.store import SiteStore, default_site_cache, site_fingerprint
from liaison.outputs.site.versions import Versions

SITE_MARKER = ".liaison-site"
log = logging.getLogger("liaison.site")


@dataclass
class SiteBuild:
    out_dir: Path
    files: int
    records: int
    pdfs_rendered: int
    verdict: Verdict  # check's: the records left out (named), the notes, the exit status
    warnings: list[str] = field(default_factory=list)
    made: list[str] = field(default_factory=list)  # files (not PDFs) with new bytes; the others kept as they were


def build_site(
    project: Project, out_dir: Path, cache_dir: Path, jobs: int | None = None, site_cache: Path | None = None
) -> SiteBuild:
    """``build``: check, then put the whole site at ``out_dir`` (replacing an earlier build), PDFs from the cache.

    Only files whose inputs changed are made (``site_cache``, default
    ``.cache/site``, keeps the others); the new site is assembled beside
    ``out_dir`` and takes its place at once, so ``out_dir`` is always a whole
    site, the old one or the new one. Records that fail check are left out
    (the verdict names them); NotReady when config.yaml or roster.yaml cannot be used.
    """
    require_ready(project, renders=True)  # before the history is read
    require_whole_history(project.root, "网站中每条记录的历史")
    phases = _Phases()
    history = read_history(project.root, project.schema)  # once, for the check and every record page
    found = verdict(project, history=history, renders=True)
    records = found.records
    phases.mark("check and history")
    commit = head_commit(project.root)
    # The commit, not the clock, dates everything: the same commit builds the same site on any day.
    today = project.config.local(commit.time).date() if commit else project.today()
    versions = Versions.read(project.root, commit, history, project.config.calendar, project.config.now())
    store = SiteStore(site_cache or default_site_cache(project.root))
    outputs = site_outputs(project, records, versions, today, history, site_fingerprint(project))
    phases.mark("keys")

    out_dir = Path(os.path.realpath(out_dir))  # a link to the site folder: the folder is what is replaced
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / SITE_MARKER).exists():
        raise OutputDirError(f"{out_dir} 已有其他文件。为免误删，请指定一个新的或空的目录（--out）。")
    placed, pdfs = _assemble(project, records, outputs, out_dir, store, cache_dir, jobs, phases)
    log.info(
        "site build: %d files rendered (%d with new bytes), %d kept; %s",
        placed.rendered,
        len(placed.made),
        placed.reused,
        phases,
    )
    return SiteBuild(
        out_dir,
        len(outputs) + len(records),
        len(records),
        pdfs.rendered,
        found,
        pdfs.warnings,
        placed.made,
    )


def _assemble(project, records, outputs, out_dir: Path, store: SiteStore, cache_dir: Path, jobs, phases):
    """Build the new tree beside ``out_dir`` from the store (making what it lacks) and the PDF cache, swap it in."""
    _remove_leftovers(out_dir)
    staging = out_dir.with_name(f"{out_dir.name}.new-{os.getpid()}")
    staging.mkdir(parents=True)
    try:
        (staging / SITE_MARKER).write_text("由 liaison 生成的站点目录，每次构建会整体替换。\n", encoding="utf-8")
        placer = Placer(staging, previous=out_dir, index=store.placed_index())
        placed = store.place(outputs, placer)
        phases.mark("files")
        pdfs = build_pdfs(
            project.root,
            project.schema,
            project.config,
            project.roster,
            records,
            staging,
            cache_dir,
            jobs,
            mirror=False,
            layout={r.id: f"records/{r.id}.pdf" for r in records},
            placer=placer,
        )
        phases.mark("pdfs")
        swap_dir(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    placer.save(final=out_dir)  # after the swap, as the files now are; killed before it, the next build copies more
    store.prune({output.key for output in outputs})
    phases.mark("swap")
    return placed, pdfs


class _Phases:
    """Wall and CPU seconds of each step of a build, for the log (and the benchmark that reads it)."""

    def __init__(self):
        self.last = (time.perf_counter(), time.process_time())
        self.spent: list[tuple[str, float, float]] = []

    def mark(self, name: str) -> None:
        now = (time.perf_counter(), time.process_time())
        self.spent.append((name, now[0] - self.last[0], now[1] - self.last[1]))
        self.last = now

    def __str__(self) -> str:
        return ", ".join(f"{name} {wall:.2f}s (cpu {cpu:.2f}s)" for name, wall, cpu in self.spent)


def _remove_leftovers(out_dir: Path) -> None:
    """Remove new trees of builds that were killed before their swap (never one a running build is filling)."""
    if not out_dir.parent.is_dir():
        return
    for leftover in out_dir.parent.glob(f"{out_dir.name}.new-*"):
        pid = leftover.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and process_alive(int(pid)):
            continue
        if leftover.is_symlink():  # rmtree refuses a link (silently, with ignore_errors)
            leftover.unlink()
        else:
            shutil.rmtree(leftover, ignore_errors=True)
