"""The one way liaison runs git: timeouts, errors that say what failed, and one batch object reader.

Every git process of the package starts here, through GitPython's
``Git.execute`` (``kill_after_timeout`` kills a hung process and its
children). We keep GitPython as the process runner, and not its object
model: the history, the audit and the outbox read the plumbing's own output
(``log --raw``, ``rev-list``, ``cat-file --batch``), which is one process
for thousands of objects where the object model would start many; see
``docs/git.md`` for the figures.

One measured exception: :meth:`Repo.query`, the short read-only questions a
warm ``check`` or ``audit`` asks (``ls-files``, ``check-attr``,
``for-each-ref``, ...), runs git without GitPython, whose import alone costs
more CPU than all of those questions together (docs/git.md). Same timeout,
same errors, same environment; GitPython is imported only when a command
runs git through :meth:`Repo.attempt`.

Errors are :class:`GitError`; its message names the command and carries
git's own words. Callers that show a person the error translate it.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import re
import signal
import stat
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("liaison.git")

# Paths whose content shapes the exports; a change in them makes a build "dirty".
SOURCE_PATHS = ("records", "roster.yaml", "config.yaml", "schema", "templates")
DEFAULT_TIMEOUT = 120.0  # local work on a large repository; network calls pass their own, shorter one
ZERO = "0" * 40


class GitError(Exception):
    """A git command failed or timed out."""

    def __init__(self, command: list[str], status: int | None, stderr: str, timed_out: bool = False):
        self.command = command
        self.status = status
        self.stderr = stderr.strip()
        self.timed_out = timed_out
        what = "timed out" if timed_out else f"exited {status}"
        super().__init__(f"git {' '.join(command[:3])} {what}: {self.stderr or '(no message)'}")


class CommitNotFound(GitError):
    """A revision is not in this clone (e.g. a shallow CI clone); the message is Chinese."""

    def __init__(self, message: str):
        Exception.__init__(self, message)
        self.command, self.status, self.stderr, self.timed_out = [], None, message, False


@dataclass(frozen=True)
class Result:
    status: int
    stdout: bytes
    stderr: str

    @property
    def ok(self) -> bool:
        return self.status == 0

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace").strip()


class Repo:
    """A git directory or work tree at ``root``; every call has a timeout (seconds)."""

    def __init__(self, root: Path | str, timeout: float = DEFAULT_TIMEOUT, env: dict[str, str] | None = None):
        self.root = Path(root)
        self.timeout = timeout
        self.env = dict(env or {})
        self._git = None  # GitPython's runner, made the first time ``attempt`` runs git

    def _gitpython(self):
        import git as gitpython  # loaded only when git runs through it: a warm `check` never does

        if self._git is None:
            self._git = gitpython.Git(str(self.root))
        return gitpython, self._git

    def attempt(
        self, *args: str, input: bytes | None = None, env: dict | None = None, timeout: float | None = None
    ) -> Result:
        """Run ``git ARGS``; a non-zero exit is a Result, a timeout or a missing git binary is a GitError."""
        # Paths as they are: git would otherwise quote a non-ASCII name ("records/2025/\345\244\207.yaml"), and a
        # file named so would slip past every reader that looks for records/….yaml (the history, the audit).
        command = ["git", "-c", "core.quotePath=false", *args]
        limit = self.timeout if timeout is None else timeout
        gitpython, runner = self._gitpython()
        with contextlib.ExitStack() as stack:
            stdin = None
            if input is not None:
                stdin = stack.enter_context(tempfile.TemporaryFile())
                stdin.write(input)
                stdin.seek(0)
            try:
                status, out, err = runner.execute(
                    command,
                    istream=stdin,
                    with_extended_output=True,
                    with_exceptions=False,
                    stdout_as_string=False,
                    strip_newline_in_stdout=False,
                    kill_after_timeout=limit,
                    env={**self.env, **(env or {})},
                )
            except gitpython.GitCommandNotFound as error:
                raise GitError(list(args), None, f"找不到 git 命令：{error}") from None
        message = err.decode("utf-8", "replace") if isinstance(err, bytes) else str(err)
        if message.startswith("Timeout:") or (status == -9 and "did not complete" in message):
            raise self._timed_out(args, status, message, limit)
        return Result(status, out or b"", message)

    def query(self, *args: str, input: bytes | None = None, timeout: float | None = None) -> Result:
        """``attempt`` for a short, local, read-only question on a hot path, run without GitPython.

        A warm ``check`` is about a fifth of a second, and importing GitPython
        alone would add a third to it (docs/git.md has the figures); its
        questions (``ls-files``, ``check-attr``, ``config``, ``for-each-ref``,
        ``rev-parse``, ``rev-list``) need nothing GitPython gives but the
        timeout and the environment, which this gives the same way: git in
        English (``LC_ALL=C``, as GitPython sets it), paths unquoted, the
        process and whatever it started killed when ``timeout`` passes (its
        own process group), the same :class:`Result` and :class:`GitError`.
        Never for commands that write, talk to a remote or run hooks: those
        go through :meth:`attempt`. Nor is a file system monitor (``core.fsmonitor``) asked: its hook may hang,
        and its word that nothing changed (a watcher that lags or is broken) would make ``ls-files -m`` vouch
        for an edited file.
        """
        command = ["git", "-c", "core.quotePath=false", "-c", "core.fsmonitor=false", *args]
        limit = self.timeout if timeout is None else timeout
        env = {**os.environ, "LANGUAGE": "C", "LC_ALL": "C", **self.env}
        folder = self.root if os.access(self.root, os.X_OK) else None  # where GitPython would run it
        try:
            process = subprocess.Popen(
                command,
                cwd=folder,
                env=env,
                stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # a process group of its own: a timeout kills git and its children
            )
        except FileNotFoundError as error:
            raise GitError(list(args), None, f"找不到 git 命令：{error}") from None
        try:
            out, err = process.communicate(input, timeout=limit)
        except BaseException as error:  # the timeout, or an interrupt: nothing of it is left running
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            if not isinstance(error, subprocess.TimeoutExpired):
                raise
            message = f'Timeout: the command "{" ".join(command)}" did not complete in {limit:g} secs.'
            raise self._timed_out(args, -signal.SIGKILL, message, limit) from None
        return Result(process.returncode, out, err.decode("utf-8", "replace").removesuffix("\n"))

    def _timed_out(self, args: tuple[str, ...], status: int | None, message: str, limit: float) -> GitError:
        log.warning("git %s timed out after %gs in %s", " ".join(args[:2]), limit, self.root)
        return GitError(list(args), status, message, timed_out=True)

    def run(
        self, *args: str, input: bytes | None = None, env: dict | None = None, timeout: float | None = None
    ) -> bytes:
        """Run ``git ARGS`` and return its standard output; any failure raises GitError."""
        result = self.attempt(*args, input=input, env=env, timeout=timeout)
        if not result.ok:
            raise GitError(list(args), result.status, result.stderr)
        return result.stdout

    def text(self, *args: str, **kwargs) -> str:
        """``run``, decoded as UTF-8 and stripped."""
        return self.run(*args, **kwargs).decode("utf-8", "replace").strip()

    def resolve(self, revision: str) -> str | None:
        """The commit ``revision`` names, or None when there is none."""
        if not revision or revision.startswith("-"):
            return None
        result = self.query("rev-parse", "-q", "--verify", "--end-of-options", f"{revision}^{{commit}}")
        return result.text if result.ok else None

    def is_repository(self) -> bool:
        return self.query("rev-parse", "--git-dir").ok

    def query_text(self, *args: str) -> str:
        """``query``'s output as text, stripped; a failure raises GitError (``text`` for the hot paths)."""
        result = self.query(*args)
        if not result.ok:
            raise GitError(list(args), result.status, result.stderr)
        return result.text

    def objects(self, names: Iterable[str]) -> dict[str, bytes | None]:
        """The contents of many objects in one ``cat-file --batch``: name -> bytes, or None when missing.

        ``names`` are object ids or ``rev:path``; a name git cannot resolve
        (missing, ambiguous, outside a shallow clone) maps to None. An object
        larger than :data:`MAX_OBJECT_BYTES` is never read: it comes back as
        :data:`TOO_LARGE` (that many zero bytes and one more), which every
        reader refuses as too large. A merge request can carry a record of
        2 GB; the history, the audit, the review and the form would each
        have held all its versions at once (sizes come first, from
        ``--batch-check``, which reads no content).
        """
        order = list(dict.fromkeys(names))
        if not order:
            return {}
        if any("\n" in name for name in order):
            raise ValueError("object names cannot contain a newline")
        sizes = self._sizes(order)
        small = [name for name in order if sizes[name] is not None and sizes[name] <= MAX_OBJECT_BYTES]
        found: dict[str, bytes | None] = {name: None if sizes[name] is None else TOO_LARGE for name in order}
        if not small:
            return found
        raw = self.run("cat-file", "--batch", input="".join(f"{n}\n" for n in small).encode("utf-8"))
        for name, (start, size) in zip(small, _batch_entries(raw, len(small)), strict=True):
            found[name] = None if start is None else raw[start : start + size]
        return found

    def _sizes(self, order: list[str]) -> dict[str, int | None]:
        """Each object's size (None: missing or ambiguous), from one ``cat-file --batch-check``."""
        raw = self.run("cat-file", "--batch-check", input="".join(f"{n}\n" for n in order).encode("utf-8"))
        lines = raw.split(b"\n")
        return {name: _size(line) for name, line in zip(order, lines, strict=False)} | {
            name: None for name in order[len(lines) :]
        }


