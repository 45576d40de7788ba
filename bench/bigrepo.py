"""A large repository with a production-shaped history, for the benchmarks that need one.

    from bench.bigrepo import big_repository
    root = big_repository(Path(tmp) / "repo")            # 10,000 records, about 14,000 commits, 20 years

Built with ``git fast-import`` (seconds, not the minutes of one ``git commit``
per record): most records added on the main line, one in ten through a merge
request (a branch commit and a GitLab merge commit), and edits of earlier
records; then one ordinary commit with the schema, config and roster.
``python bench/bigrepo.py DIR`` leaves one in DIR to try commands on.
"""

from __future__ import annotations

import datetime
import random
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.synth import make_leaders, make_record, write_repo  # noqa: E402
from liaison.core.records import dump_record, new_record_id, record_path  # noqa: E402
from liaison.core.schema import Schema  # noqa: E402


def fast_import_stream(
    records: list[dict], leaders: list[dict], schema: Schema, rng: random.Random, edits: tuple[int, ...] = (5,)
) -> tuple[bytes, int]:
    """A fast-import stream: adds on main, merge requests every tenth record, and an edit of an earlier
    record after every record whose number ends in one of ``edits`` (stream, commits)."""
    out: list[bytes] = []
    mark = 0
    commits = 0
    clock = int(datetime.datetime(2006, 9, 1, tzinfo=datetime.UTC).timestamp())
    main_tip = None
    ids = []

    def blob(text: str) -> int:
        nonlocal mark
        mark += 1
        data = text.encode("utf-8")
        out.append(b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(data), data))
        return mark

    def commit(ref: str, who: dict, message: str, parents: list[int], changes: list[tuple[int, str]]) -> int:
        nonlocal mark, clock, commits
        mark += 1
        commits += 1
        clock += 3600
        msg = message.encode("utf-8")
        ident = f"{who['name']} <{who['email']}> {clock} +0800".encode()
        lines = [
            b"commit %s\nmark :%d\nauthor %s\ncommitter %s\ndata %d\n%s\n"
            % (ref.encode(), mark, ident, ident, len(msg), msg)
        ]
        if parents:
            lines.append(b"from :%d\n" % parents[0])
        lines.extend(b"merge :%d\n" % p for p in parents[1:])
        lines.extend(b"M 100644 :%d %s\n" % (b, p.encode()) for b, p in changes)
        out.append(b"".join(lines) + b"\n")
        return mark

    office = {"name": "思政科 王老师", "email": "wang@example.edu.cn"}
    by_id = {leader["id"]: leader for leader in leaders}
    for n, data in enumerate(records):
        record_id = new_record_id(data["date"], data["leader_id"], f"{rng.getrandbits(24):06x}")
        ids.append((record_id, data))
        path = record_path(record_id)
        content = blob(dump_record(data, schema))
        leader = by_id[data["leader_id"]]
        if n % 10 == 9 and main_tip:
            side = commit(
                f"refs/heads/record/{record_id}", leader, f"新增联系记录 {record_id}", [main_tip], [(content, path)]
            )
            main_tip = commit(
                "refs/heads/main",
                office,
                f"Merge branch 'record/{record_id}' into 'main'\n\nSee merge request school/liaison!{n}",
                [main_tip, side],
                [(content, path)],
            )
        else:
            main_tip = commit(
                "refs/heads/main",
                leader,
                f"新增联系记录 {record_id}",
                [main_tip] if main_tip else [],
                [(content, path)],
            )
        if n % 10 in edits:
            old_id, old = ids[rng.randrange(len(ids))]
            edited = dict(old, remarks=f"补充说明 {n}")
            main_tip = commit(
                "refs/heads/main",
                by_id[old["leader_id"]],
                f"修改联系记录 {old_id}",
                [main_tip],
                [(blob(dump_record(edited, schema)), record_path(old_id))],
            )
    return b"".join(out), commits


def big_repository(
    root: Path, records: int = 10_000, seed: int = 11, edits: tuple[int, ...] = (2, 5, 7)
) -> tuple[Path, int]:
    """Build the repository in ``root`` (created; must not exist). Returns (root, number of commits).

    With the defaults: 10,000 records of 150 leaders dated over 20 years
    (2006-09 to 2025-10), 10,000 adds, 1,000 merge commits and 3,000 edits.
    """
    rng = random.Random(seed)
    schema = Schema.load(ROOT / "schema" / "record.yaml")
    leaders = make_leaders(150, rng)
    for leader in leaders:
        leader["active"] = True
    start = datetime.date(2006, 9, 1)
    generated = [
        make_record(rng.choice(leaders), start + datetime.timedelta(days=rng.randrange(7000)), rng)
        for _ in range(records)
    ]
    generated.sort(key=lambda r: r["date"])
    write_repo(root, leaders, [], rng)  # schema, config, roster; the records come from the stream
    shutil.rmtree(root / "records", ignore_errors=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    stream, commits = fast_import_stream(generated, leaders, schema, rng, edits)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=stream, check=True)
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=root, check=True)
    for name in ("schema", "config.yaml", "roster.yaml"):
        subprocess.run(["git", "add", name], cwd=root, check=True)
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=b@e", "commit", "-q", "-m", "设置"], cwd=root, check=True
    )
    return root, commits + 1


if __name__ == "__main__":
    where, count = big_repository(Path(sys.argv[1]))
    print(f"{where}: {count} commits")
