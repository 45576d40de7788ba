"""Benchmark: where GitPython serves and where the plumbing must be read directly (docs/git.md).

    python bench/gitlayer.py [--records 5000] [--calls 200]

Two questions, each answered against a plain baseline in the same run:

1. Starting a git process: ``liaison.git.repo.Repo.run`` (GitPython's
   ``Git.execute`` with ``kill_after_timeout``) against ``subprocess.run``
   of the same command — the price of the one runner with timeouts.
2. Reading every record's bytes at HEAD: ``Repo.objects`` (one
   ``cat-file --batch`` process fed all names) against GitPython's object
   model (``Repo.tree()`` traversal, ``blob.data_stream.read()``, which
   GitPython serves through its own persistent ``cat-file`` process).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.synth import commit_repository, synthetic  # noqa: E402
from liaison.git.repo import Repo  # noqa: E402


def timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def best(repeat: int, work) -> float:
    return min(timed(work) for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        synthetic(root, args.records, 150)
        commit_repository(root)
        repo = Repo(root)

        def plain_calls():
            for _ in range(args.calls):
                subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, check=True)

        def runner_calls():
            for _ in range(args.calls):
                repo.run("rev-parse", "HEAD")

        plain, runner = best(args.repeat, plain_calls), best(args.repeat, runner_calls)
        print(f"{args.calls} × git rev-parse HEAD")
        print(f"  subprocess.run (baseline)       {plain * 1000 / args.calls:6.2f} ms a call")
        print(f"  Repo.run (GitPython, timeout)   {runner * 1000 / args.calls:6.2f} ms a call  ({runner / plain:.2f}×)")

        names = repo.text("ls-tree", "-r", "--name-only", "HEAD", "--", "records/").splitlines()

        def batch():
            listed = repo.text("ls-tree", "-r", "HEAD", "--", "records/").splitlines()
            found = repo.objects(line.split()[2] for line in listed)
            assert len(found) == len(names)

        def object_model():
            import git

            tree = git.Repo(root).head.commit.tree / "records"
            read = [blob.data_stream.read() for blob in tree.traverse() if blob.type == "blob"]
            assert len(read) == len(names)

        model, batched = best(args.repeat, object_model), best(args.repeat, batch)
        print(f"reading {len(names)} records at HEAD")
        print(f"  GitPython object model          {model:6.2f} s")
        print(f"  Repo.objects (one cat-file)     {batched:6.2f} s  ({model / batched:.1f}× faster)")


if __name__ == "__main__":
    main()
