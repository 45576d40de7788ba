"""Benchmark: time from POST to acknowledged, sequential and 10-way concurrent, against a local bare remote.

    python bench/submit.py [--sequential 50] [--concurrent 200] [--clients 10] [--pages 100] [--sent 50000]

A copy of the demo repository is served by waitress on loopback with its
embedded stand-in for GitLab (a bare repository), exactly as ``serve`` runs
it; each client fetches the form (not timed), then POSTs it and stops the
clock at the 303 that acknowledges the record (durably in the outbox). The
baseline in the same run is a GET of the form page: the cost of a request
that writes nothing. Afterwards the run waits until every record has been
pushed and counts the branches on the remote.

Then, with the remote hanging (a loopback TCP server that accepts and never
answers), it times page loads (「我的记录」 and a record page) against the same
pages with the remote answering; and it times a token lookup in an outbox
with 50,000 delivered entries against the old way (a glob over sent/).
"""

from __future__ import annotations

import argparse
import json
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

from webclient import Client, HangingServer, LiveServer  # noqa: E402

from liaison.submit.outbox import Entry, Outbox, new_token  # noqa: E402
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


def page_times(port: int, record_id: str, count: int) -> list[float]:
    http = Client(port, HEADERS)
    times = []
    for n in range(count):
        t0 = time.perf_counter()
        reply = http.get("/mine" if n % 2 else f"/records/{record_id}")
        times.append(time.perf_counter() - t0)
        assert reply.status == 200, reply.status
    return times


def pages_while_the_remote_hangs(root: Path, data: Path, count: int) -> tuple[list[float], list[float]]:
    """(page times with the remote answering, page times with it hanging), same pages, same run."""
    app = create_app(root, data / "answering")
    server = LiveServer(app)
    record_id = run_clients_once(server.port)
    answering = page_times(server.port, record_id, count)
    app.config["LIAISON_SUBMITTER"].stop()
    server.stop()
    hanging = HangingServer()
    os.environ["LIAISON_REMOTE"] = f"http://127.0.0.1:{hanging.port}/records.git"
    try:
        app = create_app(root, data / "hanging")
        server = LiveServer(app)
        record_id = run_clients_once(server.port)
        while not hanging.held:  # the worker is stuck on the remote from here on
            time.sleep(0.05)
        hung = page_times(server.port, record_id, count)
        server.stop()
        app.config["LIAISON_SUBMITTER"].stop()
    finally:
        del os.environ["LIAISON_REMOTE"]
        hanging.close()
    return answering, hung


def run_clients_once(port: int) -> str:
    http = Client(port, HEADERS)
    reply = http.post("/new", {**http.new_form(), **FORM, "content": "页面计时用"})
    assert reply.status == 303, reply.status
    return reply.headers["Location"].rsplit("/", 1)[1]


def token_lookups(folder: Path, sent: int, repeat: int = 2000) -> tuple[float, float, float]:
    """(median find() of a delivered token, of an unknown one, one glob over sent/) in ms."""
    outbox = Outbox(folder)
    tokens = [new_token() for _ in range(sent)]
    body = Entry(tokens[0], "new", "2026-11-20-T1-000000", "T1", "某", "a@b", "x: 1\n", "t", "2026-11-20T00:00:00")
    text = json.dumps(body.__dict__)
    for token in tokens:
        (outbox.sent / f"{token}.json").write_text(text, encoding="utf-8")
    known, unknown = [], []
    for n in range(repeat):
        token = tokens[n * 7919 % sent]
        t0 = time.perf_counter()
        assert outbox.find(token) is not None
        t1 = time.perf_counter()
        assert outbox.find(new_token()) is None
        known.append(t1 - t0)
        unknown.append(time.perf_counter() - t1)
    globs = []
    for _ in range(5):
        t0 = time.perf_counter()
        list(outbox.sent.glob(f"*{tokens[-1]}.json"))
        globs.append(time.perf_counter() - t0)
    return tuple(statistics.median(v) * 1000 for v in (known, unknown, globs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequential", type=int, default=50)
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--pages", type=int, default=100, help="page loads timed with the remote answering/hanging")
    parser.add_argument("--sent", type=int, default=50_000, help="delivered entries for the token lookup")
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
        answering, hung = pages_while_the_remote_hangs(root, Path(tmp) / "pages", args.pages)
        known, unknown, glob = token_lookups(Path(tmp) / "tokens", args.sent)

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
    print(
        line(f"pages, remote hanging, {len(hung)} GETs", hung, answering).replace("GET of the form", "remote answering")
    )
    ratio = percentile(hung, 0.95) / percentile(answering, 0.95)
    print(
        f"  p95 ratio hanging/answering {ratio:.2f}; target (p95 < 2 s): {'met' if percentile(hung, 0.95) < 2 else 'NOT met'}"
    )
    print(
        f"token lookup among {args.sent:,} sent entries: median {known:.3f} ms (known), {unknown:.3f} ms (unknown); "
        f"a glob over sent/ (the old way): {glob:.1f} ms; target (< 1 ms): {'met' if known < 1 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
