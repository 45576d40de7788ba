"""Each record's PDF, read back: every value in the text, fonts embedded, the YAML attached, nothing fetched."""

from __future__ import annotations

import datetime
import io
import re
import shutil

import pytest
from conftest import PROJECT, SCHEMA, record_data, write_record
from pdfboxes import printed_pages, stream_text, text_sizes
from pypdf import PdfReader

from liaison.core.checks import check_repository
from liaison.core.project import open_project
from liaison.core.records import parse_record
from liaison.outputs import pdf as pdfmod
from liaison.outputs.pdf.form import CELL_MIN_PT

TEMPLATES = PROJECT / "templates"


@pytest.fixture(scope="module")
def renderer():
    return pdfmod.Renderer(TEMPLATES)


@pytest.fixture
def project(repo):
    shutil.copytree(TEMPLATES, repo / "templates")
    return repo


def load(root):
    project = open_project(root)
    result = check_repository(project)
    assert result.ok, [p.format() for p in result.problems]
    return project, result.records


def render(root, renderer, **overrides):
    """Write one record into the repository ``root``, read it back as the build does, render it."""
    write_record(root, record_data(**overrides))
    project, records = load(root)
    record = records[0]
    html = pdfmod.record_html(record, project.schema, project.config, TEMPLATES)
    return project, record, PdfReader(io.BytesIO(renderer.render(record, html)))


def squeeze(text: str) -> str:
    """Text without white space: wrapping inserts line breaks wherever a line is full."""
    return re.sub(r"\s+", "", text)


def pdf_text(reader: PdfReader) -> str:
    return squeeze("".join(page.extract_text() for page in reader.pages))


def test_every_value_and_label_is_in_the_text(project, renderer):
    _, record, reader = render(
        project,
        renderer,
        student_contact="阿依古丽·买买提、𠀾某",
        remarks="备注里有 𠀾 和 ·",
        feedback="1. 希望延长开放时间。\n2. 增加座位。",
    )
    text = pdf_text(reader)
    assert "测试大学领导干部结对联系学生工作情况记录表" in text
    assert record.id in text
    for field in SCHEMA.fields:
        if field.internal:
            continue
        value = pdfmod.display_value(field, record[field.key])
        assert field.label in text
        assert squeeze(value) in text, field.key


def test_rare_characters_are_drawn_with_a_fallback_font(project, renderer):
    # U+2A6D6 (CJK Ext. B) is in neither AR PL UMing nor WenQuanYi: only HanaMinB has it.
    _, _, reader = render(project, renderer, remarks="罕见字𪛖")
    assert any("HanaMinB" in name for name in embedded_fonts(reader))
    assert "罕见字𪛖" in pdf_text(reader)


def embedded_fonts(reader: PdfReader) -> dict[str, dict]:
    """BaseFont name -> font descriptor, for every font used on any page."""
    found = {}
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendant = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            found[str(font["/BaseFont"])] = descendant["/FontDescriptor"].get_object()
    return found


def test_fonts_are_embedded_and_subset(project, renderer):
    _, _, reader = render(project, renderer)
    fonts = embedded_fonts(reader)
    assert fonts
    for name, descriptor in fonts.items():
        assert re.match(r"/[A-Z]{6}\+", name), name  # subset prefix
        assert any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")), name
    families = " ".join(fonts)
    assert "UMing" in families and "WenQuanYi" in families


def test_the_attachment_is_the_record_file_and_parses_back(project, renderer):
    project_obj, record, reader = render(project, renderer, remarks="附件里也要有 𠀾")
    attachments = reader.attachments
    assert list(attachments) == [f"{record.id}.yaml"]
    raw = attachments[f"{record.id}.yaml"][0]
    assert raw == (project / record.path).read_bytes()
    again, problems = parse_record(record.path, raw, project_obj.schema, datetime.date.today())
    assert problems == [] and again.data == record.data


