"""The merge request's review page (``review/index.html``): what a branch does to the records, for 思政科.

For every record file the branch adds, changes, moves or removes relative to
its base, the page shows the record as the customer's form lays it out (the
PDF's own rows), its PDF (same renderer and cache as every other PDF), a
field-by-field comparison with the changed characters marked, the problems
``check`` found, and 审核提示: soft hints from ``config.yaml``'s ``review:``
that never fail the pipeline but deserve a look.

Gathered first (:func:`gather_review`), then written whole or not at all
(:func:`write_review`): the page and the PDFs go into a temporary folder that
replaces ``review/`` in one move.
"""

from __future__ import annotations

import datetime
import difflib
import glob
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from liaison.core.checks import CheckResult
from liaison.core.config import ReviewSettings
from liaison.core.problems import Problem
from liaison.core.project import Project, read_record_bytes
from liaison.core.records import Record, parse_record
from liaison.core.semesters import Semester
from liaison.git.branch import FileChange, branch_changes
from liaison.git.closed import REOPEN, check_with_history, semesters_closed_now
from liaison.git.history.model import ADDED, CHANGED, DELETED, MOVED, Commit, field_changes
from liaison.git.repo import Repo
from liaison.git.verdict import NotReady, require_ready
from liaison.outputs.folders import claim_output_dir, replace_dir
from liaison.outputs.pdf import FormRow, build_pdfs, display_value, form_rows, form_title
from liaison.outputs.templating import environment

TEMPLATE = "review/index.html"
REVIEW_MARKER = ".liaison-review"
REVIEW_NOTE = "由 liaison 生成的审核预览目录，每次整体替换。"


# The review, as data ---------------------------------------------------------


@dataclass(frozen=True)
class Hint:
    """One 审核提示: ``code`` names the rule (and its setting in config.yaml), ``message`` is for 思政科."""

    code: str  # future, late, short, duplicate, size, inactive, closed
    title: str
    message: str


@dataclass(frozen=True)
class FieldDiff:
    """One field that differs: both values as printed, and each cut into (changed?, text) parts."""

    key: str
    label: str
    old: str
    new: str
    old_parts: tuple[tuple[bool, str], ...]
    new_parts: tuple[tuple[bool, str], ...]
    long: bool


@dataclass
class ReviewItem:
    kind: str  # 新增 / 修改 / 移动 / 删除
    record_id: str
    path: str
    old_path: str | None
    new_path: str | None
    shown: Record | None  # the new version, or the removed one for a deletion
    rows: list[FormRow]
    diffs: list[FieldDiff]
    move: str  # "联系时间由 … 改为 …" for a move, else ''
    problems: list[Problem]
    hints: list[Hint]
    commits: tuple[Commit, ...]
    valid: bool  # the shown version has no problem in its content: it gets a PDF
    pdf: str = ""  # file name under review/, '' when no PDF was made

    @property
    def heading(self) -> str:
        """领导姓名 · 联系时间 · 联系对象 of the shown version, or the record id when it could not be read."""
        data = self.shown.data if self.shown else {}
        parts = [display_value(None, data[k]) for k in ("leader", "date", "target") if data.get(k)]
        return " · ".join(parts) or self.record_id

    @property
    def corrections(self) -> int:
        """How often the record was corrected in this submission: a new record's commits after the first, every
        commit of a correction to a record main has; a record corrected twice is one record, corrected twice."""
        if self.kind == ADDED:
            return max(len(self.commits) - 1, 0)
        return 0 if self.kind == DELETED else len(self.commits)

    @property
    def steps(self) -> str:
        """「提交后又更正 2 次」 for a new record corrected on the branch, 「更正 2 次」 for a correction made in steps."""
        if self.kind == ADDED and self.corrections:
            return f"提交后又更正 {self.corrections} 次"
        return f"更正 {self.corrections} 次" if self.corrections > 1 else ""

    def summary(self) -> str:
        """One line for the job log."""
        who = self.heading
        changed = f"；改动：{'、'.join(d.label for d in self.diffs)}" if self.kind not in (ADDED, DELETED) else ""
        steps = f"；{self.steps}" if self.steps else ""
        verdict = f"错误 {len(self.problems)} 处" if self.problems else "检查通过"
        hints = f"，审核提示：{'、'.join(h.title for h in self.hints)}" if self.hints else ""
        return f"【{self.kind}】{self.record_id} {who}{changed}{steps}；{verdict}{hints}"


