"""Benchmark: ``build.py review`` of a merge request changing 1 and 20 records in a 10,000-record repository.

    python bench/review.py [--records 10000] [--repeat 3]

The baseline is ``python build.py check`` of the same repository in the same
run (a merge request's pipeline runs it anyway): the review's extra cost is the
ratio's excess over 1. "Cold" renders the changed records' PDFs; "warm" finds
them in the cache (a re-run pipeline, or the office reloading a branch).
Target: under 5 s for one record, warm cache.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.synth import commit_repository, synthetic  # noqa: E402

WHO = ["-c", "user.name=bench", "-c", "user.email=bench@example.edu.cn"]


def command(root: Path, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "--root", str(root), *args], check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def branch_changing(root: Path, count: int) -> None:
    """Check out a branch from main whose one commit corrects the 联系内容 of ``count`` records."""
    subprocess.run(["git", "-C", str(root), "checkout", "-q", "-B", f"change-{count}", "main"], check=True)
    for path in sorted((root / "records").glob("*/*.yaml"))[:: 10_000 // count][:count]:
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("content: ", "content: 更正：", 1), encoding="utf-8")
    subprocess.run(["git", *WHO, "-C", str(root), "commit", "-q", "-am", f"更正 {count} 条"], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--leaders", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        synthetic(root, args.records, args.leaders)
        commit_repository(root)
        cache = Path(tmp) / "cache"
        check = min(command(root, "check") for _ in range(args.repeat))
        print(f"records: {args.records}  (best of {args.repeat})")
        print(f"baseline python build.py check            {check:6.2f} s")
        for count in (1, 20):
            branch_changing(root, count)
            review = ("review", "--base", "main", "--cache", str(cache), "--out", str(Path(tmp) / "review"))
            shutil.rmtree(cache, ignore_errors=True)
            cold = command(root, *review)
            warm = min(command(root, *review) for _ in range(args.repeat))
            print(f"review, {count:2d} changed, cold cache      {cold:6.2f} s   {cold / check:5.2f}x check")
            print(f"review, {count:2d} changed, warm cache      {warm:6.2f} s   {warm / check:5.2f}x check")
            if count == 1:
                target = "met" if warm < 5 else "NOT met"
    print(f"target (one record, warm cache, < 5 s): {target}")


if __name__ == "__main__":
    main()
