"""A small mutation check: one-line mutations of core logic, each of which the tests must catch.

    python scripts/mutants.py            # every mutant, then the score
    python scripts/mutants.py --list     # the mutants, without running anything
    python scripts/mutants.py NAME ...   # only these

Each mutant is applied to a temporary copy of the repository (the working
tree is never touched), and the tests named beside it are run there with
``python -m pytest -x``: a mutant is *killed* when they fail, *survived* when
they pass. A mutant whose text is no longer in its file is *stale*: the code
moved, so the list needs updating — it counts as a failure too. The exit
code is 0 only when every mutant is killed. ``make mutants`` runs this; the
score goes in docs/mutation.md. It is an occasional check (minutes), not
part of ``make test``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


MUTANTS = [
    Mutant(
        "semester-last-day",
        "liaison/core/semesters.py",
        "elif day > self.end(semester):",
        "elif day >= self.end(semester):",
        ("tests/test_semesters.py",),
    ),
    Mutant(
        "range-end-exclusive",
        "liaison/core/semesters.py",
        "(self.end is None or day <= self.end)",
        "(self.end is None or day < self.end)",
        ("tests/test_semesters.py", "tests/test_query.py"),
    ),
    Mutant(
        "future-date-allowed-today",
        "liaison/core/schema.py",
        "isinstance(value, datetime.date) and value > self.today",
        "isinstance(value, datetime.date) and value >= self.today",
        ("tests/test_check.py", "tests/test_schema.py", "tests/test_records.py"),
    ),
    Mutant(
        "future-date-passed-by-fast-validator",  # stricter there would only decline to cerberus: allow tomorrow
        "liaison/core/schema.py",
        "elif not_future and today is not None and value > today:",
        "elif not_future and today is not None and value > today + datetime.timedelta(days=1):",
        ("tests/test_check.py", "tests/test_schema.py", "tests/test_records.py"),
    ),
    Mutant(
        "duplicate-ids-ignored",
        "liaison/core/checks.py",
        "for path in same if len(same) > 1 else ():",
        "for path in same if len(same) > 2 else ():",
        ("tests/test_check.py",),
    ),
    Mutant(
        "double-submission-ignored",
        "liaison/core/checks.py",
        "for record in same if len(same) > 1 else ():",
        "for record in same if len(same) > 2 else ():",
        ("tests/test_check.py",),
    ),
    Mutant(
        "inactive-leaders-dropped",
        "liaison/core/summary.py",
        "if leader.active or counts[leader.id]]",
        "if leader.active]",
        ("tests/test_workbook.py",),
    ),
    Mutant(
        "reserved-names-kept",
        "liaison/core/filenames.py",
        "if _RESERVED.fullmatch(name):",
        "if _RESERVED.match(name) and False:",
        ("tests/test_filenames.py",),
    ),
    Mutant(
        "pdf-cache-key-without-path",
        "liaison/outputs/pdf/cache.py",
        'f"{identity}\\0{record.path}\\0{record.digest}"',
        'f"{identity}\\0{record.digest}"',
        ("tests/test_pdf_build.py",),
    ),
    Mutant(
        "author-is-leader-or",
        "liaison/git/audit.py",
        "return change.by_form and bool(leader.login) and change.submitted_by == leader.login",
        "return change.by_form or bool(leader.login) and change.submitted_by == leader.login",
        ("tests/test_audit.py", "tests/test_audit_trail.py"),
    ),
    Mutant(
        "token-prefix-match",
        "liaison/submit/outbox.py",
        "return isinstance(token, str) and TOKEN.fullmatch(token) is not None",
        "return isinstance(token, str) and TOKEN.match(token) is not None",
        ("tests/test_submit.py", "tests/test_web.py"),
    ),
    Mutant(
        "token-not-looked-up-after-delivery",
        "liaison/submit/outbox.py",
        'return _read(self.folder / f"{token}.json") or _read(self.sent / f"{token}.json")',
        'return _read(self.folder / f"{token}.json")',
        ("tests/test_submit.py", "tests/test_web.py"),
    ),
    Mutant(
        "pinyin-memo-not-recalled",
        "liaison/cli/shared.py",
        "pinyin.recall_later(memo)",
        "pinyin.recall_later(memo.parent)",
        ("tests/test_pinyin_memo.py",),
    ),
]


def copy_repository(target: Path) -> None:
    """The files git knows (tracked or new, not ignored), as they are in the working tree now."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode("utf-8")
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def run(mutant: Mutant, copy: Path) -> str:
    path = copy / mutant.path
    original = path.read_text(encoding="utf-8") if path.exists() else ""
    if original.count(mutant.old) != 1:
        return "stale"
    path.write_text(original.replace(mutant.old, mutant.new), encoding="utf-8")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *mutant.tests],
            cwd=copy,  # `python -m` puts the copy first on sys.path: the mutated package is the one imported
            capture_output=True,
            timeout=900,
        )
    except subprocess.TimeoutExpired:
        return "killed (timeout)"
    finally:
        path.write_text(original, encoding="utf-8")
    return "survived" if done.returncode == 0 else "killed"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="run only these mutants")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if not args.names or m.name in args.names]
    if args.list:
        for mutant in chosen:
            print(f"{mutant.name:40s} {mutant.path}")
        return 0
    outcomes = {}
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp)
        copy_repository(copy)
        for mutant in chosen:
            start = time.monotonic()
            outcomes[mutant.name] = run(mutant, copy)
            print(f"{outcomes[mutant.name]:16s} {mutant.name:40s} {time.monotonic() - start:5.1f} s", flush=True)
    killed = sum(1 for outcome in outcomes.values() if outcome.startswith("killed"))
    print(f"score: {killed}/{len(outcomes)} killed")
    return 0 if killed == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