# Larger than any file liaison reads from git (a YAML file stops at 256 KB): what is larger is not read.
MAX_OBJECT_BYTES = 1 << 20
TOO_LARGE = bytes(MAX_OBJECT_BYTES + 1)


def _size(header: bytes) -> int | None:
    """The size in a ``cat-file`` header ("<sha> <type> <size>"), None in "<name> missing" or "ambiguous"."""
    words = header.split()
    return int(words[2]) if len(words) == 3 and words[2].isdigit() else None


def _batch_entries(raw: bytes, count: int) -> Iterable[tuple[int | None, int]]:
    """(where its content starts in ``raw``, its size) of each of the ``count`` objects ``cat-file --batch`` wrote."""
    position = 0
    for _ in range(count):
        header_end = raw.index(b"\n", position)
        size = _size(raw[position:header_end])
        position = header_end + 1
        if size is None:
            yield None, 0
            continue
        yield position, size
        position += size + 1


_HEX40 = re.compile(r"[0-9a-f]{40}")
_REPOSITORY_VARIABLES = ("GIT_DIR", "GIT_COMMON_DIR", "GIT_WORK_TREE", "GIT_NAMESPACE")


def head_from_files(root: Path) -> tuple[str, bytes] | None:
    """The commit ``HEAD`` names at ``root`` and the clone's shallow list, read from ``.git`` without running git;
    None whenever that is not certain (a linked worktree, a symbolic ref chain, a packed or reftable ref, a
    ``GIT_DIR`` in the environment): then ask git. Starting GitPython and a process costs more than the
    history index's whole answer for one record, which is the one caller.
    """
    git_dir = Path(root) / ".git"
    if any(os.environ.get(name) for name in _REPOSITORY_VARIABLES) or not git_dir.is_dir():
        return None
    try:
        head = (git_dir / "HEAD").read_text("ascii").strip()
        if head.startswith("ref: refs/heads/"):
            name = head.removeprefix("ref: ")
            if ".." in name or name.endswith("/"):
                return None
            head = (git_dir / name).read_text("ascii").strip()  # a loose ref wins over packed-refs
        shallow = git_dir / "shallow"
        listed = shallow.read_bytes() if shallow.is_file() else b""
    except (OSError, UnicodeDecodeError):
        return None
    return (head, listed) if _HEX40.fullmatch(head) else None


