"""The reminders' ledger: who was reached in which round by which channel, so a round never sends twice."""

from __future__ import annotations

import json
from pathlib import Path

from liaison.core import dates
from liaison.core.atomic import write_durably

LEDGER_FOLDER = (".cache", "remind", "ledger.json")


def default_ledger_path(root: Path) -> Path:
    """``<root>/.cache/remind/ledger.json``: kept in the pipeline's cache between runs."""
    return Path(root).joinpath(*LEDGER_FOLDER)


class Ledger:
    """Who has been reached in which round by which channel: a JSON file, written after every send."""

    def __init__(self, path: Path):
        self.path = path
        self.data: dict = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def done(self, round_key: str, who: str, channel: str) -> bool:
        return channel in self.data.get(round_key, {}).get(who, {})

    def mark(self, round_key: str, who: str, channel: str) -> None:
        when = dates.now("UTC").isoformat()
        self.data.setdefault(round_key, {}).setdefault(who, {})[channel] = when
        write_durably(self.path, json.dumps(self.data, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8"))