def test_archival_metadata(project, renderer):
    _, record, reader = render(project, renderer)
    meta = reader.metadata
    assert meta.title == "测试大学领导干部结对联系学生工作情况记录表"
    assert meta.author == record.leader
    assert record.id in meta["/Keywords"] and record.date.isoformat() in meta["/Keywords"]
    assert record["target"] in meta.subject
    assert meta["/CreationDate"].startswith(f"D:{record.date:%Y%m%d}")
    xmp = reader.xmp_metadata.stream.get_data().decode("utf-8")
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    assert "/OutputIntents" in reader.trailer["/Root"]


def test_a_5000_character_content_flows_onto_more_pages_without_loss(project, renderer):
    paragraphs = [f"第{n}段：与同学们座谈交流学习生活情况，听取意见建议并逐一回应。" * 3 for n in range(1, 60)]
    content = "\n".join(paragraphs)[:5000]
    _, record, reader = render(project, renderer, content=content, remarks="结尾备注")
    assert len(content) == 5000
    assert len(reader.pages) >= 2
    pages = [squeeze(page.extract_text()) for page in reader.pages]
    # What repeats on every page (the running record id, the continuation title,
    # the page number) interrupts the flowing text; take it out, then nothing may be missing.
    furniture = re.compile(
        rf"第\d+页/共\d+页|记录编号{record.id}|测试大学领导干部结对联系学生工作情况记录表（续）|联系内容（续）"
    )
    body = "".join(furniture.sub("", page) for page in pages)
    assert squeeze(content) in body and "结尾备注" in body
    last = pages[-1]
    assert f"第{len(reader.pages)}页/共{len(reader.pages)}页" in last
    assert "（续）" in squeeze(reader.pages[1].extract_text())
    assert all(record.id in squeeze(page.extract_text()) for page in reader.pages)


HOSTILE = [
    '<img src="file:///etc/passwd">',
    '<img src="http://169.254.169.254/latest/meta-data/">',
    '<link rel="attachment" href="file:///etc/passwd">',
    "<style>@import url(http://169.254.169.254/x.css);</style>",
    '<a href="javascript:alert(1)">点我</a>',
    "</td></tr></table><h1>伪造标题</h1>",
]


@pytest.mark.parametrize("payload", HOSTILE)
def test_html_in_a_field_is_shown_as_text_and_fetches_nothing(project, renderer, payload):
    renderer.fetcher.refused.clear()
    _, record, reader = render(project, renderer, content=payload, remarks=payload)
    assert squeeze(payload) in pdf_text(reader)
    assert renderer.fetcher.refused == []  # escaped: never even asked for
    assert list(reader.attachments) == [f"{record.id}.yaml"]


def test_the_fetcher_refuses_urls_even_if_markup_got_through(project, renderer, tmp_path):
    """The second wall: raw markup naming outside URLs (bypassing escaping) fetches and attaches nothing."""
    _, record, _ = render(project, renderer)
    secret = tmp_path / "secret.txt"
    secret.write_text("秘密", encoding="utf-8")
    html = (
        "<html><head><link rel='attachment' href='" + secret.as_uri() + "'>"
        "<link rel='stylesheet' href='http://169.254.169.254/s.css'></head><body>"
        "<img src='file:///etc/passwd'><img src='http://169.254.169.254/latest/meta-data/'>"
        "<img src='" + (TEMPLATES / ".." / "README.md").as_uri() + "'>正文</body></html>"
    )
    renderer.fetcher.refused.clear()
    reader = PdfReader(io.BytesIO(renderer.render(record, html)))
    refused = renderer.fetcher.refused
    assert secret.as_uri() in refused and "file:///etc/passwd" in refused
    assert "http://169.254.169.254/latest/meta-data/" in refused and "http://169.254.169.254/s.css" in refused
    assert any(url.endswith("README.md") for url in refused)  # outside templates/, even inside the project
    assert list(reader.attachments) == [f"{record.id}.yaml"]
    assert "秘密" not in pdf_text(reader)


def test_same_record_gives_the_same_bytes(project, renderer):
    write_record(project, record_data())
    project_obj, records = load(project)
    html = pdfmod.record_html(records[0], project_obj.schema, project_obj.config, TEMPLATES)
    first = renderer.render(records[0], html)
    fresh = pdfmod.Renderer(TEMPLATES).render(records[0], html)
    assert first == fresh