# A HEAD git takes (its validate_headref): a symbolic ref into refs/, or an object id (SHA-1 or SHA-256).
_GIT_TAKES_HEAD = re.compile(rb"(ref:[ \t]*refs/[^\n]*|[0-9a-f]{40}|[0-9a-f]{64})\n?")


def index_state(root: Path) -> tuple | None:
    """What tells the index git reads at ``root`` from any other or from itself rewritten (its file's inode,
    size and times; the config's with it; git's variables in the environment), read without running git;
    None whenever git might read another: ``.git`` not a repository git would take (a folder with ``objects``,
    ``refs`` and a ``HEAD`` git accepts, its own, not shared through ``commondir``; else git looks further up),
    or a variable naming the repository or the index. HEAD's text is part of it.
    Git rewrites an index into a new file and renames it over the old: a new inode and new times. For
    answers that follow from the index alone."""
    git_dir = Path(root) / ".git"
    if any(os.environ.get(name) for name in (*_REPOSITORY_VARIABLES, "GIT_INDEX_FILE")):
        return None
    try:
        if not (git_dir.is_dir() and (git_dir / "objects").is_dir() and (git_dir / "refs").is_dir()):
            return None
        if not stat.S_ISREG((git_dir / "HEAD").lstat().st_mode) or (git_dir / "commondir").exists():
            return None  # a link, a FIFO (a read would wait), a worktree's shared repository: ask git
        head = (git_dir / "HEAD").read_bytes()[:1024]
        index, config = (git_dir / "index").stat(), (git_dir / "config").stat()
    except OSError:
        return None
    if not _GIT_TAKES_HEAD.fullmatch(head):  # git would not take this folder, and looks further up
        return None
    return (
        os.path.realpath(root),
        head,
        *(index.st_dev, index.st_ino, index.st_size, index.st_mtime_ns, index.st_ctime_ns),
        *(config.st_ino, config.st_size, config.st_mtime_ns, config.st_ctime_ns),
        tuple(sorted((name, value) for name, value in os.environ.items() if name.startswith("GIT_"))),
    )


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    time: datetime.datetime  # the committer's time, timezone-aware
    dirty: bool  # SOURCE_PATHS differ from the commit (uncommitted or untracked changes)

    @property
    def short(self) -> str:
        return self.sha[:8]


