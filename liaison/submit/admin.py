"""``build.py outbox``: the administrator's view of the outbox — list, retry one, export and import.

Export/import moves the undelivered records to a new machine: the export
holds each entry and its state; the import adds them back as pending and
skips tokens already known (waiting or sent), so importing twice, or into
the machine that exported, makes no second record.
"""

from __future__ import annotations

import json
from pathlib import Path

from liaison.core.atomic import write_durably
from liaison.core.project import Project

from .worker import Submitter, open_submitter

STATES = {"pending": "待同步", "deferred": "推迟重试", "needs-attention": "待人工处理", "sent": "已送达"}
FORMAT = "liaison-outbox/1"


def open_for(project: Project, data_dir: Path | None) -> Submitter:
    data_dir = Path(data_dir or project.root / ".liaison")
    if not (data_dir / "outbox").is_dir():
        raise ValueError(f"{data_dir} 中没有表单服务的待同步记录（outbox/）。请用 --data 指定表单服务的数据目录。")
    return open_submitter(project.config, project.root, data_dir)


def outbox_command(
    project: Project,
    data_dir: Path | None,
    retry: str | None,
    export_to: Path | None,
    import_from: Path | None,
    fmt: str,
) -> tuple[str, bool]:
    """(what to print, success) for ``build.py outbox`` with its options."""
    submitter = open_for(project, data_dir)
    if import_from is not None:
        return import_file(submitter, import_from), True
    if export_to is not None:
        items = submitter.outbox.export()
        write_durably(export_to, json.dumps({"format": FORMAT, "entries": items}, ensure_ascii=False).encode("utf-8"))
        return f"已导出 {len(items)} 条未送达的记录到 {export_to}。", True
    if retry is not None:
        state = submitter.retry_now(retry.strip())
        if state is None:
            raise ValueError(f"待同步记录中没有“{retry}”。请用 python build.py outbox 查看编号（token）。")
        message = f"{retry}：{STATES.get(state.state, state.state)}"
        return message + (f"（{state.last_error}）" if state.last_error else ""), state.state == "sent"
    rows = submitter.report()
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n", True
    return table(rows), True


def import_file(submitter: Submitter, path: Path) -> str:
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
    return f"已导入 {added} 条记录，{known} 条原本就有（未重复导入）。表单服务运行时会自动提交。"


def table(rows: list[dict]) -> str:
    if not rows:
        return "没有待同步的记录。"
    lines = [f"共 {len(rows)} 条未送达："]
    for row in rows:
        age = row["age_seconds"] or 0
        lines.append(
            f"{row['token']}  {row['record_id']}  {STATES.get(row['state'], row['state'])}  "
            f"已等待 {age // 3600} 小时 {age % 3600 // 60} 分  尝试 {row['tries']} 次"
            + (f"\n    上次错误：{row['last_error']}" if row["last_error"] else "")
        )
    return "\n".join(lines)
