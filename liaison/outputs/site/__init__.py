"""The static searchable site (``public/``): search, leaders, records, overview, downloads.

Everything is computed first (``site_files`` returns path -> bytes), then
written in one pass, so the output is deterministic and testable without a
browser. Links are relative, so the site works from ``file://``, from a
sub-path on GitLab Pages and from ``python -m http.server`` alike.

The browser gets the records as JavaScript data files (``data/*.js``): one
per semester and one per leader, loaded only as a search needs them, so the
first search on a 10,000-record site reads one semester, not everything.
Script files rather than JSON because ``fetch`` is refused on ``file://``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from liaison.core.project import Project
from liaison.git.closed import check_with_history
from liaison.git.history import read_history
from liaison.git.repo import head_commit
from liaison.outputs.pdf import OutputDirError, build_pdfs
from liaison.outputs.site.pages import site_files

SITE_MARKER = ".liaison-site"


@dataclass
class SiteBuild:
    out_dir: Path
    files: int
    records: int
    pdfs_rendered: int
    problems: list = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    process_problems: list = field(default_factory=list)  # how a record was changed: it is still on the site


def build_site(project: Project, out_dir: Path, cache_dir: Path, jobs: int | None = None) -> SiteBuild:
    """Check, then write the whole site to ``out_dir`` (replacing an earlier build), PDFs from the cache."""
    history = read_history(project.root, project.schema)  # once, for the check and every record page
    result = check_with_history(project, history=history)
    records = result.clean_records()
    commit = head_commit(project.root)
    if commit:
        # The commit, not the clock, dates everything: the same commit builds the same site on any day.
        stamp, source = commit.time, f"版本 {commit.short}" + ("（含未提交的修改）" if commit.dirty else "")
        today = project.config.local(commit.time).date()
    else:
        stamp, source = project.config.now(), "本机文件（尚未提交）"
        today = project.today()
    files = site_files(project, records, source, stamp, today, history)

    if out_dir.exists():
        if any(out_dir.iterdir()) and not (out_dir / SITE_MARKER).exists():
            raise OutputDirError(f"{out_dir} 已有其他文件。为免误删，请指定一个新的或空的目录（--out）。")
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    (out_dir / SITE_MARKER).write_text("由 liaison 生成的站点目录，每次构建会整体替换。\n", encoding="utf-8")
    for path, data in sorted(files.items()):
        target = out_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    pdfs = build_pdfs(
        project.root,
        project.schema,
        project.config,
        project.roster,
        records,
        out_dir,
        cache_dir,
        jobs,
        mirror=False,
        layout={r.id: f"records/{r.id}.pdf" for r in records},
    )
    return SiteBuild(
        out_dir,
        len(files) + len(records),
        len(records),
        pdfs.rendered,
        result.problems,
        pdfs.warnings,
        result.process_problems,
    )
