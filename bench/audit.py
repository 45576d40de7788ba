"""Benchmark: the history of every record in one pass, against one ``git log`` per record.

    python bench/audit.py [--records 10000] [--sample 200]

Builds, with ``git fast-import``, a repository of ``--records`` records and
about 1.2 commits per record, shaped like production: most records added on
the main line, one in ten through a merge request (a branch commit and a
GitLab merge commit), one in ten edited later. Then, in the same run:

(a) ``read_history`` for all records (the library call the site and audit use);
(b) ``python build.py audit --format json`` as a process;
(c) the baseline: ``git log --follow`` for one record at a time, timed on
    ``--sample`` records and scaled to all of them (running it 10,000 times
    would take minutes and measure the same thing).

Then ``verify`` of a one-semester export of ``--verify-records`` records
(``python build.py verify <zip>`` with the PDF cache the export warmed: it
checks the commit out aside, rebuilds every PDF and the workbook and compares
bytes), against the plain baseline of hashing every file of the zip against
its manifest (what verify did before, and all a manifest alone can say).
"""

from __future__ import annotations

import argparse
import datetime
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bigrepo import fast_import_stream  # noqa: E402
from bench.synth import commit_repository, make_leaders, make_record, synthetic, write_repo  # noqa: E402
from liaison.core.schema import Schema  # noqa: E402
from liaison.git.history.read import read_history  # noqa: E402


def verify_semester(tmp: Path, n_records: int) -> tuple[float, float, float]:
    """(export with a cold cache, verify with the warm cache, hashing the zip against its manifest) in seconds."""
    import hashlib
    import json
    import zipfile

    root = tmp / "semester"
    synthetic(root, n_records, 150, seed=3, start=datetime.date(2024, 9, 1), end=datetime.date(2025, 1, 15))
    commit_repository(root)
    build = [sys.executable, str(ROOT / "build.py"), "--root", str(root)]
    cache = ["--cache", str(tmp / "cache")]
    t0 = time.perf_counter()
    subprocess.run([*build, "export", "--semester", "2024-2025-1", "--out", str(tmp / "export"), *cache], check=True)
    export = time.perf_counter() - t0
    archive = tmp / "export" / "2024-2025学年第一学期.zip"
    t0 = time.perf_counter()
    done = subprocess.run([*build, "verify", str(archive), *cache], capture_output=True, text=True)
    verify = time.perf_counter() - t0
    assert done.returncode == 0, done.stdout + done.stderr
    t0 = time.perf_counter()
    with zipfile.ZipFile(archive) as bundle:
        names = {n.split("/", 1)[1]: n for n in bundle.namelist() if not n.endswith("/")}
        manifest = json.loads(bundle.read(names["manifest.json"]))
        for entry in manifest["files"]:
            assert hashlib.sha256(bundle.read(names[entry["path"]])).hexdigest() == entry["sha256"]
    return export, verify, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--verify-records", type=int, default=500)
    args = parser.parse_args()
    rng = random.Random(11)
    schema = Schema.load(ROOT / "schema" / "record.yaml")
    leaders = make_leaders(150, rng)
    for leader in leaders:
        leader["active"] = True
    start = datetime.date(2006, 9, 1)
    records = [
        make_record(rng.choice(leaders), start + datetime.timedelta(days=rng.randrange(7000)), rng)
        for _ in range(args.records)
    ]
    records.sort(key=lambda r: r["date"])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        write_repo(root, leaders, [], rng)  # schema, config, roster; the records come from the stream
        shutil.rmtree(root / "records", ignore_errors=True)
        subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
        stream, commits = fast_import_stream(records, leaders, schema, rng)
        subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=stream, check=True)
        subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=root, check=True)
        for name in ("schema", "config.yaml", "roster.yaml"):
            subprocess.run(["git", "add", name], cwd=root, check=True)
        subprocess.run(
            ["git", "-c", "user.name=bench", "-c", "user.email=b@e", "commit", "-q", "-m", "设置"], cwd=root, check=True
        )

        t0 = time.perf_counter()
        history = read_history(root, schema)
        one_pass = time.perf_counter() - t0
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, str(ROOT / "build.py"), "--root", str(root), "audit", "--format", "json"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        audit_process = time.perf_counter() - t0
        paths = sorted({c.path for c in history.changes})
        sample = rng.sample(paths, min(args.sample, len(paths)))
        t0 = time.perf_counter()
        for path in sample:
            subprocess.run(
                ["git", "log", "--follow", "--format=%H %an %cI %s", "--", path],
                cwd=root,
                check=True,
                capture_output=True,
            )
        per_record = (time.perf_counter() - t0) / len(sample)
        merged = sum(1 for c in history.changes if c.merge)

    baseline = per_record * len(paths)
    print(
        f"repository: {len(paths)} records, {commits + 1} commits, {len(history.changes)} record changes "
        f"({merged} through merge requests)"
    )
    print(f"(a) read_history, all records, one pass:     {one_pass:6.1f} s")
    print(f"(b) python build.py audit --format json:     {audit_process:6.1f} s")
    print(
        f"(c) one git log --follow per record:          {baseline:6.1f} s "
        f"({per_record * 1000:.0f} ms a record, {len(sample)} timed) -> (a) is {baseline / one_pass:.0f}x faster"
    )
    with tempfile.TemporaryDirectory() as tmp:
        export, verify, hashing = verify_semester(Path(tmp), args.verify_records)
    print(
        f"(d) verify of a {args.verify_records}-record semester's zip, warm cache: {verify:6.1f} s "
        f"(export with a cold cache {export:.1f} s; hashing the zip against its manifest {hashing:.2f} s, "
        f"{verify / hashing:.0f}x less than verify does)"
    )
    print(f"targets ((a) < 20 s; (d) < 30 s): {'met' if one_pass < 20 and verify < 30 else 'NOT met'}")


if __name__ == "__main__":
    main()