UNTUNED_RENDER = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from liaison.core.checks import check_repository
from liaison.core.project import open_project
from liaison.outputs.pdf import record_html, render
render._use_typed_arrays = render._serialise_streams_once = lambda: None  # WeasyPrint and pydyf as shipped
root, out = Path(sys.argv[2]), Path(sys.argv[3])
project = open_project(root)
renderer = render.Renderer(root / "templates")
for record in check_repository(project).records:
    html = record_html(record, project.schema, project.config, root / "templates")
    (out / f"{record.id}.pdf").write_bytes(renderer.render(record, html))
"""


def test_the_renderer_s_speed_ups_leave_the_bytes_as_weasyprint_writes_them(project, renderer, tmp_path):
    """Arrays made without C parsing and streams deflated once: the same files, record for record."""
    import subprocess
    import sys

    for n, overrides in enumerate(
        [{}, {"content": "长文本，跨页。" * 700, "remarks": "罕见字𪛖"}, {"target": "团委·学生会" * 3, "size": 7}]
    ):
        write_record(project, record_data(**overrides), suffix=f"{n:06d}")
    project_obj, records = load(project)
    out = tmp_path / "untuned"
    out.mkdir()
    subprocess.run(
        [sys.executable, "-c", UNTUNED_RENDER, str(PROJECT), str(project), str(out)], check=True, timeout=100
    )
    import pydyf
    import weasyprint.pdf.fonts

    assert isinstance(weasyprint.pdf.fonts.ffi, pdfmod.render._ArrayFFI) and pydyf.PDF.write._liaison_once
    for record in records:
        html = pdfmod.record_html(record, project_obj.schema, project_obj.config, TEMPLATES)
        assert renderer.render(record, html) == (out / f"{record.id}.pdf").read_bytes(), record.id


def test_record_html_escapes_and_is_deterministic(project):
    write_record(project, record_data(content="<b>粗体</b> & 'x'"))
    project_obj, records = load(project)
    html = pdfmod.record_html(records[0], project_obj.schema, project_obj.config, TEMPLATES)
    assert "&lt;b&gt;粗体&lt;/b&gt; &amp; &#39;x&#39;" in html and "<b>" not in html
    assert html == pdfmod.record_html(records[0], project_obj.schema, project_obj.config, TEMPLATES)


def test_form_rows_follow_the_schema(project):
    write_record(project, record_data())
    project_obj, records = load(project)
    rows = pdfmod.form_rows(records[0], project_obj.schema)
    printed = [f for f in project_obj.schema.fields if f.print and not f.internal]
    assert [cell.key for row in rows for cell in row.cells] == [f.key for f in printed]
    assert all(sum(1 + cell.span for cell in row.cells) == 6 for row in rows)  # six columns each


def test_renderer_deflates_at_level_6(renderer):
    import pydyf

    assert isinstance(pydyf.zlib, pdfmod.render._Flate6)
    assert pydyf.zlib.compressobj(level=9).compress(b"x" * 1000)  # still a working zlib


def test_this_machine_has_the_fast_font_setup():
    """setup.sh installed libharfbuzz-subset0 and the fonts: the build has nothing to warn about."""
    assert pdfmod.font_warnings(TEMPLATES) == []


def test_a_missing_harfbuzz_subset_library_is_warned_about(monkeypatch):
    """The library cannot be uninstalled inside a test, so only its lookup is replaced here."""
    real = pdfmod.fonts.ctypes.util.find_library
    monkeypatch.setattr(pdfmod.fonts.ctypes.util, "find_library", lambda name: None if "subset" in name else real(name))
    looked_up = pdfmod.fonts._harfbuzz_subset_found
    looked_up.cache_clear()  # looked up once a process: look again, with the library gone
    try:
        warnings = pdfmod.font_warnings(TEMPLATES)
    finally:
        looked_up.cache_clear()
    assert any("libharfbuzz-subset0" in w for w in warnings)


def _page_lines(data: bytes, tmp_path) -> list[list[str]]:
    path = tmp_path / "form.pdf"
    path.write_bytes(data)
    return [["".join(w[0] for w in line[4]) for line in page] for page in printed_pages(path)]


LONG_NAME = "阿依古丽·买买提江艾力克"  # 12 characters with a middle dot


def test_a_long_name_prints_on_one_line_in_its_cell(project, renderer, tmp_path):
    roster = (project / "roster.yaml").read_text(encoding="utf-8")
    roster += f"  - {{id: T9, name: {LONG_NAME}, department: 护理学院, position: 副院长, login: ayili, active: true}}\n"
    (project / "roster.yaml").write_text(roster, encoding="utf-8")
    write_record(
        project,
        record_data(
            leader_id="T9", leader=LONG_NAME, department="护理学院", position="副院长", place="第一临床医学院示教室东侧"
        ),
    )
    project_obj, records = load(project)
    html = pdfmod.record_html(records[0], project_obj.schema, project_obj.config, TEMPLATES)
    lines = _page_lines(renderer.render(records[0], html), tmp_path)[0]
    assert any(LONG_NAME in line for line in lines), lines
    assert any("第一临床医学院示教室东侧" in line for line in lines), lines
    rows = pdfmod.form_rows(records[0], project_obj.schema)
    cells = {c.key: (row.kind, c) for row in rows for c in row.cells}
    # Too long for its cell even at 9 pt: the name takes the row's width, whole, at the body size.
    assert cells["leader"][0] == "row" and cells["leader"][1].font_pt is None
    assert cells["leader"][1].lines == (LONG_NAME,)
    assert cells["department"][0] == "cell" and cells["department"][1].font_pt is None  # what fits keeps its size
    assert [c.key for row in rows for c in row.cells][:4] == ["leader", "department", "position", "date"]


def test_a_name_a_little_too_long_shrinks_in_its_cell_but_stays_legible(project, renderer):
    name = "欧阳娜娜·买买提江"  # 9 characters: 9.4 pt keeps it on one line in its cell
    roster = (project / "roster.yaml").read_text(encoding="utf-8")
    roster += f"  - {{id: T9, name: {name}, department: 护理学院, position: 副院长, login: oy, active: true}}\n"
    (project / "roster.yaml").write_text(roster, encoding="utf-8")
    write_record(project, record_data(leader_id="T9", leader=name, department="护理学院", position="副院长"))
    project_obj, records = load(project)
    cells = {c.key: (row.kind, c) for row in pdfmod.form_rows(records[0], project_obj.schema) for c in row.cells}
    kind, cell = cells["leader"]
    assert kind == "cell" and CELL_MIN_PT <= cell.font_pt < 10.5


POSITION = "党委学生工作部部长、学生工作处处长、人民武装部部长"  # 24 characters and two 、


def test_a_long_position_takes_the_row_whole_at_the_body_size(project, renderer, tmp_path):
    write_record(project, record_data(position=POSITION))
    project_obj, records = load(project)
    html = pdfmod.record_html(records[0], project_obj.schema, project_obj.config, TEMPLATES)
    data = renderer.render(records[0], html)
    lines = _page_lines(data, tmp_path)[0]
    assert any(POSITION in line for line in lines), lines  # on one line, 部长 and all
    sizes = [size for size, text in text_sizes(data) if "人民武装部部长" in text]
    assert sizes and min(sizes) > 10


def test_a_position_longer_than_a_row_wraps_only_after_its_separators(project, renderer, tmp_path):
    posts = [
        "党委学生工作部部长",
        "学生工作处处长",
        "人民武装部部长",
        "招生就业处副处长",
        "心理健康教育中心主任",
        "团委书记",
    ]
    position = "、".join(posts)  # 51 characters: more than one line of the row
    write_record(project, record_data(position=position))
    project_obj, records = load(project)
    html = pdfmod.record_html(records[0], project_obj.schema, project_obj.config, TEMPLATES)
    lines = _page_lines(renderer.render(records[0], html), tmp_path)[0]
    printed = [line.removeprefix("职务") for line in lines if any(post in line for post in posts)]
    assert len(printed) >= 2 and "".join(printed) == position, printed
    assert all(line.endswith("、") for line in printed[:-1]), printed  # no post cut in two


def _longest(key: str, word: str) -> str:
    """A value of ``key`` at the schema's maximum length: numbered items joined by 、, as people list them."""
    limit = SCHEMA.field(key).rules["maxlength"]
    items, n = [], 0
    while len("、".join(items)) < limit:
        n += 1
        items.append(f"{word}{n}号")
    return "、".join(items)[:limit]


