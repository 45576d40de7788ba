"""``build.py import``: the planned new records as one commit on a new branch, ready for a merge request.

The records go through review like every other change: the commit is built
on ``HEAD`` without touching the working tree (the blobs as one pack, a
temporary index, ``write-tree``, ``commit-tree``), on a new branch ``import/<date>-<hash>``,
and its message names each source file with its SHA-256, so the audit trail
says where the records came from. It is pushed with the merge-request push
options the form uses (``--push``), or the command to push is printed.
Nothing is written when a file cannot be read, with ``--dry-run``, or when
no row is new.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from liaison.core.config import WebSettings
from liaison.core.importplan import ImportContext, ImportPlan, plan_import
from liaison.core.project import Project
from liaison.core.records import list_record_files
from liaison.core.sheets import Limits
from liaison.git.checkcache import cached_reader
from liaison.git.closed import REOPEN, semesters_closed_now
from liaison.git.repo import GitError, Repo
from liaison.submit.gitlabtext import inert_line

IMPORT_TRAILER = "Import-Source"


class ImportRefused(Exception):
    """The import cannot be written (not a git repository, a dirty records/, a taken branch name); Chinese."""


@dataclass
class ImportOutcome:
    plan: ImportPlan
    branch: str = ""
    commit: str = ""
    target: str = "main"
    push_options: list[str] = field(default_factory=list)
    pushed: bool = False
    earlier: bool = False  # the branch was made by an earlier run of the same import (nothing committed now)


def import_files(
    project: Project,
    files: list[Path],
    sheet: str | None = None,
    dry_run: bool = False,
    branch: str | None = None,
    reopen_reason: str = "",
    push: bool = False,
) -> ImportOutcome:
    """Plan the import of ``files`` and, unless a dry run, commit the new records on a new branch.

    Example: ``import_files(open_project(Path(".")), [Path("docs/import-sample.xlsx")], dry_run=True)``.
    """
    repo = Repo(project.root)
    plan = plan_import(_sources(files), _context(project, reopen_reason), sheet)
    web = project.config.web if project.config else WebSettings()
    outcome = ImportOutcome(plan, target=web.target_branch)
    if dry_run or plan.file_errors or not plan.new_rows:
        return outcome
    outcome.branch = branch or default_branch(plan, project.today().strftime("%Y%m%d"))
    try:
        # Inside: git status writes the index too, and on a full disk it fails before anything is committed.
        head = _clean_head(repo)
        tree = _tree(repo, head, plan)
        earlier = _same_import(repo, outcome.branch, head, tree)
        if earlier:  # the same import run again (to add --push): the branch it made is the one to push
            outcome.commit, outcome.earlier = earlier, True
        else:
            _check_branch(repo, outcome.branch)
            outcome.commit = repo.text(
                "commit-tree", tree, "-p", head, "-F", "-", input=commit_message(plan, reopen_reason).encode()
            )
            repo.run("update-ref", f"refs/heads/{outcome.branch}", outcome.commit, "0" * 40)
    except GitError as err:
        raise ImportRefused(
            f"提交失败，没有写入任何内容：{err.stderr or err}。若提示“Please tell me who you are”，"
            "请先用 git config user.name 和 git config user.email 设置姓名和邮箱（会作为作者记入审计）。"
        ) from None
    outcome.push_options = push_options(plan, outcome.target, web.labels)
    if push:
        _push(repo, outcome.branch, outcome.push_options)
        outcome.pushed = True
    return outcome


def _sources(files: list[Path]) -> list[tuple[str, bytes]]:
    """Each file's name as given and its bytes: one byte past the size limit at most (the reader refuses it)."""
    limit = Limits.from_environment().file_bytes
    sources = []
    for path in files:
        try:
            if not stat.S_ISREG(mode := os.stat(path).st_mode) and not stat.S_ISDIR(mode):  # a FIFO would wait forever
                raise ImportRefused(f"{path} 不是普通文件（可能是管道或设备），无法导入。请换成 .xlsx 或 .csv 文件。")
            with open(path, "rb") as file:
                sources.append((str(path), file.read(limit + 1)))
        except IsADirectoryError:
            sources.append((str(path), b""))  # reported by the reader as an empty file
        except FileNotFoundError:
            raise ImportRefused(f"找不到文件 {path}，请检查路径。") from None
    return sources


def _context(project: Project, reopen_reason: str) -> ImportContext:
    if project.roster is None or project.config is None:
        raise ImportRefused("config.yaml 或 roster.yaml 有问题，无法导入。请先运行 python build.py check 查看并修改。")
    with cached_reader(project) as reader:  # the check cache: the same records, without parsing 10,000 files
        existing, _ = reader(project, list_record_files(project.root)[0])
    calendar = project.config.calendar
    # Closed now (a closed/ tag, or the configured day has come): an imported row there needs a reason.
    closed = semesters_closed_now(project)
    titles = {semester: semester.title for semester in closed}

    def closed_title(day):
        return titles.get(calendar.semester_of(day))

    return ImportContext(project.schema, project.roster, project.today(), existing, closed_title, reopen_reason)


def default_branch(plan: ImportPlan, day: str) -> str:
    """``import/<YYYYMMDD>-<8 hex>``: the same files give the same name, so importing twice is noticed."""
    combined = hashlib.sha256("".join(sorted({r.sha256 for r in plan.files})).encode()).hexdigest()
    return f"import/{day}-{combined[:8]}"