def head_commit(root: Path) -> CommitInfo | None:
    """The commit checked out at ``root``, or None when it is not a Git repository (or has no commit)."""
    repo = Repo(root)
    found = repo.query("log", "-1", "--format=%H %cI", "HEAD")
    if not found.ok or not found.text:
        return None
    sha, when = found.text.split()
    # Without optional locks: a question that never writes the index (what makes it a query).
    status = repo.query_text(
        "--no-optional-locks", "status", "--porcelain", "--untracked-files=all", "--", *SOURCE_PATHS
    )
    return CommitInfo(sha, datetime.datetime.fromisoformat(when), bool(status))


def _commit_or_raise(repo: Repo, revision: str, purpose: str) -> str:
    if not repo.is_repository():
        raise CommitNotFound(f"{repo.root} 不是 Git 仓库，无法{purpose}。")
    sha = repo.resolve(revision)
    if sha is None:
        raise CommitNotFound(
            f"仓库中找不到提交“{revision}”。若是浅克隆，请先 git fetch --unshallow（或加大 GIT_DEPTH）；"
            "否则请核对提交编号。"
        )
    return sha


# The other git modules' name for it: a revision that must name a commit, or a Chinese CommitNotFound.
require_commit = _commit_or_raise


class ShallowClone(CommitNotFound):
    """The clone holds only the latest commits (``git clone --depth``, GitLab CI's default): read from it,
    the oldest commit looks like where every older record began, with that commit's time and author."""


def require_whole_history(root: Path, what: str) -> None:
    """ShallowClone, saying in Chinese how to get the whole history, when ``root`` is a shallow clone.

    ``what`` names what needs the history (审计日志, 网站中每条记录的历史). Read from ``.git`` when that is
    certain, else asked of git; a folder that is no repository passes (its readers say so themselves).
    """
    found = head_from_files(root)
    if found is not None:
        shallow = bool(found[1].strip())
    else:
        shallow = Repo(root).attempt("rev-parse", "--is-shallow-repository").text == "true"
    if shallow:
        raise ShallowClone(
            f"这里是 Git 浅克隆（只含最近的一部分提交），{what}需要完整的 Git 历史：否则最早的那个提交"
            "会被当作每条更早记录的来源，时间和作者都不对。请先运行 git fetch --unshallow 取回完整历史"
            '（在 GitLab CI 中，给这个作业设置变量 GIT_DEPTH: "0"）。'
        )


def files_at(root: Path, sha: str, folder: str) -> dict[str, bytes]:
    """Every file under ``folder`` as it was at commit ``sha``: path -> bytes."""
    repo = Repo(root)
    commit = _commit_or_raise(repo, sha, f"按提交 {sha[:8]} 核对")
    listed = repo.run("ls-tree", "-r", "-z", commit, "--", f"{folder}/").decode("utf-8").split("\0")
    # "<mode> blob <sha>\t<path>": reading by object id skips a tree lookup per file (bench/gitlayer.py).
    blobs = dict(reversed(entry.split(" ", 2)[2].split("\t", 1)) for entry in listed if " blob " in entry)
    contents = repo.objects(blobs.values())
    return {path: contents[sha] or b"" for path, sha in blobs.items()}


def changed_files(root: Path, since: str) -> list[str]:
    """Files changed between ``since`` and the working tree (committed or not), relative to the root."""
    repo = Repo(root)
    commit = _commit_or_raise(repo, since, "找出改动的文件")
    names = repo.text("diff", "--name-only", "--no-renames", commit, "--").splitlines()
    untracked = repo.text("ls-files", "--others", "--exclude-standard").splitlines()
    return sorted(set(names) | set(untracked))


def commits_since(root: Path, since: str, ref: str = "HEAD") -> set[str]:
    """The commits in ``since..ref``; a ``since`` that names no commit is a CommitNotFound, never "all"."""
    repo = Repo(root)
    base = _commit_or_raise(repo, since, "找出新的提交")
    return set(repo.query_text("rev-list", f"{base}..{ref}").split())
