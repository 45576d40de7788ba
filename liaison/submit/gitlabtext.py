"""A leader's words where GitLab reads them: merge request titles, descriptions and commit messages, made inert.

GitLab does more with text than show it. In a title, a description or a
commit message, ``@all`` notifies everyone, ``#1`` and ``!2`` reference an
issue and a merge request (``Closes #1`` closes one on merge), ``~label``
and ``%milestone`` link them, an HTML entity such as ``&commat;all`` becomes
``@all`` before those are looked for, ``![](http://…)`` makes every reader's
browser fetch an outside image, and a description line that starts with
``/merge``, ``/label`` or ``/approve`` runs that quick action when the merge
request is made. What the form and the import send is therefore made inert
for each reader:

* **Descriptions** put the values in an *indented code block* (four spaces
  before every line), after a heading of our own. GitLab's Markdown renders no link, image or HTML
  inside code, and its reference filters skip ``pre`` and ``code`` (Banzai's
  ``ReferenceFilter``: "References within <pre>, <code>, <a>, and <style>
  elements are ignored"). Its quick-action reader
  (``Gitlab::QuickActions::Extractor``) only acts on a ``/`` at the very
  start of a line, which no line of the leader's text has. A fenced block
  would not do alone: the reader ends a fence at the first line that is
  exactly three backticks, whatever the fence's length, so a text holding
  such a line would reopen the door. The push option carries line breaks as
  a literal ``\\n`` (GitLab turns it into one), so a backslash in the text
  becomes full-width and the text cannot start a line of its own.
* **Titles and commit messages** are one line that GitLab renders with its
  single-line Markdown and scans for mentions, references and closing
  words, and code would show its backticks in every e-mail subject: there,
  the characters that give text a meaning to GitLab (``@ # ! ~ % $ & ^ * [ ]
  < > ` _ \\ : | { }``) become their full-width forms (＠ ＃ ！ …), which read
  the same to a person and mean nothing to GitLab, and ``www.`` loses its
  dot so that no link is made.

``tests/test_gitlab_text.py`` renders both with cmark-gfm (the CommonMark
and GFM implementation GitLab's Markdown follows) and applies GitLab's own
reference and quick-action patterns to what comes out.
"""

from __future__ import annotations

import re

# ASCII characters that GitLab's Markdown, references or quick actions give a meaning to.
_MEANINGFUL = "@#!~%$&^*[]<>`_\\:|{}"
_FULL_WIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in _MEANINGFUL})
_WWW = re.compile(r"(?i)\b(www)\.")
CODE_INDENT = "    "


def inert_line(text: str) -> str:
    """``text`` as one line with nothing GitLab would act on: spaces collapsed, meaningful characters full-width."""
    line = " ".join(text.replace("\0", " ").split())
    return _WWW.sub(r"\1．", line.translate(_FULL_WIDTH))


def description(pairs: list[tuple[str, str]], heading: str = "记录摘要") -> str:
    """The merge request's description from (label, value) pairs, as one push option value.

    ``heading``, then one indented code block of ``label：value`` lines (a
    value's further lines indented under it). The heading is ours and comes
    first so that the block never starts the text: were GitLab to trim the
    description, a block at its start would lose its first indent and turn
    into a paragraph. Lines are joined with a literal ``\\n`` (git refuses
    a push option holding a newline; GitLab turns ``\\n`` into one).
    """
    lines: list[str] = []
    for label, value in pairs:
        first, *more = _plain(value).split("\n")
        lines.append(f"{_plain(label)}：{first}")
        lines += [f"  {line}" for line in more]
    block = [CODE_INDENT + line if line.strip() else "" for line in lines]
    return "\\n".join([f"**{inert_line(heading)}**", "", *block])


def _plain(text: str) -> str:
    """The text's own line breaks kept; a backslash full-width (so the text makes no ``\\n`` of its own), NUL and
    carriage returns gone (git refuses NUL in a push option; GitLab's quick-action reader deletes ``\\r``)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\0", " ")
    return text.replace("\\", "＼").strip("\n")
