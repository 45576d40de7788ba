"""The incremental site: each file keyed by its inputs, kept in a content-addressed store, copied into place.

Every file of the site is an ``Output``: its path, a key (a hash of every
input its bytes depend on) and a function that makes the bytes. The store
(``.cache/site/objects/<2 hex>/<key>``) holds the bytes of each key already
made; a build makes only the outputs whose key is not in the store, and
places every file into a new tree beside the site, which then takes the
site's place in one rename. An unchanged file is the old site's file, linked
across (same inode, bytes and mtime), the others copies of the store's bytes
(``liaison.outputs.placing``): the site never shares a file with the store. A key that names every input is
what makes the cache never wrong; ``site_fingerprint`` covers the inputs of
every file at once (the code of every liaison module the site's build
imports, the site's templates and assets, schema, config and roster), so
changing any of them rebuilds everything.

A build killed at any point leaves the old site in place (the new tree is
beside it) or the new one (the swap is one atomic exchange of names); the
store only ever holds whole objects (each written beside, then renamed), so
the next build uses what it finds. The store lives under ``.cache/`` so that
it survives between CI pipelines, where ``public/`` does not; where it cannot
be written, the site is built whole without it (one warning, same bytes).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from liaison.core import cachekit
from liaison.core.project import Project
from liaison.outputs.placing import Placer

FORMAT_VERSION = 1  # raise when what the store holds, or how it is keyed, changes
SITE_MODULE = "liaison.outputs.site"  # its build, and so every module it imports, makes the site's files


def default_site_cache(root: Path) -> Path:
    """``<root>/.cache/site``: where the site's store is kept unless told otherwise."""
    return cachekit.cache_folder(root, "site")


@dataclass(frozen=True)
class Output:
    """One file of the site: ``make()`` gives its bytes, and is called only when ``key`` is not in the store."""

    path: str
    key: str
    make: Callable[[], bytes]

    @classmethod
    def of_bytes(cls, path: str, data: bytes) -> Output:
        """An output already made (cheap to make every time): keyed by its own bytes."""
        return cls(path, hashlib.sha256(b"bytes\0" + data).hexdigest(), lambda: data)


def input_key(*parts: object) -> str:
    """A key for an output from its inputs: the ``repr`` of ``parts`` (plain values, dataclasses), hashed.

    ``repr`` rather than JSON: it tells ``1`` from ``"1"`` and a date from its
    text, and costs less for the 10,000 record pages.
    """
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()


def site_fingerprint(project: Project) -> str:
    """A hash of what shapes every file of the site: a new one makes every key new (a full rebuild)."""
    root = Path(project.root)
    sources = []
    for folder in (root / "templates" / "site", root / "site"):
        if folder.is_dir():
            sources += [(p.relative_to(root).as_posix(), p) for p in sorted(folder.rglob("*")) if p.is_file()]
    if project.schema.path:
        sources.append(("schema", Path(project.schema.path)))
    return cachekit.stamp(
        cachekit.code_stamp(SITE_MODULE, memo=default_site_cache(root)),  # kept with the store in CI
        FORMAT_VERSION,
        *(part for name, path in sources for part in (name, path.read_bytes())),
        repr(project.config),
        repr(project.roster.leaders),
        # What Jinja2 and openpyxl make of the same input: their installed files (importing openpyxl
        # to read its version would cost a tenth of a second in a build that writes no workbook).
        cachekit.library_stamp("jinja2", "openpyxl"),
    )


@dataclass
class Placed:
    """What a build did: the files with new bytes, how many it rendered, how many it took from the store."""

    made: list[str] = field(default_factory=list)
    rendered: int = 0
    reused: int = 0


class SiteStore:
    """Bytes by output key, in ``<folder>/objects/<2 hex>/<key>``; an object is written beside, then renamed.

    A folder that cannot be written is not used (``usable`` False): every
    file is made and written into the site, and nothing is kept.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.objects = self.folder / "objects"
        self.usable = cachekit.usable_folder(self.folder)

    def placed_index(self) -> Path | None:
        """Where the files placed in the site are recorded (None: nowhere, every file is placed anew)."""
        return self.folder / "placed.json" if self.usable else None

    def path(self, key: str) -> Path:
        return self.objects / key[:2] / key

    def put(self, key: str, data: bytes) -> None:
        """Keep ``data`` under ``key``; a folder that stops taking files (a full disk) stops being used."""
        if not self.usable:
            return
        path = self.path(key)
        temporary = path.with_name(f".tmp-{os.getpid()}-{key}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(temporary, "wb") as handle:
                handle.write(data)
            os.replace(temporary, path)
        except OSError as error:
            if not cachekit.cannot_write(error):
                raise
            temporary.unlink(missing_ok=True)
            self.usable = False
            cachekit.unwritable(self.folder, error)

    def place(self, outputs: list[Output], placer: Placer) -> Placed:
        """Put every output into ``placer``'s tree, making those the store lacks.

        An output whose file in the site being replaced is still the one
        placed for its key is that file (linked across, same inode and mtime);
        any other is a copy of the store's bytes, never the store's own file,
        so a page edited in place in the site cannot change what later builds
        serve. A file made anew whose bytes equal the old file at its path is
        the old file too: after a change of template or config, the pages it
        did not alter keep their inode and mtime.
        """
        placed = Placed()
        objects = os.fspath(self.objects)
        for output in outputs:  # plain strings: 20,000 pathlib joins cost more than the copies
            if placer.kept(output.path, output.key):
                placed.reused += 1
                continue
            stored = f"{objects}/{output.key[:2]}/{output.key}"
            if self.usable and os.path.isfile(stored):
                placer.copy(output.path, output.key, stored)
                placed.reused += 1
                continue
            data = output.make()
            placed.rendered += 1
            self.put(output.key, data)
            if not placer.kept_if_same(output.path, output.key, data):
                placer.write(output.path, output.key, data)
                placed.made.append(output.path)
        return placed

    def prune(self, keep: set[str]) -> int:
        """Delete objects (and leftovers of killed writes) not in ``keep``; returns how many."""
        removed = 0
        if not self.usable or not self.objects.is_dir():
            return 0
        for folder in os.scandir(self.objects):
            if not folder.is_dir():
                continue
            for entry in os.scandir(folder.path):
                if entry.name not in keep:
                    try:
                        os.unlink(entry.path)
                    except FileNotFoundError:  # a second build at once pruned it first
                        continue
                    removed += 1
        return removed
