"""``outbox``: the administrator's view of the outbox — list, retry one, export and import.

Export/import moves the undelivered records to a new machine: the export
holds each entry and its state; the import adds them back as pending and
skips tokens already known (waiting or sent), so importing twice, or into
the machine that exported, makes no second record. Each answer is data; the
command line words it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from liaison.core.atomic import write_durably
from liaison.core.project import Project

from .outbox import SENT, EntryState, NotSaved
from .worker import Submitter, open_submitter

FORMAT = "liaison-outbox/1"


@dataclass
class Listed:
    rows: list[dict]  # the undelivered entries: token, record_id, state, age_seconds, tries, last_error

    ok = True


@dataclass
class Retried:
    token: str
    state: EntryState  # after the one attempt

    @property
    def ok(self) -> bool:
        return self.state.state == SENT


@dataclass
class Exported:
    count: int
    path: Path

    ok = True


@dataclass
class Imported:
    added: int
    known: int  # already in this outbox (waiting or sent): not added again

    ok = True


OutboxAnswer = Listed | Retried | Exported | Imported


def open_for(project: Project, data_dir: Path | None) -> Submitter:
    data_dir = Path(data_dir or project.data_dir)
    if not (data_dir / "outbox").is_dir():
        raise ValueError(f"{data_dir} 中没有表单服务的待同步记录（outbox/）。请用 --data 指定表单服务的数据目录。")
    return open_submitter(project.config, project.root, data_dir)


def outbox_command(
    project: Project,
    data_dir: Path | None,
    retry: str | None = None,
    export_to: Path | None = None,
    import_from: Path | None = None,
) -> OutboxAnswer:
    """``outbox`` with its options: import, export, retry one, or list (ValueError, in Chinese, for a bad ask).

    Where the form service has never run (no ``.liaison/outbox/`` in the repository), the list is empty.
    """
    asks = (retry, export_to, import_from)
    if all(ask is None for ask in asks) and data_dir is None and not (project.data_dir / "outbox").is_dir():
        return Listed([])
    submitter = open_for(project, data_dir)
    if import_from is not None:
        return import_file(submitter, import_from)
    if export_to is not None:
        items = submitter.outbox.export()
        write_durably(export_to, json.dumps({"format": FORMAT, "entries": items}, ensure_ascii=False).encode("utf-8"))
        return Exported(len(items), export_to)
    if retry is not None:
        state = submitter.retry_now(retry.strip())
        if state is None:
            raise ValueError(f"待同步记录中没有“{retry}”。请用 python build.py outbox 查看编号（token）。")
        return Retried(retry, state)
    return Listed(submitter.report())


def import_file(submitter: Submitter, path: Path) -> Imported:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        items = data["entries"] if data.get("format") == FORMAT else None
    except (ValueError, KeyError, AttributeError):
        items = None
    if not isinstance(items, list):
        raise ValueError(f"{path} 不是 python build.py outbox --export 导出的文件。")
    try:
        added, known = submitter.outbox.import_entries(items)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path} 中有一条记录不完整（{err}），未导入其余记录之后的部分。") from None
    except NotSaved as err:
        raise ValueError(f"{err}，{path} 未能全部导入。腾出空间后再导入一次即可（已导入的记录不会重复）。") from None
    return Imported(added, known)