def test_every_field_at_the_schemas_longest_prints_whole_at_8_pt_or_more(project, renderer, tmp_path):
    name = ("阿依古丽·买买提江艾力克" * 5)[: SCHEMA.field("leader").rules["maxlength"]]
    department = _longest("department", "学院")
    roster = (project / "roster.yaml").read_text(encoding="utf-8")
    roster += f"  - {{id: T9, name: '{name}', department: '{department}', position: 职务, login: x9, active: true}}\n"
    (project / "roster.yaml").write_text(roster, encoding="utf-8")
    longest = {key: _longest(key, word) for key, word in (("position", "部长"), ("place", "教室"), ("target", "班级"))}
    longest |= {key: _longest(key, word) for key, word in (("student_contact", "同学"), ("content", "内容"))}
    longest |= {key: _longest(key, word) for key, word in (("feedback", "反馈"), ("remarks", "备注"))}
    write_record(
        project,
        record_data(
            leader_id="T9", leader=name, department=department, size=SCHEMA.field("size").rules["max"], **longest
        ),
    )
    project_obj, records = load(project)
    record = records[0]
    html = pdfmod.record_html(record, project_obj.schema, project_obj.config, TEMPLATES)
    data = renderer.render(record, html)
    path = tmp_path / "longest.pdf"
    path.write_bytes(data)
    furniture = rf"第\d+页/共\d+页|记录编号{record.id}|测试大学领导干部结对联系学生工作情况记录表（续）|" + "|".join(
        f"{f.label}（续）" for f in SCHEMA.fields if f.print == "block"
    )
    text = re.sub(furniture, "", stream_text(path))
    missing = [
        f.key for f in SCHEMA.fields if not f.internal and squeeze(pdfmod.display_value(f, record[f.key])) not in text
    ]
    assert not missing, missing
    small = [(round(size, 2), text) for size, text in text_sizes(data) if size < 7.99]  # 8 pt, to the PDF's rounding
    assert not small, small[:5]


