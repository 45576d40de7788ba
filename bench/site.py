"""Benchmark: the site for 10,000 records — build time, and what a first search costs in Chromium.

    python bench/site.py [--records 10000]

(a) ``python build.py build`` (a fresh process, check included) with every
    PDF already in the cache, against ``python build.py check`` alone in the
    same run (the floor any build pays);
(b) served over HTTP on loopback and opened in headless Chromium with a
    one-semester range in the URL: the bytes transferred until the first
    results are on screen (Resource Timing: document, CSS, scripts, data);
(c) the time from typing into the keyword box to the results painted, with
    the semester's data loaded, and from clicking another semester (which
    loads its data file) to its results painted.

The PDF cache is filled as in bench/pdf.py: one rendered PDF stored under
every record's key (a build links cached files; it never reads them).
"""

from __future__ import annotations

import argparse
import functools
import http.server
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

from chromium import launch as launch_chromium  # noqa: E402

from bench.pdf import fill_cache, load  # noqa: E402
from bench.synth import commit_repository, synthetic  # noqa: E402
from liaison.outputs.pdf import Renderer, record_html  # noqa: E402

FIRST = "?from=2025-08-01&to=2026-01-31"

# Do one thing in the page (type into a box, or click a semester) and time it to the results painted.
ACT_AND_WAIT = """async ([action, target, value]) => {
  const status = document.getElementById('status');
  const before = status.dataset.search;
  const t0 = performance.now();
  if (action === 'type') {
    const box = document.querySelector(target);
    box.value = value;
    box.dispatchEvent(new Event('input', {bubbles: true}));
  } else {
    [...document.querySelectorAll('.semesters button')].find(b => b.textContent === target).click();
  }
  await new Promise(resolve => {
    const check = () => status.dataset.search !== before
      ? requestAnimationFrame(() => requestAnimationFrame(resolve)) : setTimeout(check, 1);
    check();
  });
  return performance.now() - t0;
}"""


def prepare(tmp: Path, n_records: int) -> Path:
    root = tmp / "repo"
    synthetic(root, n_records, 150, seed=5)
    commit_repository(root)
    project, records = load(root)
    sample = tmp / "sample.pdf"
    sample.write_bytes(
        Renderer(root / "templates").render(
            records[0], record_html(records[0], project.schema, project.config, root / "templates")
        )
    )
    fill_cache(root, tmp / "cache", sample)
    return root


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def in_browser(url: str) -> tuple[int, int, float, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page()
        page.goto(url + "index.html" + FIRST)
        page.wait_for_function("document.getElementById('status').hasAttribute('data-count')")
        transferred = page.evaluate(
            "performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))"
            ".reduce((sum, e) => sum + e.transferSize, 0)"
        )
        count = int(page.get_attribute("#status", "data-count"))
        typing = [
            page.evaluate(ACT_AND_WAIT, ["type", "input[name=q]", word])
            for word in ("宿舍", "食堂", "考研", "志愿", "")
        ]
        clicks = [
            page.evaluate(ACT_AND_WAIT, ["click", label, ""])
            for label in ("2024-2025学年第一学期", "2023-2024学年第二学期", "2022-2023学年第一学期")
        ]
        browser.close()
    return transferred, count, statistics.median(typing), statistics.median(clicks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = prepare(tmp, args.records)
        cli = [sys.executable, str(ROOT / "build.py"), "--root", str(root)]
        check = timed([*cli, "check"])
        build = timed([*cli, "build", "--out", str(tmp / "public"), "--cache", str(tmp / "cache")])
        files = sum(1 for p in (tmp / "public").rglob("*") if p.is_file())
        server, url = serve(tmp / "public")
        transferred, count, typing, clicks = in_browser(url)
        server.shutdown()
    print(f"records: {args.records}, site files: {files}")
    print(f"(a) build, PDFs cached: {build:.1f} s   (check alone {check:.1f} s; build is {build / check:.1f}x check)")
    print(f"(b) first one-semester search ({count} results): {transferred / 1024:.0f} KB transferred")
    print(
        f"(c) typing to results painted: median {typing:.0f} ms; another semester (loads its file): "
        f"median {clicks:.0f} ms"
    )
    ok = build < 30 and transferred < 1024 * 1024 and typing < 200
    print(f"targets (build < 30 s; first search < 1 MB; typing to results < 200 ms): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
