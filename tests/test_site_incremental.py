"""The incremental site build: after any change, the same bytes as a full build, and untouched files kept as they were."""

from __future__ import annotations

import datetime
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import PROJECT, commit_all, git, record_data, write_record

from liaison.core.checks import check_repository
from liaison.core.project import open_project
from liaison.outputs.pdf.cache import PdfCache, cache_key, renderer_identity
from liaison.outputs.site import SITE_MARKER, build_site

D = datetime.date


def fake_pdfs(root: Path, cache: Path) -> None:
    """A stand-in PDF under every record's cache key: the site links cached PDFs and never reads them.

    Each is whole as the cache judges a PDF (``%PDF-`` … ``%%EOF``): one it discarded would be rendered, and
    every site test would render every PDF it links."""
    project = open_project(root)
    identity = renderer_identity(root, project.schema.path, project.config)
    store = PdfCache(cache)
    for record in check_repository(project).clean_records():
        key = cache_key(identity, record)
        if not store.has(key):
            store.put(key, f"%PDF-1.7 stand-in for {record.id}, key {key}\n%%EOF\n".encode())


def build(root: Path, out: Path, where: Path):
    fake_pdfs(root, where / "pdf")
    site = build_site(open_project(root), out, where / "pdf", site_cache=where / "site")
    assert site.pdfs_rendered == 0, "the PDF cache refused the stand-ins, and the build rendered PDFs"
    return site


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def stats(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    }


@pytest.fixture
def site_repo(repo):
    shutil.copytree(PROJECT / "templates", repo / "templates")
    shutil.copytree(PROJECT / "site", repo / "site")
    for n, (day, leader) in enumerate(
        [(D(2024, 9, 15), "T1"), (D(2024, 10, 8), "T1"), (D(2024, 11, 2), "T2"), (D(2025, 3, 6), "T1")]
    ):
        extra = {} if leader == "T1" else {"leader_id": "T2", "leader": "张伟", "position": "处长"}
        write_record(repo, record_data(date=day, target=f"学生{n}", **extra), suffix=f"{n:06x}")
    commit_all(repo, "四条记录")
    return repo


def record_file(root: Path, suffix: str) -> Path:
    return next((root / "records").rglob(f"*-{suffix}.yaml"))


def change_one(root: Path) -> None:
    path = record_file(root, "000001")
    path.write_text(path.read_text(encoding="utf-8").replace("学生1", "学生会干部"), encoding="utf-8")


def add_one(root: Path) -> None:
    write_record(root, record_data(date=D(2024, 12, 1), target="新增的"), suffix="00000a")


def delete_one(root: Path) -> None:
    record_file(root, "000002").unlink()


def move_one(root: Path) -> None:
    """Correct a record's date into the next semester: the file moves to its new id, as the form does."""
    old = record_file(root, "000000")
    new = old.parent.parent / "2025" / old.name.replace("2024-09-15", "2025-04-01")
    new.parent.mkdir(exist_ok=True)
    git(root, "mv", str(old.relative_to(root)), str(new.relative_to(root)))
    new.write_text(new.read_text(encoding="utf-8").replace("2024-09-15", "2025-04-01"), encoding="utf-8")


def roster_entry(root: Path) -> None:
    """T3 is renamed: T2 (张伟) has no namesake any more, so his label loses its department on every page."""
    path = root / "roster.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "name: 张伟, department: 基础医学院", "name: 张卫, department: 基础医学院"
        ),
        encoding="utf-8",
    )


def template(root: Path) -> None:
    path = root / "templates" / "site" / "record.html"
    path.write_text(
        path.read_text(encoding="utf-8").replace("<h2>修改历史</h2>", "<h2>修改记录</h2>"), encoding="utf-8"
    )


def time_zone(root: Path) -> None:
    path = root / "config.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("Asia/Shanghai", "Asia/Tokyo"), encoding="utf-8")