def test_continuation_pages_name_the_continued_field(project, renderer, tmp_path):
    content = "与同学们座谈交流学习生活情况，听取意见建议并逐一回应。\n" * 80
    write_record(project, record_data(content=content, feedback="短的意见。"))
    project_obj, records = load(project)
    html = pdfmod.record_html(records[0], project_obj.schema, project_obj.config, TEMPLATES)
    pages = _page_lines(renderer.render(records[0], html), tmp_path)
    assert len(pages) >= 2
    assert not any("（续）" in line and "联系内容" in line for line in pages[0])
    assert "联系内容（续）" in pages[1][:2], pages[1][:3]  # at the top, beside the title


def test_a_short_record_has_no_continuation_label(project, renderer, tmp_path):
    write_record(project, record_data())
    project_obj, records = load(project)
    html = pdfmod.record_html(records[0], project_obj.schema, project_obj.config, TEMPLATES)
    pages = _page_lines(renderer.render(records[0], html), tmp_path)
    assert not any("（续）" in line for page in pages for line in page)


def test_the_attachment_is_listed_once_as_yaml_dated_in_the_configured_zone(project, renderer):
    _, record, reader = render(project, renderer)
    catalog = reader.trailer["/Root"]
    assert len(catalog["/AF"]) == 1
    spec = catalog["/AF"][0].get_object()
    assert spec["/UF"] == f"{record.id}.yaml" and spec["/AFRelationship"] == "/Source"
    stream = spec["/EF"]["/F"].get_object()
    assert stream["/Subtype"] == "/application/yaml"
    day = record.date.strftime("%Y%m%d")
    assert stream["/Params"]["/CreationDate"] == f"D:{day}000000+08'00'"
    assert stream["/Params"]["/ModDate"] == f"D:{day}000000+08'00'"