@dataclass
class Review:
    base: str
    head: str
    items: list[ReviewItem] = field(default_factory=list)
    other_problems: list[Problem] = field(default_factory=list)  # config.yaml, roster.yaml
    warnings: list[str] = field(default_factory=list)
    rendered: int = 0

    def summary_lines(self) -> list[str]:
        """The page's first sentence (本次提交, compared with 主分支: the merge request's words), then a line a record."""
        if not self.items:
            return ["审核预览：与主分支相比，本次提交没有改动任何联系记录。"]
        errors = sum(1 for i in self.items if i.problems)
        hinted = sum(1 for i in self.items if i.hints)
        corrected = sum(1 for i in self.items if i.kind == ADDED and i.corrections)
        kinds = "、".join(f"{kind} {n} 条" for kind, n in self.counts.items())
        line = f"审核预览：与主分支相比，本次提交改动了 {len(self.items)} 条联系记录（{kinds}"
        line += f"，其中 {corrected} 条新增的记录提交后又更正过）" if corrected else "）"
        line += f"，{errors} 条有错误，{hinted} 条有审核提示。"
        return [line] + [item.summary() for item in self.items]

    @property
    def counts(self) -> dict[str, int]:
        """How many records of each kind, in the order 新增, 修改, 移动, 删除."""
        found = {kind: sum(1 for i in self.items if i.kind == kind) for kind in (ADDED, CHANGED, MOVED, DELETED)}
        return {kind: n for kind, n in found.items() if n}


# Comparing --------------------------------------------------------------------


def char_diff(old: str, new: str) -> tuple[tuple[tuple[bool, str], ...], tuple[tuple[bool, str], ...]]:
    """``old`` and ``new`` cut into (changed?, text) parts, the changed characters marked on each side."""
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    old_parts: list[tuple[bool, str]] = []
    new_parts: list[tuple[bool, str]] = []
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if old[a1:a2]:
            old_parts.append((op != "equal", old[a1:a2]))
        if new[b1:b2]:
            new_parts.append((op != "equal", new[b1:b2]))
    return tuple(old_parts), tuple(new_parts)


def field_diffs(old: Record, new: Record, project: Project) -> list[FieldDiff]:
    """What a correction changed, in the schema's order with its labels."""
    diffs = []
    for change in field_changes(old.data, new.data, project.schema):
        spec = project.schema.field(change.key)
        before, after = display_value(spec, change.old), display_value(spec, change.new)
        long = bool(spec and spec.widget == "textarea") or "\n" in before + after
        # Characters are marked inside long text; a short value (a number, a date, a name) changes whole.
        parts = (
            char_diff(before, after)
            if long
            else (((True, before),) if before else (), ((True, after),) if after else ())
        )
        diffs.append(FieldDiff(change.key, change.label, before, after, *parts, long))
    return diffs


def move_line(old: Record, new: Record, project: Project) -> str:
    """ "联系时间由 … 改为 …" and where the file went, for a record the branch moved."""
    spec = project.schema.field("date")
    label = spec.label if spec else "date"
    before, after = old.data.get("date"), new.data.get("date")
    moved = f"文件由 {old.path} 移至 {new.path}"
    if before == after:
        return f"{moved}。"
    return f"{label}由 {display_value(spec, before)} 改为 {display_value(spec, after)}，{moved}。"


# Hints --------------------------------------------------------------------------


def _day(value) -> datetime.date | None:
    return value if isinstance(value, datetime.date) else None


def date_hints(record: Record, submitted: datetime.date, settings: ReviewSettings, labels: dict) -> list[Hint]:
    """A contact dated after it was submitted, or long before."""
    day = _day(record.data.get("date"))
    if day is None:
        return []
    shown = display_value(None, day)
    if day > submitted:
        return [
            Hint(
                "future",
                "日期在提交之后",
                f"{labels['date']} {shown} 晚于提交日期 {display_value(None, submitted)}：记录的联系尚未发生，请核实日期。",
            )
        ]
    late = (submitted - day).days
    if settings.late_days and late > settings.late_days:
        return [
            Hint(
                "late",
                "补填较晚",
                f"{labels['date']} {shown} 比提交日期早 {late} 天（超过 {settings.late_days} 天），属于补填，请核实日期与内容。",
            )
        ]
    return []


