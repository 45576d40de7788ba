"""Building many PDFs: leaders' folders, the cache, the process pool, the ``pdf`` command."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import pytest
from conftest import PROJECT, built_once, record_data, write_record
from pypdf import PdfReader
from small_repos import empty_repository

from liaison.core.checks import check_repository
from liaison.core.project import open_project
from liaison.outputs.pdf import OutputDirError, PdfCache, build_pdfs


def eight_records(root: Path) -> Path:
    """``root`` with the templates and eight records: six of 赵某's, one of each 张伟."""
    shutil.copytree(PROJECT / "templates", root / "templates")
    for n in range(6):
        write_record(root, record_data(date=datetime.date(2024, 9, 10 + n), content=f"第{n}次联系"), suffix=f"{n:06x}")
    write_record(root, record_data(leader_id="T2", leader="张伟", content="学工处张伟"), suffix="aaaaaa")
    write_record(root, record_data(leader_id="T3", leader="张伟", content="基础医学院张伟"), suffix="bbbbbb")
    return root


@pytest.fixture
def project(repo):
    return eight_records(repo)


def build(root, out, cache, jobs=None):
    project = open_project(root)
    records = check_repository(project).clean_records()
    return build_pdfs(root, project.schema, project.config, project.roster, records, out, cache, jobs)


@pytest.fixture(scope="module")
def rendered_once(tmp_path_factory) -> Path:
    """A PDF cache holding the eight records' PDFs, rendered once a run (``built_once``), read-only."""

    def render(folder: Path) -> None:
        made = build(eight_records(empty_repository(folder / "repo")), folder / "out", folder / "cache", jobs=1)
        assert made.rendered == 8

    return built_once(tmp_path_factory, "pdf-build-eight", render) / "cache"


@pytest.fixture
def warm_cache(rendered_once, tmp_path) -> Path:
    """A copy of ``rendered_once``, for a test whose point is what a build does with the PDFs, not rendering them:
    its cache keys are the records' content and the renderer's, the same in every test's repository."""
    return Path(shutil.copytree(rendered_once, tmp_path / "cache"))