def test_emoji_are_drawn_with_an_emoji_font(project, renderer):
    _, _, reader = render(project, renderer, content="气氛热烈👍😀", feedback="好🎉")
    assert any("Symbola" in name for name in embedded_fonts(reader))
    text = pdf_text(reader)
    assert "气氛热烈👍😀" in text and "好🎉" in text


LOAD_AND_RENDER = """
import ctypes.util, pathlib, subprocess, sys
started = []
real = subprocess.Popen.__init__
def logged(self, args, *rest, **options):
    started.append(pathlib.Path(args[0] if isinstance(args, (list, tuple)) else str(args).split()[0]).name)
    return real(self, args, *rest, **options)
subprocess.Popen.__init__ = logged
find = ctypes.util.find_library
from liaison.outputs.pdf.render import Renderer
Renderer(pathlib.Path(sys.argv[1]))
print(" ".join(sorted(started)), ctypes.util.find_library is find)
"""


def test_loading_weasyprint_runs_no_compiler_and_leaves_find_library_as_it_was():
    """WeasyPrint probes every platform's library names; each one the linker's cache does not know ran gcc and
    ld (about 200 processes a command). Loaded through load_weasyprint, it asks that cache only, listed once
    (ctypes lists it again for each of the 22 names)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", LOAD_AND_RENDER, str(PROJECT / "templates")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    programs, restored = done.stdout.split()[:-1], done.stdout.split()[-1]
    assert programs == ["ldconfig"] and restored == "True", done.stdout


LOOKUPS_WHILE_LOADING = """
import ctypes.util, json
from liaison.outputs.pdf import render
listed = render._linker_cache
asked = []
def recording():
    find = listed()
    def lookup(name):
        asked.append([name, find(name), ctypes.util._findSoname_ldconfig(name)])
        return asked[-1][1]
    return lookup
render._linker_cache = recording
render.load_weasyprint()
print(json.dumps(asked))
"""


def test_the_linker_cache_listed_once_answers_every_name_as_ctypes_does():
    """Each name WeasyPrint asks while it loads gets from the one listing what ctypes' own lookup in the linker's
    cache answers, found or not."""
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", LOOKUPS_WHILE_LOADING], capture_output=True, text=True, timeout=120, cwd=PROJECT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    asked = json.loads(done.stdout)
    assert len(asked) >= 10 and any(found for _, found, _ in asked) and not all(found for _, found, _ in asked)
    assert [(name, found) for name, found, _ in asked] == [(name, ctypes) for name, _, ctypes in asked]


def test_while_weasyprint_loads_other_threads_keep_the_full_lookup_and_a_failure_puts_it_back(monkeypatch):
    """Only the loading thread's lookups go to the linker's cache; a thread of the form asking meanwhile gets
    ctypes' own answer, and an import that fails (a library missing) leaves find_library as it was."""
    import ctypes.util
    import sys
    import threading

    from liaison.outputs.pdf import render
    from liaison.outputs.pdf.render import load_weasyprint

    asked = []

    def own(name):
        asked.append((threading.current_thread().name, name))

    monkeypatch.setattr(ctypes.util, "find_library", own)
    monkeypatch.setattr(render, "_linker_cache", lambda: lambda name: f"cache:{name}")
    monkeypatch.delitem(sys.modules, "weasyprint", raising=False)
    seen = {}

    class MissingPango:
        """A finder standing for WeasyPrint's import: it looks up a library from this thread and another, then
        fails as WeasyPrint does without pango."""

        def find_spec(self, fullname, path=None, target=None):
            if fullname != "weasyprint":
                return None
            seen["loader"] = ctypes.util.find_library("pango-1.0")
            other = threading.Thread(target=lambda: seen.update(other=ctypes.util.find_library("pango-1.0")))
            other.name = "form"
            other.start()
            other.join(timeout=30)
            raise OSError("cannot load library 'pango-1.0'")

    monkeypatch.setattr(sys, "meta_path", [MissingPango(), *sys.meta_path])
    with pytest.raises(OSError, match="pango"):
        load_weasyprint()
    assert seen == {"loader": "cache:pango-1.0", "other": None}
    assert asked == [("form", "pango-1.0")]
    assert ctypes.util.find_library is own