CHANGES = {
    "one record changed": change_one,
    "one record added": add_one,
    "one record deleted": delete_one,
    "one record moved to another semester": move_one,
    "a roster entry changed": roster_entry,
    "a site template changed": template,
    "the time zone changed": time_zone,
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_an_incremental_build_gives_the_bytes_of_a_full_build(site_repo, tmp_path, change):
    out = tmp_path / "public"
    build(site_repo, out, tmp_path / "kept")
    before_bytes, before_stats = tree(out), stats(out)
    change(site_repo)
    commit_all(site_repo, "改动")

    build(site_repo, out, tmp_path / "kept")
    build(site_repo, tmp_path / "full", tmp_path / "fresh")  # a cold build: an empty store
    after = tree(out)
    assert after == tree(tmp_path / "full")
    assert after != before_bytes
    after_stats = stats(out)
    unchanged = [p for p, data in after.items() if before_bytes.get(p) == data and p != SITE_MARKER]
    assert unchanged and [p for p in unchanged if after_stats[p] != before_stats[p]] == []  # same inode and mtime
    assert not list(tmp_path.glob("public.new-*"))


def test_the_project_s_address_reaches_every_record_page_it_links_from(site_repo, tmp_path, monkeypatch):
    """A record page's key names its history by commits (``history_key``), not by the words made of them: the
    address its commit links go to is part of that key too."""
    out = tmp_path / "public"
    build(site_repo, out, tmp_path / "kept")
    monkeypatch.setenv("CI_PROJECT_URL", "https://gitlab.example.edu.cn/office/records/")
    build(site_repo, out, tmp_path / "kept")
    build(site_repo, tmp_path / "full", tmp_path / "fresh")
    assert tree(out) == tree(tmp_path / "full")
    page = (out / "records" / f"{record_file(site_repo, '000001').stem}.html").read_text(encoding="utf-8")
    assert "https://gitlab.example.edu.cn/office/records/-/commit/" in page


def test_one_changed_record_remakes_only_what_shows_it(site_repo, tmp_path):
    out = tmp_path / "public"
    build(site_repo, out, tmp_path / "kept")
    change_one(site_repo)
    commit_all(site_repo, "改一条")
    site = build(site_repo, out, tmp_path / "kept")
    changed_id = record_file(site_repo, "000001").stem
    assert set(site.made) == {
        f"records/{changed_id}.html",
        "leaders/T1.html",  # its list shows 联系对象
        "data/semester-2024-2025-1.js",
        "data/leader-T1.js",
        "downloads/联系情况汇总表-2024-2025学年第一学期.xlsx",
        "downloads/联系记录-2024-2025学年第一学期.csv",
        "downloads/联系记录-全部记录.csv",
        "index.html",  # the front pages name the site's version
        "leaders.html",
        "overview.html",
        "downloads.html",
    }


def test_each_page_names_the_version_of_its_own_data(site_repo, tmp_path):
    first = git(site_repo, "rev-parse", "HEAD").strip()
    change_one(site_repo)
    second = commit_all(site_repo, "改一条").strip()
    build(site_repo, tmp_path / "public", tmp_path / "kept")
    pages = tmp_path / "public"
    untouched = (pages / "records" / f"{record_file(site_repo, '000003').stem}.html").read_text(encoding="utf-8")
    touched = (pages / "records" / f"{record_file(site_repo, '000001').stem}.html").read_text(encoding="utf-8")
    assert f"本记录版本 {first[:8]}" in untouched and f"本记录版本 {second[:8]}" in touched
    index = (pages / "index.html").read_text(encoding="utf-8")
    assert f"数据版本 {second[:8]} · 共 4 条记录" in index


def test_a_semester_workbook_is_stamped_by_its_own_newest_change(site_repo, tmp_path):
    import openpyxl

    first = git(site_repo, "rev-parse", "HEAD").strip()
    change_one(site_repo)  # a record of 2024-2025-1
    second = commit_all(site_repo, "改一条").strip()
    build(site_repo, tmp_path / "public", tmp_path / "kept")

    def subtitle(semester: str) -> str:
        book = openpyxl.load_workbook(tmp_path / "public" / "downloads" / f"联系情况汇总表-{semester}.xlsx")
        return book.worksheets[0]["A2"].value

    assert f"版本 {second[:8]}" in subtitle("2024-2025学年第一学期")
    assert f"版本 {first[:8]}" in subtitle("2024-2025学年第二学期")


def test_a_record_page_says_when_its_file_differs_from_the_commit(site_repo, tmp_path):
    change_one(site_repo)  # not committed
    build(site_repo, tmp_path / "public", tmp_path / "kept")
    page = (tmp_path / "public" / "records" / f"{record_file(site_repo, '000001').stem}.html").read_text(
        encoding="utf-8"
    )
    assert "（含未提交的修改）" in page
    other = (tmp_path / "public" / "records" / f"{record_file(site_repo, '000003').stem}.html").read_text(
        encoding="utf-8"
    )
    assert "本记录版本" in other and "（含未提交的修改）" not in other


KILLER = """
import sys
sys.path.insert(0, {root!r})
from pathlib import Path
from liaison.core.project import open_project
from liaison.outputs.site import build_site
where = Path({where!r})
project = open_project(Path({repo!r}))
print("building", flush=True)  # the test watches for the new tree from here on, not through the imports
build_site(project, Path({out!r}), where / "pdf", site_cache=where / "site")
"""


@pytest.mark.parametrize("files_seen", [1, 60])
def test_a_killed_build_leaves_the_old_site_or_the_new_one(site_repo, tmp_path, files_seen):
    for n in range(60):
        write_record(site_repo, record_data(date=D(2024, 9, 1) + datetime.timedelta(days=n)), suffix=f"1{n:05x}")
    commit_all(site_repo, "六十条")
    out, where = tmp_path / "public", tmp_path / "kept"
    build(site_repo, out, where)
    old = tree(out)
    template(site_repo)  # every page is made again: the build takes long enough to be caught
    commit_all(site_repo, "模板")
    fake_pdfs(site_repo, where / "pdf")
    script = KILLER.format(root=str(PROJECT), where=str(where), repo=str(site_repo), out=str(out))
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert process.stdout.readline() == b"building\n"  # blocks, spending nothing, until the build starts
    deadline = time.monotonic() + 90
    killed = False
    while process.poll() is None and time.monotonic() < deadline:
        staging = next(tmp_path.glob("public.new-*"), None)
        if staging is not None and sum(1 for _ in staging.rglob("*.html")) >= files_seen:
            process.send_signal(signal.SIGKILL)
            killed = True
            break
        time.sleep(0.005)  # a page takes longer to make: a loop without a pause took a core from the build
    process.wait(timeout=60)
    process.stdout.close()
    assert killed, "the build ended before the new tree was seen"

    build(site_repo, tmp_path / "full", tmp_path / "fresh")
    new = tree(tmp_path / "full")
    assert tree(out) in (old, new)  # whole: never a mix, never missing
    build(site_repo, out, where)  # the next build uses what the killed one left
    assert tree(out) == new
    assert not list(tmp_path.glob("public.new-*"))


def test_a_build_into_a_folder_of_other_files_is_refused(site_repo, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    from liaison.outputs.pdf import OutputDirError

    with pytest.raises(OutputDirError):
        build(site_repo, out, tmp_path / "kept")
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert sorted(os.listdir(tmp_path)) == ["kept", "mine", "repo"]


@pytest.mark.parametrize("restore_mtime", [False, True], ids=["new mtime", "mtime put back"])
@pytest.mark.parametrize("page", ["record page", "PDF", "front page"])
def test_a_site_file_edited_in_place_never_reaches_the_store(site_repo, tmp_path, page, restore_mtime):
    """An editor that saves over the same file (same inode) must not change what later builds serve:
    the site shares no file with its store or the PDF cache, and the next build puts the file right,
    even when the edit put the old size and mtime back (only the ctime tells, and no one can set it)."""
    out, where = tmp_path / "public", tmp_path / "kept"
    build(site_repo, out, where)
    stem = record_file(site_repo, "000003").stem
    name = {"record page": f"records/{stem}.html", "PDF": f"records/{stem}.pdf", "front page": "index.html"}[page]
    original = (out / name).read_bytes()
    before = (out / name).stat()
    with open(out / name, "r+b") as edited:  # in place: the inode stays
        edited.write(b"<!-- forged -->" + original[15:])
    if restore_mtime:
        os.utime(out / name, ns=(before.st_atime_ns, before.st_mtime_ns))
    stored = {p.read_bytes() for p in where.rglob("*") if p.is_file()}
    assert b"<!-- forged -->" + original[15:] not in stored

    build(site_repo, out, where)  # nothing changed in the repository
    assert (out / name).read_bytes() == original
    build(site_repo, tmp_path / "other", where)  # a second site from the same store
    assert (tmp_path / "other" / name).read_bytes() == original


def test_an_untouched_file_is_kept_and_an_edited_one_replaced(site_repo, tmp_path):
    out, where = tmp_path / "public", tmp_path / "kept"
    build(site_repo, out, where)
    before = stats(out)
    (out / "leaders.html").write_bytes((out / "leaders.html").read_bytes())  # same bytes, new mtime
    build(site_repo, out, where)
    after = stats(out)
    assert after["leaders.html"][0] != before["leaders.html"][0]  # a fresh copy, not the touched file
    del before["leaders.html"], after["leaders.html"]
    before.pop(".liaison-site", None), after.pop(".liaison-site", None)
    assert before == after


@pytest.mark.parametrize("damage", ["1", "true", '{"0": 1}', "[]", '"x"'])
def test_a_damaged_placed_record_costs_copies_never_a_failure(site_repo, tmp_path, damage):
    import json

    out, where = tmp_path / "public", tmp_path / "kept"
    build(site_repo, out, where)
    full = tree(out)
    index = where / "site" / "placed.json"
    names = json.loads(index.read_text())
    index.write_text(json.dumps({name: json.loads(damage) for name in names}))
    build(site_repo, out, where)
    assert tree(out) == full
    assert json.loads(index.read_text()).keys() == names.keys()


def test_an_output_folder_given_as_a_link_is_built_through_it(site_repo, tmp_path):
    real, link = tmp_path / "real-site", tmp_path / "public"
    real.mkdir()
    link.symlink_to(real)
    build(site_repo, link, tmp_path / "kept")
    build(site_repo, link, tmp_path / "kept")
    assert link.is_symlink() and (real / "index.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept", "public", "real-site", "repo"]
