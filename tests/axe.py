"""axe-core (tools/node_modules, pinned by tools/package-lock.json) run on a page in Chromium: its violations.

The page's context needs ``bypass_csp=True``: the form's CSP allows no
script but its own, and axe arrives as one.
"""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).resolve().parent.parent / "tools" / "node_modules" / "axe-core" / "axe.min.js"


def violations(page) -> list[str]:
    """axe's violations of WCAG 2.x A/AA and its best practices on the page as it is now, one line each."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations.map(
            v => v.id + ' (' + v.impact + '): ' + v.nodes.map(n => n.target.join(' ')).join(', '))"""
    )
    return list(found)
