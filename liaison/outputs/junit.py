"""JUnit XML for ``check --format junit``: GitLab shows it in the merge request's test report."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from liaison.core.problems import Problem


def junit_xml(problems: list[Problem], files: list[str]) -> bytes:
    """One test case per file checked; a file with problems fails with all of them listed."""
    by_file: dict[str, list[Problem]] = defaultdict(list)
    for problem in problems:
        by_file[problem.path].append(problem)
    failed = sum(1 for f in files if by_file.get(f))
    suites = ET.Element("testsuites", name="liaison check", tests=str(len(files)), failures=str(failed))
    suite = ET.SubElement(suites, "testsuite", name="记录检查", tests=str(len(files)), failures=str(failed), errors="0")
    for path in files:
        case = ET.SubElement(suite, "testcase", classname=path.rsplit("/", 1)[0] if "/" in path else ".", name=path)
        found = by_file.get(path)
        if found:
            failure = ET.SubElement(
                case, "failure", message=f"{len(found)} 处问题：{found[0].message}", type="liaison.check"
            )
            failure.text = "\n".join(p.format() for p in found)
    ET.indent(suites)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True) + b"\n"