def test_pdfs_go_to_leader_folders_and_the_cache_is_reused(project, tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    first = build(project, out, cache, jobs=2)
    assert (first.rendered, first.cached) == (8, 0)
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.pdf"))
    assert "赵某/2024-09-10_国旗护卫队.pdf" in names
    assert (
        "张伟（学生工作处）/2024-09-15_国旗护卫队.pdf" in names
        and "张伟（基础医学院）/2024-09-15_国旗护卫队.pdf" in names
    )
    assert len(names) == 8

    second = build(project, out, cache)
    assert (second.rendered, second.cached) == (0, 8)

    changed = project / "records/2024/2024-09-10-T1-000000.yaml"
    changed.write_text(
        changed.read_text(encoding="utf-8").replace("第0次联系", "第0次联系（已修改）"), encoding="utf-8"
    )
    third = build(project, out, cache)
    assert (third.rendered, third.cached) == (1, 7)
    text = "".join(page.extract_text() for page in PdfReader(out / "赵某/2024-09-10_国旗护卫队.pdf").pages)
    assert "已修改" in text


def test_pool_and_single_process_give_identical_files(project, tmp_path):
    pooled = build(project, tmp_path / "a", tmp_path / "cache-a", jobs=2)
    single = build(project, tmp_path / "b", tmp_path / "cache-b", jobs=1)
    for record_id, path in pooled.paths.items():
        assert path.read_bytes() == single.paths[record_id].read_bytes()


def test_a_few_pdfs_render_in_this_process_and_many_or_jobs_asked_for_in_a_pool(project, tmp_path, monkeypatch):
    """Starting a pool's workers costs more than a few renders save (POOL_FROM, BENCHMARKS.md): fewer PDFs render
    here; from POOL_FROM on, in one process a core; with ``jobs`` given (--jobs), in that many."""
    import liaison.outputs.pdf.build as pdf_build

    class Pool(Exception):
        """A pool was started (so nothing is rendered)."""

    started = []

    def pool(workers, *args, **kwargs):
        started.append(workers)
        raise Pool

    monkeypatch.setattr(pdf_build, "ProcessPoolExecutor", pool)
    monkeypatch.setattr(pdf_build, "POOL_FROM", 3)
    monkeypatch.setattr(pdf_build.os, "cpu_count", lambda: 4)
    opened = open_project(project)
    records = check_repository(opened).clean_records()

    def render(chosen, jobs=None):
        out = tmp_path / f"out-{len(started)}-{chosen[0].id}"
        return build_pdfs(project, opened.schema, opened.config, opened.roster, chosen, out, tmp_path / "cache", jobs)

    assert render(records[:2]).rendered == 2 and started == []
    with pytest.raises(Pool):
        render(records[2:5])
    assert started == [3]  # a worker a core, but no more than there are PDFs
    with pytest.raises(Pool):
        render(records[5:7], jobs=2)
    assert started == [3, 2]


def test_a_pool_s_workers_start_with_weasyprint_loaded_once_before_them(repo, tmp_path):
    """A forked worker inherits what its parent loaded: WeasyPrint is loaded once before the pool starts, not once
    in each worker (a quarter CPU-second each). ``-X importtime`` reports every import, the workers' too."""
    import subprocess
    import sys

    shutil.copytree(PROJECT / "templates", repo / "templates")
    for n in range(2):
        write_record(repo, record_data(date=datetime.date(2024, 9, 10 + n)), suffix=f"{n:06x}")
    command = [sys.executable, "-X", "importtime", str(PROJECT / "build.py"), "--root", str(repo)]
    done = subprocess.run(
        [*command, "pdf", "--out", str(tmp_path / "out"), "--jobs", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(list((tmp_path / "out").rglob("*.pdf"))) == 2
    loaded = [
        line for line in done.stderr.splitlines() if line.startswith("import time:") and line.endswith("| weasyprint")
    ]
    assert len(loaded) == 1, loaded


def test_output_folder_mirrors_the_selection(project, tmp_path, warm_cache):
    out, cache = tmp_path / "out", warm_cache
    build(project, out, cache)
    (project / "records/2024/2024-09-15-T2-aaaaaa.yaml").unlink()
    build(project, out, cache)
    assert not (out / "张伟（学生工作处）").exists()
    assert len(list(out.rglob("*.pdf"))) == 7


def test_an_unmanaged_non_empty_folder_is_never_written_into(project, tmp_path, warm_cache):
    out = tmp_path / "documents"
    out.mkdir()
    (out / "我的文件.docx").write_text("x", encoding="utf-8")
    with pytest.raises(OutputDirError):
        build(project, out, warm_cache)
    assert [p.name for p in out.iterdir()] == ["我的文件.docx"]


def test_pdf_command_for_one_leader_and_a_range(project, run, tmp_path, warm_cache):
    out = tmp_path / "out"
    result = run(
        project,
        "pdf",
        "--leader",
        "赵某",
        "--from",
        "2024-09-11",
        "--to",
        "2024-09-13",
        "--out",
        str(out),
        "--cache",
        str(warm_cache),
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "赵某").iterdir()) == [
        "2024-09-11_国旗护卫队.pdf",
        "2024-09-12_国旗护卫队.pdf",
        "2024-09-13_国旗护卫队.pdf",
    ]
    assert "共 3 份 PDF" in result.output


def test_pdf_command_names_records_it_could_not_use(project, run, tmp_path, warm_cache):
    broken = write_record(project, record_data(leader="不在名单", content="坏记录"), suffix="cccccc")
    result = run(project, "pdf", "--out", str(tmp_path / "out"), "--cache", str(warm_cache))
    assert result.exit_code == 1
    assert broken in result.stderr and "未计入PDF" in result.stderr
    assert len(list((tmp_path / "out").rglob("*.pdf"))) == 8


def test_a_renamed_record_gets_a_pdf_of_its_new_id_not_the_cached_old_one(project, tmp_path, warm_cache):
    out, cache = tmp_path / "out", warm_cache
    build(project, out, cache)
    old = project / "records/2024/2024-09-11-T1-000001.yaml"
    new = old.with_name("2024-09-11-T1-00000f.yaml")
    old.rename(new)  # the same bytes under another id: the embedded attachment is named by the id
    again = build(project, out, cache)
    assert again.rendered == 1
    reader = PdfReader(again.paths["2024-09-11-T1-00000f"])
    assert list(reader.attachments) == ["2024-09-11-T1-00000f.yaml"]


def test_a_pdf_edited_in_place_in_the_output_never_reaches_the_cache(project, tmp_path, warm_cache):
    """Someone opens an exported PDF and saves it over itself: the cache, and every later build, stay clean."""
    out, cache = tmp_path / "out", warm_cache
    first = build(project, out, cache)
    target = first.paths["2024-09-10-T1-000000"]
    original = target.read_bytes()
    with open(target, "r+b") as pdf:  # the same file, not a new one beside it
        pdf.seek(len(original) // 2)
        pdf.write(b"edited in place")
    assert PdfCache(cache).get(first.keys["2024-09-10-T1-000000"]) == original

    elsewhere = build(project, tmp_path / "elsewhere", cache)
    assert (elsewhere.rendered, elsewhere.paths["2024-09-10-T1-000000"].read_bytes()) == (0, original)
    again = build(project, out, cache)
    assert (again.rendered, target.read_bytes()) == (0, original)  # the edited copy was put right


def test_a_rebuild_leaves_untouched_pdfs_as_they_are(project, tmp_path, warm_cache):
    out, cache = tmp_path / "out", warm_cache
    build(project, out, cache)
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.rglob("*.pdf")}
    changed = project / "records/2024/2024-09-12-T1-000002.yaml"
    changed.write_text(changed.read_text(encoding="utf-8").replace("第2次联系", "第2次联系（改）"), encoding="utf-8")
    build(project, out, cache)
    after = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.rglob("*.pdf")}
    assert [p.name for p in before if before[p] != after[p]] == ["2024-09-12_国旗护卫队.pdf"]
    assert all(p.stat().st_nlink == 1 for p in out.rglob("*.pdf"))


def test_temporary_files_of_a_running_build_are_left_alone_and_a_dead_ones_removed(project, tmp_path, warm_cache):
    """Two `pdf --out X` at once: one must not delete the copy the other is writing."""
    import subprocess
    import sys

    from liaison.outputs.placing import TEMPORARY

    out, cache = tmp_path / "out", warm_cache
    build(project, out, cache)
    running = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, timeout=60
    )
    try:
        alive_file = out / f"{TEMPORARY}{running.pid}-1"
        dead_file = out / f"{TEMPORARY}{int(dead.stdout)}-1"
        alive_file.write_bytes(b"being written")
        dead_file.write_bytes(b"left by a killed run")
        build(project, out, cache)
        assert alive_file.exists() and not dead_file.exists()
    finally:
        running.communicate(b"", timeout=60)


