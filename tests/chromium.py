"""Debian's chromium for Playwright, as this machine needs it: shared by the tests and bench/site.py."""

from __future__ import annotations

EXECUTABLE = "/usr/bin/chromium"
# As root Chromium needs --no-sandbox; without the networking flags it keeps trying
# to reach Google's hosts, which this machine's closed network refuses.
ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
    "--no-first-run",
    "--disable-sync",
]


def launch(playwright):
    """A headless Debian chromium; Playwright never downloads a browser of its own here."""
    return playwright.chromium.launch(executable_path=EXECUTABLE, args=ARGS)
