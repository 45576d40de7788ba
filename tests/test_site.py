"""The static site, in headless Chromium and by a crawler: the requirement's queries, safety, links, phones."""

from __future__ import annotations

import datetime
import html.parser
import re
import shutil
import urllib.error
import urllib.parse
import urllib.request

import pytest
import yaml
from conftest import PROJECT, commit_all, record_data, records_by_hand, write_record

from liaison.core.project import open_project
from liaison.outputs.site import build_site

D = datetime.date
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.dialogs, page.failures = [], []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: page.failures.append(str(error)))
    page.on("response", lambda r: page.failures.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("requestfailed", lambda r: page.failures.append(f"failed {r.url}"))
    yield page
    context.close()


def result_ids(page) -> list[str]:
    page.wait_for_function("document.getElementById('status').hasAttribute('data-count')")
    page.wait_for_function(
        "document.querySelectorAll('#results article').length == "
        "Math.min(100, +document.getElementById('status').dataset.count)"
    )
    return page.eval_on_selector_all("#results article", "nodes => nodes.map(n => n.dataset.id)")


def semester_bounds(name: str) -> tuple[D, D]:
    meta = yaml.safe_load((PROJECT / "config.yaml").read_text(encoding="utf-8"))
    from liaison.core.semesters import Calendar, parse_semester_id

    calendar = Calendar(meta.get("semester_starts"))
    semester = parse_semester_id(name)
    return calendar.start(semester), calendar.end(semester)


def wait_for_search(page, previous_runs: int | None = None):
    page.wait_for_function("document.getElementById('status').hasAttribute('data-count')")


def test_leader_and_semester_give_query_2_1_in_both_orders(demo_site, serve, page):
    base = serve(demo_site)
    page.goto(base + "index.html")
    result_ids(page)
    page.fill("input[name=leader]", "赵敏")
    page.click("text=2025-2026学年第一学期")
    start, end = semester_bounds("2025-2026-1")
    zhao = next(
        e
        for e in yaml.safe_load((PROJECT / "roster.yaml").read_text(encoding="utf-8"))["leaders"]
        if e["name"] == "赵敏"
    )
    expected = [r["id"] for r in records_by_hand(PROJECT, zhao["id"], start, end)]
    page.wait_for_function(f"document.getElementById('status').dataset.count == '{len(expected)}'")
    assert result_ids(page) == expected and len(expected) >= 2
    page.select_option("select[name=order]", "desc")
    page.wait_for_function(f"document.querySelector('#results article').dataset.id == '{expected[-1]}'")
    assert result_ids(page) == list(reversed(expected))
    # The query is kept in the URL: opening it again gives the same results.
    page.goto(page.url)
    assert result_ids(page) == list(reversed(expected))
    assert page.failures == []


def test_each_result_shows_every_field(demo_site, serve, page):
    page.goto(serve(demo_site) + "index.html?leader=T2012003&from=2025-08-01&to=2026-02-22")
    ids = result_ids(page)
    labels = [
        rules["meta"]["label"]
        for rules in yaml.safe_load((PROJECT / "schema" / "record.yaml").read_text(encoding="utf-8")).values()
    ]
    first = page.locator("#results article").first
    assert first.locator("dt").all_text_contents() == labels
    record = next(r for r in records_by_hand(PROJECT) if r["id"] == ids[0])
    assert record["content"].split("\n")[0] in first.inner_text()
    assert first.locator("a", has_text="PDF").get_attribute("href").endswith(f"records/{ids[0]}.pdf")


def test_a_date_range_alone_gives_query_2_2(demo_site, serve, page):
    page.goto(serve(demo_site) + "index.html?from=2025-10-01&to=2026-03-31")
    expected = [r["id"] for r in records_by_hand(PROJECT, None, D(2025, 10, 1), D(2026, 3, 31))]
    assert result_ids(page) == expected and len({r.split("-T")[1][:8] for r in expected}) > 3


def test_a_two_character_substring_from_the_middle_finds_its_record(demo_site, serve, page):
    records = records_by_hand(PROJECT)
    target = records[len(records) // 2]
    middle = len(target["content"]) // 2
    text = target["content"][middle : middle + 2]
    assert text.strip() == text and len(text) == 2
    page.goto(serve(demo_site) + "index.html")
    result_ids(page)
    page.click("text=全部时间")
    page.fill("input[name=q]", text)
    expected = [r["id"] for r in records_by_hand(PROJECT, text=text)]
    page.wait_for_function(f"document.getElementById('status').dataset.count == '{len(expected)}'")
    ids = result_ids(page)
    assert target["id"] in ids and ids == expected[:100]


def test_the_first_search_loads_one_semester_not_everything(demo_site, serve, page):
    loaded = []
    page.on("request", lambda r: loaded.append(r.url.rsplit("/", 1)[1]) if "/data/" in r.url else None)
    page.goto(serve(demo_site) + "index.html")
    result_ids(page)
    chunks = [name for name in loaded if name != "meta.js"]
    meta = load_data_files(demo_site)["meta"]
    current = next(s for s in meta["semesters"] if s["id"] == meta["current"])
    # The current semester's file only (none if it has no records yet), never the others.
    assert chunks == ([f"semester-{current['id']}.js"] if current["count"] else [])
    assert int(page.get_attribute("#status", "data-count")) == current["count"]


@pytest.fixture
def hostile_site(repo, tmp_path):
    shutil.copytree(PROJECT / "templates", repo / "templates")
    shutil.copytree(PROJECT / "site", repo / "site")
    write_record(repo, record_data(date=D(2024, 9, 15), content=HOSTILE, target=HOSTILE, remarks="</script>"))
    commit_all(repo)
    out = tmp_path / "public"
    build_site(open_project(repo), out, tmp_path / "cache")
    return out


def test_markup_in_a_record_is_shown_as_text_and_runs_nothing(hostile_site, serve, page):
    page.goto(serve(hostile_site) + "index.html?from=2024-09-01&to=2024-09-30")
    assert len(result_ids(page)) == 1
    card = page.locator("#results article").first
    assert HOSTILE in card.locator(".f-content dd").inner_text()
    assert page.locator("#results img").count() == 0 and page.locator("#results script").count() == 0
    page.click("#results article h2 a")
    page.wait_for_load_state()
    assert HOSTILE in page.locator(".f-content dd").inner_text()
    assert page.locator("main img").count() == 0
    page.wait_for_timeout(300)
    assert page.dialogs == []


def test_it_works_from_the_file_system(demo_site, page):
    page.goto((demo_site / "index.html").as_uri() + "?from=2025-08-01&to=2027-01-31")
    assert len(result_ids(page)) > 10
    assert page.failures == []


def test_it_fits_a_phone_screen(demo_site, serve, browser):
    context = browser.new_context(viewport={"width": 375, "height": 800}, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    base = serve(demo_site)
    for path in ("index.html", "overview.html", "leaders.html", "leaders/T2012003.html", "downloads.html"):
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (path, width)
    context.close()


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)


def test_every_link_on_every_page_resolves_from_a_sub_path(demo_site, serve):
    base = serve(demo_site)
    seen, queue, broken = set(), [base + "index.html"], []
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        try:
            with urllib.request.urlopen(url) as response:
                body = response.read()
                kind = response.headers.get_content_type()
        except urllib.error.HTTPError as err:
            broken.append(f"{err.code} {url}")
            continue
        if kind != "text/html":
            continue
        parser = _Links()
        parser.feed(body.decode("utf-8"))
        for link in parser.links:
            target = urllib.parse.urljoin(url, link).split("#")[0].split("?")[0]
            assert target.startswith(base), f"{url} links outside the site: {link}"
            queue.append(target)
    assert broken == []
    pages = [u for u in seen if u.endswith(".html")]
    assert len([u for u in pages if "/records/" in u]) == len(records_by_hand(PROJECT))
    assert any(u.endswith(".pdf") for u in seen) and any(u.endswith(".xlsx") for u in seen)


def test_no_resource_is_loaded_from_outside(demo_site):
    for path in demo_site.rglob("*"):
        if path.suffix in (".html", ".css", ".js"):
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"(src|href)=\"(https?:)?//", text), path
            assert "@import" not in text and "url(http" not in text, path


def load_data_files(site) -> dict:
    """Run the data scripts' calls in Python: LIAISON.<call>("key", payload);"""
    import json

    found = {}
    for path in (site / "data").glob("*.js"):
        match = re.fullmatch(r'LIAISON\.(meta|chunk)\(("[^"]*"),(.*)\);\n', path.read_text(encoding="utf-8"), re.S)
        assert match, path
        found[json.loads(match[2])] = json.loads(match[3])
    return found


def test_data_files_hold_every_record_once_per_semester_and_per_leader(demo_site):
    data = load_data_files(demo_site)
    meta = data["meta"]
    everything = {r["id"] for r in records_by_hand(PROJECT)}
    semester_ids = [row[0] for key, rows in data.items() if key.startswith("semester:") for row in rows]
    leader_ids = [row[0] for key, rows in data.items() if key.startswith("leader:") for row in rows]
    assert sorted(semester_ids) == sorted(everything) == sorted(leader_ids)
    keys = [f["key"] for f in meta["fields"]]
    assert keys == list(yaml.safe_load((PROJECT / "schema" / "record.yaml").read_text(encoding="utf-8")))
    assert sum(s["count"] for s in meta["semesters"]) == len(everything)
    namesakes = [entry["label"] for entry in meta["leaders"] if entry["name"] == "张伟"]
    assert sorted(namesakes) == ["张伟（基础医学院）", "张伟（学生工作处）"]


def test_build_command_replaces_its_own_output_but_not_other_folders(repo, run, tmp_path):
    shutil.copytree(PROJECT / "templates", repo / "templates")
    shutil.copytree(PROJECT / "site", repo / "site")
    write_record(repo, record_data())
    out = tmp_path / "public"
    first = run(repo, "build", "--out", str(out), "--cache", str(tmp_path / "cache"))
    assert first.exit_code == 0, first.output
    (out / "stale.html").write_text("old", encoding="utf-8")
    assert run(repo, "build", "--out", str(out), "--cache", str(tmp_path / "cache")).exit_code == 0
    assert not (out / "stale.html").exists() and (out / "index.html").exists()
    other = tmp_path / "documents"
    other.mkdir()
    (other / "note.txt").write_text("x", encoding="utf-8")
    refused = run(repo, "build", "--out", str(other))
    assert refused.exit_code != 0 and (other / "note.txt").exists()


@pytest.mark.parametrize("maximum", [0, 1, 3, 7, 10, 37, 120, 999])
def test_chart_ticks_cover_the_largest_value(maximum):
    from liaison.outputs.site.bars import nice_ticks

    ticks = nice_ticks(maximum)
    assert ticks[0] == 0 and ticks[-1] >= maximum and ticks == sorted(set(ticks)) and len(ticks) <= 6
