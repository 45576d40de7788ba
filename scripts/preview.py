"""Serve a built site on this machine only, as `make run` ends: `python scripts/preview.py public 8000`.

Python's own `http.server` says "Serving HTTP on …" and answers a busy port
with a traceback, in English; this says both in Chinese and logs no request.
Ctrl-C or SIGTERM stop it quietly (exit 0).
"""

from __future__ import annotations

import functools
import http.server
import signal
import sys
from pathlib import Path


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:  # noqa: A002 - the standard library's name
        pass  # one line per request would bury the Chinese lines above


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1].isdigit():
        print("用法：python scripts/preview.py 网站目录 端口", file=sys.stderr)
        return 2
    folder, port = Path(argv[0]), int(argv[1])
    if not (folder / "index.html").is_file():
        print(f"错误：{folder} 中没有 index.html，请先运行 python build.py build。", file=sys.stderr)
        return 1
    handler = functools.partial(QuietHandler, directory=str(folder))
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as error:
        print(
            f"错误：无法在 127.0.0.1:{port} 上提供网站（{error.strerror or error}）。"
            "端口是否已被占用？可用 PORT=8080 make run 换一个端口。",
            file=sys.stderr,
        )
        return 1
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    print(f"正在 http://127.0.0.1:{port}/ 提供 {folder}（仅本机可访问），按 Ctrl-C 停止。", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
