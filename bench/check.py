"""Benchmark: ``check`` over N generated records against a bare YAML parse of the same files.

    python bench/check.py [--records 10000] [--repeat 3]

Machines here are noisy, so the figure that matters is the ratio to the
baseline measured in the same run. Two baselines are printed: PyYAML's
``yaml.safe_load`` (the plain parse the issue names) and the same with the
libyaml-backed ``CSafeLoader``, the fastest parse PyYAML offers. The check
must also time the whole command as a person runs it (a fresh process).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.synth import synthetic  # noqa: E402
from liaison.core.checks import check_repository  # noqa: E402
from liaison.core.project import open_project  # noqa: E402


def best_of(repeat: int, work) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--leaders", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        synthetic(root, args.records, args.leaders)
        files = sorted((root / "records").glob("*/*.yaml"))

        def bare(loader):
            # What yaml.safe_load does (SafeLoader) and its libyaml twin (CSafeLoader), file by file.
            return lambda: [loader(path.read_bytes()).get_single_data() for path in files]

        def check():
            result = check_repository(open_project(root))
            assert result.ok, result.problems[:3]

        def command():
            subprocess.run(
                [sys.executable, str(ROOT / "build.py"), "--root", str(root), "check"],
                check=True,
                stdout=subprocess.DEVNULL,
            )

        safe = best_of(args.repeat, bare(yaml.SafeLoader))
        csafe = best_of(args.repeat, bare(yaml.CSafeLoader))
        checked = best_of(args.repeat, check)
        whole = best_of(args.repeat, command)

    print(f"records: {len(files)}  (best of {args.repeat})")
    print(f"baseline yaml.safe_load          {safe:7.2f} s")
    print(f"baseline yaml CSafeLoader        {csafe:7.2f} s")
    print(
        f"check (library call)             {checked:7.2f} s   {checked / safe:5.2f}x safe_load   "
        f"{checked / csafe:5.2f}x CSafeLoader"
    )
    print(f"python build.py check (process)  {whole:7.2f} s   {whole / safe:5.2f}x safe_load")
    target = "met" if whole < 5 and whole / safe < 3 else "NOT met"
    print(f"target (< 5 s and < 3x safe_load): {target}")


if __name__ == "__main__":
    main()
