"""Print, one per line, the uv options that name the package sources pip is configured with on this machine.

uv reads no pip.conf: without these options it would ignore a machine's local wheel folder, mirror index or
constraints (pip config: files and PIP_* variables alike). pip considers every index it is given for each package,
so uv is told to do the same (``--index-strategy unsafe-best-match``). Used by scripts/setup.sh.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

OPTIONS = {
    "index-url": "--index-url",
    "extra-index-url": "--extra-index-url",
    "find-links": "--find-links",
    "constraint": "--constraint",
}


def pip_settings() -> list[tuple[str, str]]:
    """(setting, value) for each source pip is configured with, in pip's order; lists are split."""
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=60
    ).stdout
    settings = []
    for line in listed.splitlines():
        key, _, quoted = line.partition("=")
        name = key.rsplit(".", 1)[-1]
        if name in OPTIONS and quoted:
            settings.extend((name, value) for value in shlex.split(shlex.split(quoted)[0]))
    return settings


def uv_options(settings: list[tuple[str, str]]) -> list[str]:
    options: list[str] = []
    for name, value in settings:
        local = value.removeprefix("file://") if value.startswith(("/", "file://")) else None
        if local is not None and not Path(local).exists():
            continue  # pip warns and goes on; uv would stop
        pair = [OPTIONS[name], value]
        if not any(options[i : i + 2] == pair for i in range(0, len(options), 2)):
            options.extend(pair)
    if "--extra-index-url" in options:
        options.extend(["--index-strategy", "unsafe-best-match"])
    return options


if __name__ == "__main__":
    print("\n".join(uv_options(pip_settings())))
