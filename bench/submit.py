"""Benchmark: time from POST to acknowledged, sequential and 10-way concurrent, against a local bare remote.

    python bench/submit.py [--sequential 50] [--concurrent 200] [--clients 10]

A copy of the demo repository is served by waitress on loopback with its
embedded stand-in for GitLab (a bare repository), exactly as ``serve`` runs
it; each client fetches the form (not timed), then POSTs it and stops the
clock at the 303 that acknowledges the record (durably in the outbox). The
baseline in the same run is a GET of the form page: the cost of a request
that writes nothing. Afterwards the run waits until every record has been
pushed and counts the branches on the remote.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from webclient import Client, LiveServer  # noqa: E402

from liaison.web import create_app  # noqa: E402

SECRET = "bench-proxy-secret-0123456789"
HEADERS = {"X-Remote-User": "zhaomin", "X-Liaison-Proxy-Secret": SECRET}
FORM = {
    "position": "学生工作处处长",
    "date": "2026-11-20",
    "place": "图书馆101",
    "size": "30",
    "target": "学生会",
    "student_contact": "刘晨",
    "feedback": "",
    "remarks": "",
}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def run_clients(port: int, clients: int, each: int, start_number: int) -> tuple[list[float], list[float]]:
    posts, gets, lock = [], [], threading.Lock()

    def client(n: int) -> None:
        http = Client(port, HEADERS)
        for k in range(each):
            t0 = time.perf_counter()
            hidden = http.new_form()
            t1 = time.perf_counter()
            reply = http.post("/new", {**hidden, **FORM, "content": f"第{start_number + n * each + k}次"})
            t2 = time.perf_counter()
            assert reply.status == 303, reply.status
            with lock:
                gets.append(t1 - t0)
                posts.append(t2 - t1)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return posts, gets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequential", type=int, default=50)
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--clients", type=int, default=10)
    args = parser.parse_args()
    os.environ["LIAISON_PROXY_SECRET"] = SECRET
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(root)], check=True)
        for folder in ("templates", "site", "schema"):  # the working tree as it is now, committed or not
            shutil.rmtree(root / folder)
            shutil.copytree(ROOT / folder, root / folder)
        shutil.copy(ROOT / "config.yaml", root / "config.yaml")
        app = create_app(root, Path(tmp) / "data")
        server = LiveServer(app)
        port = server.port

        sequential, seq_gets = run_clients(port, 1, args.sequential, 0)
        concurrent, con_gets = run_clients(port, args.clients, args.concurrent // args.clients, args.sequential)
        submitter = app.config["LIAISON_SUBMITTER"]
        start = time.perf_counter()
        while submitter.pending():
            time.sleep(0.05)
        drained = time.perf_counter() - start
        remote = Path(tmp) / "data" / "remote.git"
        branches = subprocess.run(
            ["git", "for-each-ref", "refs/heads/record/"], cwd=remote, capture_output=True, text=True, check=True
        ).stdout.count("\n")
        submitter.stop()
        server.stop()

    def line(name: str, values: list[float], baseline: list[float]) -> str:
        med, p95 = statistics.median(values) * 1000, percentile(values, 0.95) * 1000
        base = statistics.median(baseline) * 1000
        return f"{name:34s} median {med:6.1f} ms  p95 {p95:6.1f} ms   (GET of the form: median {base:5.1f} ms)"

    print(line(f"sequential, {len(sequential)} POSTs", sequential, seq_gets))
    print(line(f"{args.clients}-way concurrent, {len(concurrent)} POSTs", concurrent, con_gets))
    total = len(sequential) + len(concurrent)
    print(
        f"pushed to the remote: {branches} branches of {total} submissions "
        f"(outbox drained {drained:.1f} s after the last acknowledgement)"
    )
    ok = percentile(concurrent, 0.95) < 0.5 and branches == total
    print(f"target (p95 < 500 ms at {args.clients}-way; every submission on the remote): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
