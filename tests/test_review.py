"""The merge request's review page (``build.py review``), on real branches of real repositories.

The page is read with a parser: each record is a ``section.item`` with
``data-kind`` and ``data-record``; problems, hints (``data-hint``) and changed
fields (``data-field``) are elements inside it.
"""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import GIT_ENV, PROJECT, record_data, write_record

from liaison.core.config import ReviewSettings
from liaison.core.project import open_project
from liaison.outputs import review as review_module
from liaison.outputs.review import build_review, char_diff

CONTENT = "以座谈会形式与同学们交流，了解学习、生活和就业方面的困难，并现场解答了同学们关心的问题。"


# A small DOM from html.parser --------------------------------------------------------


class Node:
    def __init__(self, tag: str, attrs: dict, parent: Node | None):
        self.tag, self.attrs, self.parent, self.children = tag, attrs, parent, []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def all(self, tag: str | None = None, **attrs) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                classes = child.attrs.get("class", "").split()
                if (tag is None or child.tag == tag) and all(
                    (v in classes) if k == "class_" else child.attrs.get(k.replace("_", "-")) == v
                    for k, v in attrs.items()
                ):
                    found.append(child)
                found.extend(child.all(tag, **attrs))
        return found


class _Builder(HTMLParser):
    VOID = {"meta", "link", "br", "img", "input", "col", "hr"}

    def __init__(self):
        super().__init__()
        self.root = self.current = Node("#root", {}, None)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in self.VOID:
            self.current = node

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(path: Path) -> Node:
    builder = _Builder()
    builder.feed(path.read_text(encoding="utf-8"))
    return builder.root


def items(page: Node) -> dict[str, Node]:
    return {node.attrs["data-record"]: node for node in page.all("section", class_="item")}


# Repositories with branches -----------------------------------------------------------