def content_hints(record: Record, settings: ReviewSettings, labels: dict) -> list[Hint]:
    content = record.data.get("content")
    if not isinstance(content, str) or not settings.min_content_chars:
        return []
    length = len("".join(content.split()))
    if length >= settings.min_content_chars:
        return []
    return [
        Hint(
            "short",
            "内容简略",
            f"{labels['content']}只有 {length} 字（少于 {settings.min_content_chars} 字），可能过于简略，请确认是否需要补充。",
        )
    ]


def size_hints(record: Record, settings: ReviewSettings, labels: dict) -> list[Hint]:
    size, place = record.data.get("size"), record.data.get("place")
    if not isinstance(size, int) or not isinstance(place, str):
        return []
    keyword, most = settings.size_limit(place)
    if not most or size <= most:
        return []
    where = f"{labels['place']}含“{keyword}”，通常不超过 {most} 人" if keyword else f"一般不超过 {most} 人"
    return [Hint("size", "人数偏多", f"{labels['size']} {size} 人，{where}（{labels['place']}：{place}），请核实。")]


def leader_hints(record: Record, project: Project) -> list[Hint]:
    leader = project.roster.by_id.get(record.data.get("leader_id", "")) if project.roster else None
    if leader is None or leader.active:
        return []
    return [
        Hint(
            "inactive",
            "领导已离任",
            f"{leader.name}（{leader.id}）在领导干部名单中已标记为离任（active: false），请确认这条记录由谁、为何提交。",
        )
    ]


def duplicate_hints(record: Record, project: Project, labels: dict) -> list[Hint]:
    """Another record of the same leader on the same day with the same 联系对象 (by the id's date and 工号)."""
    day, leader_id, target = _day(record.data.get("date")), record.data.get("leader_id"), record.data.get("target")
    if day is None or not isinstance(leader_id, str) or not isinstance(target, str):
        return []
    pattern = f"{glob.escape(str(project.root))}/records/{day.year}/{day.isoformat()}-{glob.escape(leader_id)}-*.yaml"
    same = []
    for path in sorted(glob.glob(pattern)):
        rel = Path(path).relative_to(project.root).as_posix()
        if rel == record.path:
            continue
        raw, _ = read_record_bytes(project.root, rel)  # never through a link
        other, _ = parse_record(rel, raw, project.schema, None) if raw is not None else (None, [])
        if other is not None and other.data.get("target") == target:
            same.append(other.id)
    if not same:
        return []
    return [
        Hint(
            "duplicate",
            "可能重复",
            f"同一领导同一天还有{labels['target']}同为“{target}”的记录：{'、'.join(same)}。请确认不是同一次联系提交了两次。",
        )
    ]


def closed_hints(records: list[Record], closed: set[Semester], change: FileChange, project):
    """A change reaching into a closed semester, with the Reopen-Reason its commits give."""
    calendar = project.config.calendar
    touched = sorted({calendar.semester_of(d) for r in records if (d := _day(r.data.get("date")))} & set(closed))
    if not touched:
        return []
    reasons = [c.trailers[REOPEN] for c in change.commits if c.trailers.get(REOPEN)]
    why = f"重开理由：{'；'.join(reasons)}" if reasons else f"提交说明中没有写明“{REOPEN}: 理由”"
    titles = "、".join(s.title for s in touched)
    return [Hint("closed", "已关闭学期", f"这条记录属于已关闭的{titles}（已导出存档）；{why}。")]


def record_hints(record: Record, submitted: datetime.date, project: Project) -> list[Hint]:
    """Every hint about a record's content (not about how it was changed)."""
    settings = project.config.review
    labels = {spec.key: spec.label for spec in project.schema.fields}
    return (
        date_hints(record, submitted, settings, labels)
        + content_hints(record, settings, labels)
        + duplicate_hints(record, project, labels)
        + size_hints(record, settings, labels)
        + leader_hints(record, project)
    )


# Gathering ------------------------------------------------------------------------


def _parse(path: str | None, raw: bytes | None, project: Project) -> tuple[Record | None, list[Problem]]:
    if path is None or raw is None:
        return None, []
    return parse_record(path, raw, project.schema, None)


def _submitted(change: FileChange, project: Project) -> datetime.date:
    """The day a new record was first submitted (corrections after it do not make it late), or the day of a
    correction's last commit; its author's time, where the university is; today when there is no commit."""
    if not change.commits:
        return project.today()
    commit = change.commits[0] if change.kind == ADDED else change.commits[-1]
    return project.config.local(commit.author_time).date()


