"""A problem found in the data: where it is and what the person should do about it.

Problems are values, not exceptions (style rule 7): loaders and checks return
lists of them, and the CLI, the JUnit report and (later) the web form print
them. Messages are Chinese because the office and the leaders read them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with one file.

    ``path`` is relative to the repository root with forward slashes;
    ``line`` is 1-based or None when the problem concerns the whole file;
    ``field`` is the record key (or a dotted path in the roster/config) and
    ``label`` its Chinese label, both empty when no single field is at fault.
    """

    path: str
    line: int | None
    field: str
    label: str
    message: str

    def sort_key(self) -> tuple:
        return (self.path, self.line or 0, self.field, self.message)

    def format(self) -> str:
        """``path:line: label(key): message``, the form editors and CI logs link."""
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        if self.field:
            subject = f"{self.label}({self.field})" if self.label else self.field
            return f"{where}: {subject}: {self.message}"
        return f"{where}: {self.message}"


def sorted_problems(problems: list[Problem]) -> list[Problem]:
    """Problems in a stable order: by file, then line, so output is deterministic."""
    return sorted(set(problems), key=Problem.sort_key)


def summary_line(problems: list[Problem], files_checked: int) -> str:
    """The one-line summary printed after the problems."""
    if not problems:
        return f"检查通过：{files_checked} 个文件，没有发现问题。"
    files = len({p.path for p in problems})
    return (
        f"检查未通过：{files_checked} 个文件中有 {files} 个文件存在问题，"
        f"共 {len(problems)} 处。请按上面的提示逐条修改后重新检查。"
    )
