"""`make run` ends by serving the site with scripts/preview.py: Chinese lines, no English, a busy port said."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request

from conftest import PROJECT
from ports import free_port
from processes import said, started

PREVIEW = PROJECT / "scripts" / "preview.py"


def _answers(port: int) -> bytes | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
            return answer.read()
    except OSError:
        return None


def test_the_site_is_served_in_chinese_and_sigterm_stops_it_quietly(tmp_path):
    (tmp_path / "index.html").write_text("<p>联系记录</p>", encoding="utf-8")
    port = free_port()
    with started(
        [sys.executable, str(PREVIEW), str(tmp_path), str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        deadline = time.monotonic() + 30
        while (page := _answers(port)) is None:
            assert time.monotonic() < deadline and process.poll() is None, said(process)
            time.sleep(0.05)
        assert "联系记录" in page.decode("utf-8")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    output = (out + err).decode("utf-8")
    assert process.returncode == 0, output
    assert f"正在 http://127.0.0.1:{port}/ 提供" in output
    assert "Serving" not in output and "GET /" not in output and "Traceback" not in output, output


def test_a_busy_port_is_said_in_chinese(tmp_path):
    (tmp_path / "index.html").write_text("<p>联系记录</p>", encoding="utf-8")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, str(PREVIEW), str(tmp_path), str(port)], capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 1
    assert f"无法在 127.0.0.1:{port} 上提供网站" in done.stderr and "PORT=8080 make run" in done.stderr
    assert "Traceback" not in done.stderr