def review_item(change: FileChange, project: Project, result: CheckResult, closed: set) -> ReviewItem:
    (old, old_problems), (new, _) = (
        _parse(change.old_path, change.old_raw, project),
        _parse(change.new_path, change.new_raw, project),
    )
    shown = new or old
    problems = [p for p in result.problems if p.path in (change.old_path, change.new_path)]
    # A closed semester reopened without a reason fails check, but the record itself is sound.
    content = [p for p in problems if p not in result.process_problems] if new else old_problems
    diffs = field_diffs(old, new, project) if old and new else []
    hints = [] if new is None else record_hints(new, _submitted(change, project), project)
    hints += closed_hints([r for r in (old, new) if r], closed, change, project)
    return ReviewItem(
        kind=change.kind,
        record_id=Path(change.path).stem,
        path=change.path,
        old_path=change.old_path,
        new_path=change.new_path,
        shown=shown,
        rows=form_rows(shown, project.schema) if shown else [],
        diffs=diffs,
        move=move_line(old, new, project) if change.kind == MOVED and old and new else "",
        problems=problems,
        hints=hints,
        commits=change.commits,
        valid=shown is not None and not content and _day(shown.data.get("date")) is not None,
    )


def gather_review(project: Project, base: str, ref: str = "HEAD") -> Review:
    """Everything the page shows, without writing anything; ``base`` must name a commit (CommitNotFound)."""
    if project.config is None:
        raise NotReady("config.yaml 有问题（见上），无法生成审核预览。请修改后重新运行。", project.problems)
    require_ready(project, renders=True)  # the page is an artifact anyone in the merge request can open
    changes = branch_changes(project.root, base, ref)  # first: it turns a bad base into a CommitNotFound
    repo = Repo(project.root)
    review = Review(base=repo.resolve(base) or base, head=repo.resolve(ref) or ref)
    # check resolves relative paths against the working directory, so it gets absolute ones.
    paths = [str(project.root / c.new_path) for c in changes if c.new_path]
    result = check_with_history(project, paths, since=base)
    # Closed now (a closed/ tag, or the configured day has come): a change to one needs its Reopen-Reason.
    closed = semesters_closed_now(project)
    review.items = [review_item(change, project, result, closed) for change in changes]
    listed = {p for item in review.items for p in item.problems}
    review.other_problems = [p for p in result.problems if p not in listed]
    return review


# Writing ----------------------------------------------------------------------------


def review_html(review: Review, project: Project) -> str:
    env = environment(project.root / "templates")
    return env.get_template(TEMPLATE).render(
        review=review,
        counts=review.counts,
        form_title=form_title(project.config),
        office=project.config.office,
        summary=review.summary_lines()[0],
        shown=project.config.shown,  # every time on the page as everywhere else, in the configured zone
    )


def write_review(project: Project, review: Review, out_dir: Path, cache_dir: Path, jobs: int | None = None) -> None:
    """Write ``out_dir/index.html`` and ``out_dir/<id>.pdf``, replacing ``out_dir`` whole or leaving it as it was."""
    out_dir = Path(out_dir)
    if out_dir.exists():  # refuses a folder that is not an earlier review; never creates one
        claim_output_dir(out_dir, REVIEW_MARKER, REVIEW_NOTE)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        claim_output_dir(staging, REVIEW_MARKER, REVIEW_NOTE)
        records = [item.shown for item in review.items if item.valid and item.shown]
        pdfs = build_pdfs(
            project.root,
            project.schema,
            project.config,
            project.roster,
            records,
            staging,
            cache_dir,
            jobs,
            mirror=False,
            layout={r.id: f"{r.id}.pdf" for r in records},
        )
        review.rendered, review.warnings = pdfs.rendered, pdfs.warnings
        for item in review.items:
            item.pdf = f"{item.shown.id}.pdf" if item.shown and item.shown.id in pdfs.paths else ""
        (staging / "index.html").write_text(review_html(review, project), encoding="utf-8")
        os.chmod(staging, 0o755)  # mkdtemp's 0700 would hide the page from a web server's user
        replace_dir(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def build_review(project: Project, base: str, out_dir: Path, cache_dir: Path, jobs: int | None = None) -> Review:
    """``build.py review``: gather what the branch changed since ``base``, then write ``out_dir`` whole."""
    review = gather_review(project, base)
    write_review(project, review, out_dir, cache_dir, jobs)
    return review
