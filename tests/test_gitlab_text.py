"""A leader's words in GitLab: no mention, reference, label, quick action or outside image (issue 27.7).

The title and description are rendered with cmark-gfm (CommonMark + GFM, raw HTML let through as GitLab's
allow-list lets ``<img>`` through), and GitLab's own patterns are applied where GitLab applies them: the
reference filters to text outside ``pre``/``code``/``a`` (Banzai's ReferenceFilter), the quick-action reader
to the description's raw text (Gitlab::QuickActions::Extractor's regular expression, ported below).
"""

from __future__ import annotations

import html.parser
import re

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options
from conftest import good_form, proxy_headers
from hypothesis import given, settings
from hypothesis import strategies as st
from webclient import Client

from liaison.submit.gitlabtext import description, inert_line

# GitLab's reference patterns (app/models: User, Issue, MergeRequest, Label, Milestone, Snippet, Epic, …),
# the closing words (Gitlab::ClosingIssueExtractor) and its autolinks: what must never be found in the text.
REFERENCES = {
    "mention": re.compile(r"(?<![\w`])@[\w.-]+"),
    "issue": re.compile(r"(?<![\w&])#\d+|[\w.-]+/[\w.-]+#\d+"),
    "merge request": re.compile(r"(?<!\w)!\d+"),
    "label": re.compile(r"(?<!\w)~(\w+|\"[^\"]+\")"),
    "milestone": re.compile(r"(?<!\w)%(\w+|\"[^\"]+\")"),
    "snippet or epic": re.compile(r"(?<!\w)[$&]\d+"),
    "alert or iteration": re.compile(r"\^alert#\d+|\*iteration:\d+|\[vulnerability:\d+\]"),
    "closing words": re.compile(r"(?i)\b(close[sd]?|fix(e[sd])?|resolve[sd]?)\b:?\s+\S*#\d+"),
    "url": re.compile(r"[a-z][a-z0-9+.-]*://|(?i:\bwww\.)"),
}

# Gitlab::QuickActions::Extractor#commands_regex, in Python: Ruby's /m is DOTALL and its ^ $ always match at
# lines; code blocks, HTML blocks and >>> quotes are skipped, a command is a / at a line's very start.
QUICK_ACTION = re.compile(
    r"(?P<code>^```.+?\n```$)|(?P<html>^<[^>]+?>\n.+?\n</[^>]+?>$)|(?P<quote>^>>>.+?\n>>>$)"
    r"|(?:^/(?P<cmd>[a-z_]+)(?:[ ](?P<arg>[^\n]*))?(?:\s*\n|$))",
    re.M | re.S | re.I,
)