def _clean_head(repo: Repo) -> str:
    if not repo.is_repository():
        raise ImportRefused(f"{repo.root} 不是 Git 仓库，无法提交导入的记录。可先加 --dry-run 只检查。")
    head = repo.resolve("HEAD")
    if head is None:
        raise ImportRefused("仓库还没有任何提交，请先提交一次再导入。")
    if repo.text("status", "--porcelain", "--untracked-files=all", "--", "records"):
        raise ImportRefused("records/ 中有未提交的改动。导入是和已提交的记录比对的，请先提交或撤销这些改动再导入。")
    return head


def _check_branch(repo: Repo, branch: str) -> None:
    if not repo.attempt("check-ref-format", "--branch", branch).ok:
        raise ImportRefused(f"“{branch}”不能用作分支名，请换一个（如 import/2024-秋季），用 --branch 指定。")
    if repo.resolve(f"refs/heads/{branch}"):
        raise ImportRefused(
            f"分支 {branch} 已经存在，但其中的提交与这次导入不同（此后主分支有了新提交，或文件改过）。"
            "若它已推送、正等待审核，请在合并后再导入（已导入的行会显示“已存在”）；"
            "确需重新导入，请先删除该分支（git branch -D），或用 --branch 指定新的分支名。"
        )


def _tree(repo: Repo, head: str, plan: ImportPlan) -> str:
    """The tree of ``head`` with the new records added (written to the object store, no working tree touched)."""
    rows = plan.new_rows
    if len({row.path for row in rows}) != len(rows):  # the plan refuses such rows: one file never stands for two
        raise ImportRefused("两行新记录要写入同一个文件，导入已停止，没有写入任何内容。请把这份报告转给管理员。")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        blobs = _store_blobs(repo, [row.raw for row in rows], folder / "marks")
        index = {"GIT_INDEX_FILE": str(folder / "index")}
        repo.run("read-tree", head, env=index)
        entries = "".join(f"100644 {blob}\t{row.path}\n" for blob, row in zip(blobs, rows, strict=True))
        repo.run("update-index", "--index-info", env=index, input=entries.encode("utf-8"))
        return repo.text("write-tree", env=index)


def _same_import(repo: Repo, branch: str, head: str, tree: str) -> str:
    """The commit on ``branch`` when it holds exactly this import on ``head`` (same parent, same tree), else ''."""
    found = repo.attempt("rev-parse", "-q", "--verify", f"refs/heads/{branch}^{{commit}}")
    if not found.ok:
        return ""
    parents = repo.text("rev-list", "--parents", "-n", "1", found.text).split()[1:]
    same = parents == [head] and repo.text("rev-parse", f"{found.text}^{{tree}}") == tree
    return found.text if same else ""


def _store_blobs(repo: Repo, contents: list[bytes], marks: Path) -> list[str]:
    """The blob id of each content, all written as one pack by ``git fast-import``.

    ``hash-object -w`` writes a loose file per object: 10,000 of them took
    7.6 s here, the pack 0.8 s.
    """
    stream = b"".join(b"blob\nmark :%d\ndata %d\n%s\n" % (n, len(raw), raw) for n, raw in enumerate(contents, 1))
    repo.run("fast-import", "--quiet", f"--export-marks={marks}", input=stream)
    found = dict(line.split() for line in marks.read_text(encoding="ascii").splitlines())
    return [found[f":{n}"] for n in range(1, len(contents) + 1)]


def commit_message(plan: ImportPlan, reopen_reason: str = "") -> str:
    """Title, each source file with its SHA-256 and what came from it, and one trailer per file."""
    new = plan.new_rows
    files = len({report.name for report in plan.files})
    lines = [f"导入联系记录 {len(new)} 条（来自 {files} 个文件）", "", "来源文件："]
    for report in plan.files:
        sheet = f"，工作表“{inert_line(report.sheet)}”" if report.sheet else ""
        lines.append(f"  {inert_line(report.name)}{sheet}，SHA-256 {report.sha256}：新增 {report.count('new')} 条")
    lines += ["", "由 python build.py import 生成；每条记录已按 check 的规则检查。", ""]
    # A file's name comes from whoever sent it: GitLab must not read "Closes #1" or "@all" in it (the hash names it).
    sources = dict.fromkeys((inert_line(Path(report.name).name), report.sha256) for report in plan.files)
    lines += [f"{IMPORT_TRAILER}: {name} sha256:{digest}" for name, digest in sources]
    if reopen_reason:
        lines.append(f"{REOPEN}: {' '.join(reopen_reason.split())}")
    return "\n".join(lines) + "\n"


def push_options(plan: ImportPlan, target: str, labels: tuple[str, ...]) -> list[str]:
    """GitLab's merge-request push options, as the form sends them."""
    names = "、".join(dict.fromkeys(Path(report.name).name for report in plan.files))
    options = [
        "merge_request.create",
        f"merge_request.target={target}",
        f"merge_request.title={inert_line(f'导入联系记录 {len(plan.new_rows)} 条：{names}')}",
        "merge_request.remove_source_branch",
    ]
    return options + [f"merge_request.label={label}" for label in labels]


def _push(repo: Repo, branch: str, options: list[str], remote: str = "origin") -> None:
    args = ["push", "--porcelain"]
    for option in options:
        args += ["-o", option]
    ref = f"refs/heads/{branch}:refs/heads/{branch}"
    done = repo.attempt(*args, remote, ref, timeout=60)
    out = done.stdout.decode("utf-8", "replace")
    # The exit code alone is not enough: git's porcelain flag for the ref says whether it was taken.
    status = next((line for line in out.splitlines() if ref in line), "")
    if not done.ok or not status or status[0] not in " *=":
        raise GitError(args, done.status, f"push of {branch} rejected: {(done.stderr + out).strip()}")
