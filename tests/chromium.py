"""Debian's chromium for Playwright, as this machine needs it: shared by the tests and bench/site.py."""

from __future__ import annotations

from pathlib import Path

# Debian's chromium-headless-shell (scripts/setup.sh): the same Blink and V8 build as Debian's chromium, without
# the desktop browser around them. It is what Playwright itself runs for a headless Chromium, and it burns about
# a quarter of the CPU the full browser in its --headless mode does for the same pages (a fresh context and its
# renderer: 0.17 s against 0.68 s), which is most of what the browser tests cost.
EXECUTABLE = "/usr/lib/chromium/chromium-headless-shell"
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
    if not Path(EXECUTABLE).exists():
        raise RuntimeError(f"{EXECUTABLE} is missing: run scripts/setup.sh (Debian package chromium-headless-shell)")
    return playwright.chromium.launch(executable_path=EXECUTABLE, args=ARGS)