@pytest.mark.parametrize("damage", ["1", "true", '{"a": 1}', '"x"', "[1, 2, 3, 4]", "null"])
def test_a_damaged_placed_index_costs_copies_never_a_failure(project, tmp_path, warm_cache, damage):
    import json

    from liaison.outputs.placing import PLACED

    out, cache = tmp_path / "out", warm_cache
    first = build(project, out, cache)
    index = json.loads((out / PLACED).read_text())
    (out / PLACED).write_text(json.dumps({name: json.loads(damage) for name in index}))
    again = build(project, out, cache)
    assert {k: p.read_bytes() for k, p in again.paths.items()} == {k: p.read_bytes() for k, p in first.paths.items()}
    assert json.loads((out / PLACED).read_text()).keys() == index.keys()  # a sound index again


def test_a_cached_pdf_cut_short_is_rendered_again_never_passed_on(project, tmp_path, warm_cache):
    """A power cut after a cache write can leave a PDF empty or cut short (write_atomic is not durable there), and
    a CI cache may come back partly: such a file is discarded and the PDF rendered again, by builds and the form
    alike, so that neither an export nor verify (which rebuilds through the same cache) ever carries it."""
    from liaison.outputs.pdf import OnDemand

    cache = warm_cache
    cold = build(project, tmp_path / "cold", cache, jobs=1)  # copies of the PDFs as rendered: what to compare with
    cached = sorted(cache.rglob("*.pdf"))
    for n, path in enumerate(cached):
        data = path.read_bytes()
        path.write_bytes(b"" if n % 2 else data[: len(data) // 2])
    again = build(project, tmp_path / "again", cache, jobs=1)
    assert again.rendered == len(cached)
    for record_id, path in cold.paths.items():
        assert again.paths[record_id].read_bytes() == path.read_bytes()
    for path in cached[:2]:
        path.write_bytes(b"")
    opened = open_project(project)
    form = OnDemand(project, opened.schema, opened.config, cache)
    for record in check_repository(opened).clean_records():
        assert form.pdf(record) == cold.paths[record.id].read_bytes()
