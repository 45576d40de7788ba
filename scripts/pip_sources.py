"""Tell uv the package sources pip would use here, or say that only pip will do. Used by scripts/setup.sh.

uv reads no pip.conf: without being told, it would ignore a machine's local
wheel folder, mirror index or constraints. What pip would use is taken from
pip's own option parser for ``pip install`` (its files, sections and PIP_*
variables, with pip's precedence and its splitting of lists), not re-parsed.

``python scripts/pip_sources.py CONFIG`` writes CONFIG, a uv.toml readable by
its owner only (index addresses may hold a password: a file, never the command
line, where ``ps`` shows them), and prints the environment uv needs besides,
one ``NAME=value`` a line. It exits 3, writing nothing, when pip is set up in a
way this does not carry over (no index, binary-only, hashes required,
pre-releases, a proxy, trusted hosts, a client certificate): then setup.sh
installs with pip, which honours all of it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

USE_PIP = 3


def pip_install_options():
    """The options ``pip install`` would run with here (pip's own parser: config files, sections, PIP_* variables)."""
    from pip._internal.commands import create_command

    options, _ = create_command("install").parse_args([])
    return options


def not_carried_over(options) -> list[str]:
    """The settings of pip's that uv would not be told of: each means pip installs instead."""
    control = options.format_control
    kept_out = {
        "no-index": options.no_index,
        "only-binary/no-binary": control.only_binary or control.no_binary,
        "require-hashes": options.require_hashes,
        "pre": options.pre,
        "proxy": options.proxy,
        "trusted-host": options.trusted_hosts,
        "client-cert": options.client_cert,
        "a path with spaces": any(" " in path for path in options.constraints),  # UV_CONSTRAINT splits on spaces
    }
    return [name for name, value in kept_out.items() if value]


def uv_settings(options) -> tuple[str, dict[str, str]]:
    """(uv.toml text, environment) that point uv at the sources of ``options``."""
    find_links = [link for link in options.find_links if "://" in link or Path(link).exists()]  # pip skips, uv stops
    lines = ["[pip]", f"index-url = {json.dumps(options.index_url)}"]
    if options.extra_index_urls:
        lines.append(f"extra-index-url = {json.dumps(options.extra_index_urls)}")
        lines.append('index-strategy = "unsafe-best-match"')  # pip looks in every index for each package
    if find_links:
        lines.append(f"find-links = {json.dumps(find_links)}")
    environment = {}
    if options.constraints:
        environment["UV_CONSTRAINT"] = " ".join(options.constraints)
    if options.cert:
        environment["SSL_CERT_FILE"] = options.cert
    return "\n".join(lines) + "\n", environment


def main(config: Path) -> int:
    try:
        options = pip_install_options()
    except Exception as error:  # pip's internals moved: pip itself still knows its settings
        print(f"pip's settings could not be read ({error!r})", file=sys.stderr)
        return USE_PIP
    refused = not_carried_over(options)
    if refused:
        print(f"pip is set up with {', '.join(refused)}", file=sys.stderr)
        return USE_PIP
    text, environment = uv_settings(options)
    descriptor = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with open(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    print("\n".join(f"{name}={value}" for name, value in environment.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