def git_at(root: Path, when: str, *args: str) -> str:
    """git with a fixed identity, and the author/committer date ``when`` (the day a record is 'submitted')."""
    env = {**os.environ, **GIT_ENV, "HOME": str(root), "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    done = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True, check=True, timeout=60)
    return done.stdout.strip()


def commit(root: Path, message: str, when: str = "2024-09-16T10:00:00+08:00") -> str:
    git_at(root, when, "add", "-A")
    git_at(root, when, "commit", "-q", "--allow-empty", "-m", message)
    return git_at(root, when, "rev-parse", "HEAD")


@pytest.fixture
def branch(repo):
    """A committed repository (one record on main) with the branch ``record`` checked out."""
    shutil.copytree(PROJECT / "templates", repo / "templates")
    write_record(repo, record_data(content=CONTENT), suffix="aaaaaa")
    git_at(repo, "2024-09-16T10:00:00+08:00", "init", "-q", "-b", "main")
    commit(repo, "初始")
    git_at(repo, "2024-09-16T10:00:00+08:00", "checkout", "-q", "-b", "record")
    return repo


@pytest.fixture(scope="session")
def pdf_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pdf-cache")


def run_review(root: Path, pdf_cache: Path, base: str = "main"):
    out = root / "review"
    result = build_review(open_project(root), base, out, pdf_cache)
    return result, parse(out / "index.html")


OLD = "records/2024/2024-09-15-T1-aaaaaa.yaml"


# What each kind of change shows ---------------------------------------------------------


def test_a_new_record_is_laid_out_as_the_form_in_the_schema_s_order_with_its_pdf(branch, pdf_cache, run):
    path = write_record(branch, record_data(target="学生会", content=CONTENT), suffix="bbbbbb")
    commit(branch, "新增记录")
    done = run(branch, "review", "--base", "main", "--cache", str(pdf_cache))
    assert done.exit_code == 0, done.output
    assert "【新增】2024-09-15-T1-bbbbbb 赵某 · 2024年9月15日 · 学生会；检查通过" in done.output
    page = parse(branch / "review" / "index.html")
    found = items(page)
    assert list(found) == ["2024-09-15-T1-bbbbbb"]
    item = found["2024-09-15-T1-bbbbbb"]
    assert item.attrs["data-kind"] == "新增"
    labels = [th.text() for th in item.all("table", class_="form")[0].all("th")]
    schema = open_project(branch).schema
    assert labels == [f.label for f in schema.fields if f.print and not f.internal]
    assert item.all("td", data_field="target")[0].text() == "学生会"
    assert not item.all("li", class_="problem") and not item.all("li", class_="hint")
    pdf = branch / "review" / "2024-09-15-T1-bbbbbb.pdf"
    assert pdf.read_bytes().startswith(b"%PDF") and item.all("a", class_="pdf")[0].attrs["href"] == pdf.name
    assert path.endswith("bbbbbb.yaml")


def test_a_correction_of_the_content_marks_the_changed_characters(branch, pdf_cache):
    corrected = CONTENT.replace("座谈会", "茶话会")
    write_record(branch, record_data(content=corrected), suffix="aaaaaa")
    commit(branch, "更正联系内容")
    result, page = run_review(branch, pdf_cache)
    item = items(page)["2024-09-15-T1-aaaaaa"]
    assert item.attrs["data-kind"] == "修改"
    rows = item.all("tr", data_field="content")
    assert len(rows) == 1 and len(item.all("table", class_="diff")[0].all("tr")) == 2  # header + 联系内容
    assert rows[0].all("th")[0].text() == "联系内容"
    assert [d.text() for d in rows[0].all("del")] == ["座谈"]
    assert [i.text() for i in rows[0].all("ins")] == ["茶话"]
    assert rows[0].all("td", class_="new")[0].text() == corrected
    assert (branch / "review" / "2024-09-15-T1-aaaaaa.pdf").is_file()
    assert "改动：联系内容" in result.summary_lines()[1]


def test_a_date_move_says_where_the_date_went(branch, pdf_cache):
    (branch / OLD).unlink()
    write_record(branch, record_data(content=CONTENT, date=datetime.date(2024, 9, 20)), suffix="aaaaaa")
    commit(branch, "更正联系时间")
    _, page = run_review(branch, pdf_cache)
    item = items(page)["2024-09-20-T1-aaaaaa"]
    assert item.attrs["data-kind"] == "移动"
    move = item.all("p", class_="move")[0].text()
    assert "联系时间由 2024年9月15日 改为 2024年9月20日" in move and OLD in move
    diff = item.all("table", class_="diff")[0]
    assert [r.attrs["data-field"] for r in diff.all("tr") if "data-field" in r.attrs] == ["date"]
    assert (branch / "review" / "2024-09-20-T1-aaaaaa.pdf").is_file()


def test_a_leader_s_corrections_count_as_corrections_of_one_record(branch, pdf_cache, run):
    # A new record, corrected on the branch twice (the second time its date, so its file moves) months later.
    path = write_record(branch, record_data(target="学生会", content=CONTENT), suffix="bbbbbb")
    commit(branch, "新增联系记录", "2024-09-16T10:00:00+08:00")
    write_record(branch, record_data(target="学生会", content=CONTENT + "补充。"), suffix="bbbbbb")
    commit(branch, "修改联系记录", "2024-12-20T10:00:00+08:00")
    (branch / path).unlink()
    write_record(
        branch,
        record_data(target="学生会", content=CONTENT + "补充。", date=datetime.date(2024, 9, 14)),
        suffix="bbbbbb",
    )
    commit(branch, "修改联系记录", "2024-12-21T10:00:00+08:00")
    # The record main has, corrected twice.
    for n, text in enumerate(("第一次更正。", "第二次更正。"), 1):
        write_record(branch, record_data(content=CONTENT + text), suffix="aaaaaa")
        commit(branch, f"修改联系记录（{n}）", f"2024-09-1{6 + n}T10:00:00+08:00")

    done = run(branch, "review", "--base", "main", "--cache", str(pdf_cache))
    assert done.exit_code == 0, done.output
    summary = (
        "审核预览：与主分支相比，本次提交改动了 2 条联系记录（新增 1 条、修改 1 条，其中 1 条新增的记录提交后又更正过）"
    )
    assert summary in done.output
    assert "【新增】2024-09-14-T1-bbbbbb 赵某 · 2024年9月14日 · 学生会；提交后又更正 2 次；检查通过" in done.output
    assert "【修改】2024-09-15-T1-aaaaaa 赵某 · 2024年9月15日 · 国旗护卫队；改动：联系内容；更正 2 次；" in done.output
    page = parse(branch / "review" / "index.html")
    assert page.all("p", class_="meta")[0].text().startswith("本次提交与主分支相比")  # words first, hashes after
    found = items(page)
    assert {k: v.attrs["data-kind"] for k, v in found.items()} == {
        "2024-09-14-T1-bbbbbb": "新增",
        "2024-09-15-T1-aaaaaa": "修改",
    }
    new = found["2024-09-14-T1-bbbbbb"]
    steps = [li.text() for li in new.all("details", class_="commits")[0].all("li")]
    assert [s.split(" · ")[-1].rsplit(" ", 1)[0] for s in steps] == ["新增联系记录", "修改联系记录", "修改联系记录"]
    assert [s[:16] for s in steps] == ["2024-09-16 10:00", "2024-12-20 10:00", "2024-12-21 10:00"]
    assert "提交后又更正 2 次" in new.all("p", class_="steps")[0].text()
    # Submitted on time: corrections months later do not make it 补填较晚.
    assert [h.attrs["data-hint"] for h in new.all("li", class_="hint")] == []


def test_a_deletion_shows_the_removed_record_and_its_pdf(branch, pdf_cache):
    (branch / OLD).unlink()
    commit(branch, "删除记录")
    _, page = run_review(branch, pdf_cache)
    item = items(page)["2024-09-15-T1-aaaaaa"]
    assert item.attrs["data-kind"] == "删除"
    assert "被删除的记录" in item.text() and item.all("td", data_field="content")[0].text() == CONTENT
    assert (branch / "review" / "2024-09-15-T1-aaaaaa.pdf").is_file()


def test_an_unchanged_branch_gives_an_empty_review_that_says_so(branch, pdf_cache, run):
    commit(branch, "没有改动记录")
    done = run(branch, "review", "--base", "main", "--cache", str(pdf_cache))
    assert done.exit_code == 0 and "没有改动任何联系记录" in done.output
    page = parse(branch / "review" / "index.html")
    assert not items(page) and "没有新增、修改、移动或删除任何联系记录" in page.all("p", id="empty")[0].text()
    assert sorted(p.name for p in (branch / "review").iterdir()) == [".liaison-review", "index.html"]


def test_a_record_with_errors_lists_them_and_gets_no_pdf(branch, pdf_cache):
    write_record(branch, record_data(leader_id="T9", content=CONTENT), suffix="cccccc")
    commit(branch, "工号不在名单中")
    _, page = run_review(branch, pdf_cache)
    item = items(page)["2024-09-15-T9-cccccc"]
    problems = item.all("li", class_="problem")
    assert [p.attrs["data-field"] for p in problems] == ["leader_id"] and "不在领导干部名单" in problems[0].text()
    assert not (branch / "review" / "2024-09-15-T9-cccccc.pdf").exists() and not item.all("a", class_="pdf")


def test_record_text_is_shown_as_text_never_run(branch, pdf_cache):
    hostile = CONTENT + '<script>alert(1)</script><img src="http://evil.example/x.png">'
    write_record(branch, record_data(content=hostile), suffix="aaaaaa")
    commit(branch, "含标记的内容")
    _, page = run_review(branch, pdf_cache)
    assert not page.all("script") and not page.all("img")
    assert "<script>alert(1)</script>" in items(page)["2024-09-15-T1-aaaaaa"].text()


# 审核提示 ------------------------------------------------------------------------------------

LATE = "2024-12-31T10:00:00+08:00"  # 107 days after 2024-09-15


@pytest.mark.parametrize(
    "hint, record, when, words",
    [
        ("future", {"date": datetime.date(2024, 9, 20)}, "2024-09-16T10:00:00+08:00", "晚于提交日期 2024年9月16日"),
        ("late", {}, LATE, "比提交日期早 107 天（超过 60 天）"),
        ("short", {"content": "座谈。"}, None, "只有 3 字（少于 30 字）"),
        ("duplicate", {"content": CONTENT + "另一次。"}, None, "2024-09-15-T1-aaaaaa"),
        ("size", {"place": "学工处办公室", "size": 40}, None, "含“办公室”，通常不超过 20 人"),
        ("size", {"place": "操场", "size": 2000}, None, "一般不超过 500 人"),
        (
            "inactive",
            {"leader_id": "T4", "leader": "阿依古丽·买买提", "department": "护理学院"},
            None,
            "已标记为离任",
        ),
    ],
)
def test_each_hint_is_shown_for_the_record_that_deserves_it(branch, pdf_cache, hint, record, when, words):
    data = record_data(**{"content": CONTENT, "target": "学生会", **record})
    if hint == "duplicate":
        data["target"] = "国旗护卫队"
    write_record(branch, data, suffix="dddddd")
    commit(branch, "新增", when or "2024-09-16T10:00:00+08:00")
    result, page = run_review(branch, pdf_cache)
    (item,) = items(page).values()
    hints = item.all("li", class_="hint")
    assert [h.attrs["data-hint"] for h in hints] == [hint], [h.text() for h in hints]
    assert words in hints[0].text()
    assert not item.all("li", class_="problem")  # a hint never fails the record
    assert "审核提示" in result.summary_lines()[1]


def test_a_limit_of_zero_turns_its_hint_off_and_config_values_replace_defaults(branch, pdf_cache):
    with (branch / "config.yaml").open("a", encoding="utf-8") as config:
        config.write("review:\n  min_content_chars: 0\n  late_days: 200\n  size_by_place: {教室: 10}\n")
    write_record(branch, record_data(content="座谈。", place="一号教室", size=11, target="学生会"), suffix="dddddd")
    commit(branch, "新增", LATE)
    _, page = run_review(branch, pdf_cache)
    (item,) = items(page).values()
    assert [h.attrs["data-hint"] for h in item.all("li", class_="hint")] == ["size"]


def test_a_config_without_a_review_section_uses_the_defaults(repo):
    assert open_project(repo).config.review == ReviewSettings()


def test_changing_a_hint_setting_keeps_the_pdf_cache():
    import dataclasses

    from liaison.outputs.pdf import renderer_identity

    config = open_project(PROJECT).config
    stricter = dataclasses.replace(config, review=ReviewSettings(late_days=1, size_by_place={}))
    schema = PROJECT / "schema" / "record.yaml"
    assert renderer_identity(PROJECT, schema, stricter) == renderer_identity(PROJECT, schema, config)


def test_a_misspelt_review_setting_fails_check(repo, run):
    with (repo / "config.yaml").open("a", encoding="utf-8") as config:
        config.write("review:\n  late_day: 30\n")
    done = run(repo, "check")
    assert done.exit_code == 1 and "review.late_day" in done.output


@pytest.mark.parametrize("reason", ["导出后发现日期填错，经思政科同意更正", None])
def test_a_change_to_a_closed_semester_shows_its_reopen_reason(branch, pdf_cache, reason):
    with (branch / "config.yaml").open("a", encoding="utf-8") as config:
        config.write("closed_semesters:\n  2024-2025-1: 2025-02-20\n")
    commit(branch, "关闭学期", "2025-02-21T10:00:00+08:00")
    git_at(branch, "2025-02-21T10:00:00+08:00", "branch", "-f", "main")
    write_record(branch, record_data(content=CONTENT + "补充。"), suffix="aaaaaa")
    message = "更正内容" + (f"\n\nReopen-Reason: {reason}" if reason else "")
    commit(branch, message, "2025-03-01T10:00:00+08:00")
    _, page = run_review(branch, pdf_cache)
    item = items(page)["2024-09-15-T1-aaaaaa"]
    closed = [h for h in item.all("li", class_="hint") if h.attrs["data-hint"] == "closed"]
    assert len(closed) == 1 and "已关闭的2024-2025学年第一学期" in closed[0].text()
    problems = [p.text() for p in item.all("li", class_="problem")]
    if reason:
        assert f"重开理由：{reason}" in closed[0].text() and not problems
    else:
        assert "没有写明“Reopen-Reason: 理由”" in closed[0].text()
        assert len(problems) == 1 and "Reopen-Reason" in problems[0]
    assert (branch / "review" / "2024-09-15-T1-aaaaaa.pdf").is_file()  # the record itself is sound


# Whole or absent --------------------------------------------------------------------------


def test_a_failed_build_leaves_the_previous_review_as_it_was(branch, pdf_cache, monkeypatch):
    commit(branch, "空")
    run_review(branch, pdf_cache)
    before = (branch / "review" / "index.html").read_bytes()
    write_record(branch, record_data(target="学生会", content=CONTENT), suffix="bbbbbb")
    commit(branch, "新增记录")

    def broken(*args, **kwargs):
        raise RuntimeError("渲染失败")

    monkeypatch.setattr(review_module, "build_pdfs", broken)
    with pytest.raises(RuntimeError):
        run_review(branch, pdf_cache)
    assert (branch / "review" / "index.html").read_bytes() == before
    assert sorted(p.name for p in branch.iterdir() if p.name.startswith(".review")) == []


def test_a_folder_that_is_not_a_review_is_never_replaced(branch, pdf_cache, run):
    (branch / "review").mkdir()
    (branch / "review" / "笔记.txt").write_text("别删", encoding="utf-8")
    done = run(branch, "review", "--base", "main", "--cache", str(pdf_cache))
    assert done.exit_code == 1 and "已有其他文件" in done.output
    assert (branch / "review" / "笔记.txt").is_file()


@pytest.mark.parametrize("base", ["0" * 40, "no-such-branch"])
def test_a_base_that_names_no_commit_is_an_error_in_chinese(branch, run, base):
    done = run(branch, "review", "--base", base)
    assert done.exit_code == 1 and "找不到提交" in done.output and not (branch / "review").exists()


def test_char_diff_marks_only_what_changed():
    old, new = char_diff("同学们反映食堂价格偏高", "同学们反映宿舍价格偏高")
    assert [t for changed, t in old if changed] == ["食堂"] and [t for changed, t in new if changed] == ["宿舍"]
    assert "".join(t for _, t in old) == "同学们反映食堂价格偏高"


def test_a_second_review_replaces_the_first_whole(branch, pdf_cache):
    write_record(branch, record_data(target="学生会", content=CONTENT), suffix="bbbbbb")
    commit(branch, "新增记录")
    run_review(branch, pdf_cache)
    (branch / "records/2024/2024-09-15-T1-bbbbbb.yaml").unlink()
    write_record(branch, record_data(target="研究生会", content=CONTENT), suffix="cccccc")
    commit(branch, "换一条")
    _, page = run_review(branch, pdf_cache)
    assert list(items(page)) == ["2024-09-15-T1-cccccc"]
    assert sorted(p.name for p in (branch / "review").glob("*.pdf")) == ["2024-09-15-T1-cccccc.pdf"]
    assert not [p for p in branch.iterdir() if p.name.startswith(".review")]


# In a browser ---------------------------------------------------------------------------------


@pytest.fixture
def busy_review(branch, pdf_cache) -> Path:
    """A review with a correction, a deletion and a new record with two hints."""
    write_record(branch, record_data(target="研究生会", content=CONTENT), suffix="cccccc")
    commit(branch, "第二条")
    git_at(branch, "2024-09-16T10:00:00+08:00", "branch", "-f", "main")
    write_record(branch, record_data(content=CONTENT.replace("座谈会", "班会"), size=50), suffix="aaaaaa")
    (branch / "records/2024/2024-09-15-T1-cccccc.yaml").unlink()
    new = record_data(
        target="新生代表", content="座谈。", place="学生处办公室", size=60, date=datetime.date(2024, 9, 3)
    )
    write_record(branch, new, suffix="eeeeee")
    commit(branch, "审核的分支", "2024-09-20T10:00:00+08:00")
    run_review(branch, pdf_cache)
    return branch / "review"


def test_the_review_reads_well_on_a_phone_and_a_desktop_and_loads_nothing_from_outside(busy_review, serve, browser):
    base = serve(busy_review)
    origin = base.split("/group/")[0]
    shots = PROJECT / "docs" if os.environ.get("LIAISON_UPDATE_SCREENSHOTS") else busy_review.parent
    for name, viewport in (("phone", {"width": 390, "height": 844}), ("desktop", {"width": 1280, "height": 900})):
        context = browser.new_context(viewport=viewport, is_mobile=name == "phone")
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda r, seen=requests: seen.append(r.url))
        page.goto(base + "index.html")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], name
        assert page.locator("section.item").count() == 3, page.locator("main").inner_text()[:3000]
        assert page.locator("li.hint").count() >= 2 and page.locator("del").first.is_visible()
        page.screenshot(path=str(shots / f"review-{name}.png"), full_page=True)
        # Chromium's own PDF viewer (chrome:// and chrome-extension://) draws the embedded PDFs.
        web = [u for u in requests if u.split(":", 1)[0] in ("http", "https", "ws", "wss", "ftp")]
        assert web and all(u.startswith(base) for u in web), [u for u in web if not u.startswith(origin)]
        assert {u[len(base) :] for u in web} <= {"index.html"} | {p.name for p in busy_review.glob("*.pdf")}
        context.close()


def test_the_office_s_guide_states_the_default_limits():
    guide = (PROJECT / "docs" / "review.md").read_text(encoding="utf-8")
    defaults = ReviewSettings()
    assert f"| `late_days` | {defaults.late_days} |" in guide
    assert f"| `min_content_chars` | {defaults.min_content_chars} |" in guide
    places = "、".join(f"{k} {v}" for k, v in defaults.size_by_place)
    assert f"| {places}；其他 {defaults.max_size} |" in guide