class _Rendered(html.parser.HTMLParser):
    """The rendered HTML's tags, and its text outside pre/code/a (where GitLab looks for references)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.open: list[str] = []
        self.outside: list[str] = []
        self.inside: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in ("br", "hr", "img"):
            self.open.append(tag)

    def handle_endtag(self, tag):
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]

    def handle_data(self, data):
        (self.inside if set(self.open) & {"pre", "code", "a"} else self.outside).append(data)


def render(markdown: str) -> _Rendered:
    parsed = _Rendered()
    parsed.feed(cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE))
    return parsed


def as_gitlab_reads(option_value: str) -> str:
    """What GitLab makes of merge_request.description: a literal \\n becomes a line break (PushOptionsHandlerService)."""
    return option_value.replace("\\n", "\n")


def acted_on(text: str) -> list[str]:
    """Everything GitLab would act on in rendered text outside code: mentions, references, links."""
    return [f"{name}: {m.group()}" for name, pattern in REFERENCES.items() for m in pattern.finditer(text)]


def assert_description_inert(option_value: str, leader_text: str) -> None:
    markdown = as_gitlab_reads(option_value)
    assert "\n" not in option_value and "\0" not in option_value  # git refuses either in a push option
    commands = [m.group("cmd") for m in QUICK_ACTION.finditer(markdown.replace("\r", "")) if m.group("cmd")]
    assert commands == []
    page = render(markdown)
    assert set(page.tags) <= {"p", "strong", "pre", "code"}, page.tags
    assert acted_on(" ".join(page.outside)) == []
    shown = "".join(page.inside)
    for line in leader_text.replace("\\", "＼").split("\n"):
        assert line.strip() in shown  # the reviewer still reads every word


def assert_title_inert(title: str) -> None:
    assert "\n" not in title
    page = render(title)
    assert set(page.tags) <= {"p"}, page.tags
    assert acted_on(" ".join(page.outside)) == []


HOSTILE = [
    "@all 请大家看 #1 !2 ~label %里程碑 $3 &4",
    "&commat;all &#64;all &#x40;all",
    "\\@all 与 \\#1",
    "第一行\n/merge\n/label ~accepted\n/approve",
    "```\n/merge\n```\n/approve",
    "````\n```\n/merge",
    ">>>\n/merge\n>>>\n/close",
    "<div>\n/merge\n</div>\n/approve",
    "![](http://evil.example/track.png) <img src=http://evil.example/x.png>",
    "[点我](javascript:alert(1)) <https://gitlab.example/group/p/-/issues/1>",
    "www.gitlab.example/group/p/-/issues/1 https://gitlab.example/group/p/-/merge_requests/2",
    "Closes #1, fixes group/project#2",
    "abc\\n/merge",
    "    /merge 缩进\n\t/approve",
    "$$\n/merge\n$$ [[_TOC_]] {+ 加 +} [- 减 -]",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_in_the_description_is_shown_and_does_nothing(text):
    assert_description_inert(description([("联系对象", "学生会"), ("联系内容", text)]), text)


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_in_a_title_does_nothing(text):
    assert_title_inert(inert_line(f"赵某 2024-10-08 联系{text}"))


GITLAB_CHARACTERS = st.sampled_from(list("@#!~%$&^*[]<>`_\\:|{}/()-+=.;'\"\n\t ") + ["all", "www.", "://", "&commat;"])
TEXT = st.lists(st.one_of(GITLAB_CHARACTERS, st.text(alphabet="ab1联系", min_size=1, max_size=3)), max_size=40).map(
    "".join
)


@settings(max_examples=300, deadline=None)
@given(TEXT, TEXT)
def test_no_text_does_anything_in_a_description_or_a_title(target, content):
    assert_description_inert(description([("联系对象", target), ("联系内容", content)]), content)
    assert_title_inert(inert_line(f"赵某 2024-10-08 联系{target}"))


def test_the_form_sends_the_leaders_words_inert_in_title_description_and_commit(form_repo, make_app, live, tmp_path):
    from conftest import git

    app = make_app(form_repo, start_worker=False)
    client = Client(live(app), proxy_headers("zhao"))
    target = "@all #1 !2 ~label &commat;all"
    content = "汇报 Closes #1\n/merge\n/label ~accepted\n![](http://evil.example/x.png)\n```\n/approve"
    hidden = client.new_form()
    reply = client.post("/new", {**hidden, **good_form(target=target, content=content)})
    assert reply.status == 303, reply.text[:300]
    assert app.config["LIAISON_SUBMITTER"].flush()
    remote = tmp_path / "data" / "remote.git"
    options = dict(
        line.removeprefix("option ").split("=", 1)
        for line in (remote / "push-options.log").read_text(encoding="utf-8").splitlines()
        if line.startswith("option ") and "=" in line
    )
    assert options["merge_request.title"] == "赵某 2024-10-08 联系＠all ＃1 ！2 ～label ＆commat;all"
    assert_title_inert(options["merge_request.title"])
    assert_description_inert(options["merge_request.description"], content)
    branch = git(remote, "for-each-ref", "--format=%(refname:short)", "refs/heads/record/")
    message = git(remote, "log", "-1", "--format=%B", branch)
    assert acted_on(message.split("Submission-Token")[0]) == []


def test_an_imported_files_name_does_nothing_in_the_title_or_the_commit_message():
    from liaison.core.importplan import FileReport, ImportPlan
    from liaison.submit.importcommit import commit_message, push_options

    name = "Closes #1 @all ~label ![](http://evil.example/x.png).xlsx"
    plan = ImportPlan([FileReport(name, "0" * 64, sheet="表2 @all")])
    title = next(o for o in push_options(plan, "main", ()) if o.startswith("merge_request.title="))
    assert_title_inert(title.removeprefix("merge_request.title="))
    assert acted_on(commit_message(plan)) == []
