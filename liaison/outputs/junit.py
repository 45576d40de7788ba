"""JUnit XML for ``check --format junit``: GitLab shows it in the merge request's test report."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict

from liaison.core.problems import Problem
from liaison.core.terminal import visible

# What XML 1.0 cannot hold even as a character reference (after ``visible`` has written the controls as
# escapes): the noncharacters U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\ufffe\uffff]")


def _xml_text(text: str) -> str:
    """``text`` as XML can hold it: a file name in a merge request may carry control characters, bytes that
    are not UTF-8 or noncharacters; one of them would make the whole report unreadable to GitLab."""
    return _NOT_XML.sub(lambda match: f"\\u{ord(match[0]):04x}", visible(text))


def junit_xml(problems: list[Problem], files: list[str]) -> bytes:
    """One test case per file checked; a file with problems fails with all of them listed."""
    by_file: dict[str, list[Problem]] = defaultdict(list)
    for problem in problems:
        by_file[problem.path].append(problem)
    failed = sum(1 for f in files if by_file.get(f))
    suites = ET.Element("testsuites", name="liaison check", tests=str(len(files)), failures=str(failed))
    suite = ET.SubElement(suites, "testsuite", name="记录检查", tests=str(len(files)), failures=str(failed), errors="0")
    for path in files:
        shown = _xml_text(path)
        case = ET.SubElement(suite, "testcase", classname=shown.rsplit("/", 1)[0] if "/" in shown else ".", name=shown)
        found = by_file.get(path)
        if found:
            failure = ET.SubElement(
                case, "failure", message=_xml_text(f"{len(found)} 处问题：{found[0].message}"), type="liaison.check"
            )
            failure.text = _xml_text("\n".join(p.format() for p in found))
    ET.indent(suites)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True) + b"\n"
