"""考核方案: its items, their rules, the default scheme of seed 003 and the 100-point total."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.core.errors import Collector, DomainError
from app.models.assessments import AssessmentEntry, AssessmentInput, AssessmentItem, AssessmentRound, AssessmentScheme
from app.services.assessments.sources import SOURCES

TOTAL_POINTS = Decimal(100)  # 百分制: a scheme's items add up to 100
AUTO, MANUAL, VOTES = "auto", "manual", "votes"
KINDS = {
    AUTO: _l("Automatic (from the figures)"),
    MANUAL: _l("Entered by the assessor"),
    VOTES: _l("Public evaluation (votes)"),
}
SUBJECTS = {"team": _l("Work team (grid)"), "member": _l("Each member")}

CONDUCT, PERFORMANCE = "思想作风表现", "工作业绩"
DEFAULT_SCHEME = "网格化管理百分制考核"
# seed 003: 20 points conduct (宣传报道 5, 出勤到位 5, 组织学习巡查 5, 群众评价 5) and 80 points
# performance split evenly over 问题上报率, 发现率, 处置率 and 群众满意率
DEFAULT_ITEMS = (
    (CONDUCT, "宣传报道情况", 5, MANUAL, "member", None, "工作动态、工作简报、工作研究。"),
    (CONDUCT, "出勤到位情况", 5, MANUAL, "member", None, "出满勤（含请假）者得5分，未经请假而缺勤或不在岗被通报者酌情扣分。"),
    (CONDUCT, "组织学习、巡查情况", 5, MANUAL, "member", None, "集中学习、汇报、参加会议、参与巡查，缺勤者酌情扣分。"),
    (CONDUCT, "群众评价满意程度", 5, VOTES, "team", None, "不少于50人的村干部和群众代表会议测评：满意5分、一般满意4分、不满意3分，按得票数比例计分。"),
    (PERFORMANCE, "问题上报率", 20, AUTO, "team", "reporting_rate", "网格自己的人登记上平台 / 收集。"),
    (PERFORMANCE, "问题发现率", 20, AUTO, "team", "discovery_rate", "网格自行发现 / 收集。"),
    (PERFORMANCE, "问题处置率", 20, AUTO, "team", "handling_rate", "本级办结（未移交上级）/ 收集。"),
    (PERFORMANCE, "群众满意率", 20, AUTO, "team", "satisfaction_rate", "（满意 + 基本满意）/ 已评议。"),
)  # fmt: skip


def seed_default_scheme(session):
    """The seed-003 scheme, once (an Admin's edits are never overwritten)."""
    if session.scalar(select(AssessmentScheme.id).where(AssessmentScheme.name == DEFAULT_SCHEME)) is not None:
        return None
    scheme = AssessmentScheme(name=DEFAULT_SCHEME, note="种子文档003：思想作风表现20分，工作业绩80分。")
    session.add(scheme)
    for order, (section, name, points, kind, subject, source, description) in enumerate(DEFAULT_ITEMS):
        item = AssessmentItem(
            scheme=scheme, section=section, name=name, points=Decimal(points), kind=kind, subject=subject,
            source=source, description=description, sort_order=order,
        )  # fmt: skip
        fill_defaults(item)
        session.add(item)
    session.flush()
    return scheme


def fill_defaults(item):
    if item.kind == AUTO:
        item.full_at = Decimal(100) if item.full_at is None else item.full_at
        item.zero_at = Decimal(0) if item.zero_at is None else item.zero_at
    if item.kind == VOTES:
        item.score_satisfied = Decimal(5) if item.score_satisfied is None else item.score_satisfied
        item.score_basic = Decimal(4) if item.score_basic is None else item.score_basic
        item.score_unsatisfied = Decimal(3) if item.score_unsatisfied is None else item.score_unsatisfied


def scheme_total(session, scheme_id):
    return session.scalar(
        select(func.coalesce(func.sum(AssessmentItem.points), 0)).where(AssessmentItem.scheme_id == scheme_id)
    )


def check_total(session, scheme):
    total = Decimal(str(scheme_total(session, scheme.id)))
    if total != TOTAL_POINTS:
        raise DomainError(
            _l("The items of %(scheme)s add up to %(total)s points; a scheme must total 100.", scheme=scheme.name,
               total=f"{total:g}"),
        )  # fmt: skip


def validate_scheme(session, scheme):
    scheme.name = (scheme.name or "").strip()
    if not scheme.name:
        raise DomainError(_l("Enter a name."), field="name")
    with session.no_autoflush:
        clash = session.scalar(
            select(AssessmentScheme.id).where(
                AssessmentScheme.name == scheme.name, AssessmentScheme.id != (scheme.id or 0)
            )
        )
    if clash:
        raise DomainError(_l("A scheme named %(name)s already exists.", name=scheme.name), field="name")


def check_scheme_deletable(session, scheme):
    if session.scalar(select(AssessmentRound.id).where(AssessmentRound.scheme_id == scheme.id).limit(1)):
        raise DomainError(_l("This scheme has assessments; it cannot be deleted."))
    if session.scalar(select(AssessmentItem.id).where(AssessmentItem.scheme_id == scheme.id).limit(1)):
        raise DomainError(_l("Delete the scheme's items first."))


def validate_item(session, item):
    """Every problem of the item at once."""
    errors = Collector()
    with errors.check():
        if not (item.name or "").strip():
            raise DomainError(_l("Enter a name."), field="name")
    with errors.check():
        if item.points is None or not Decimal(0) < Decimal(item.points) <= TOTAL_POINTS:
            raise DomainError(_l("Points must be more than 0 and at most 100."), field="points")
    with errors.check():
        if item.kind not in KINDS:
            raise DomainError(_l("Choose how the item is scored."), field="kind")
    with errors.check():
        if item.subject not in SUBJECTS:
            raise DomainError(_l("Choose whom the item scores."), field="subject")
    if item.kind == AUTO:
        with errors.check():
            source = SOURCES.get(item.source)
            if source is None:
                raise DomainError(_l("Choose the figure an automatic item is computed from."), field="source")
            item.subject = source.subject  # a figure is a team's or a member's by nature
        fill_defaults(item)
        with errors.check():
            full, zero = Decimal(item.full_at), Decimal(item.zero_at)
            if not (Decimal(0) <= zero < full <= Decimal(100)):
                raise DomainError(
                    _l("The full-points threshold must be above the zero-points one, both between 0 and 100 %."),
                    field="full_at",
                )
    else:
        item.source = None
    if item.kind == VOTES:
        fill_defaults(item)
        with errors.check():
            bases = (item.score_satisfied, item.score_basic, item.score_unsatisfied)
            if not (Decimal(bases[0]) >= Decimal(bases[1]) >= Decimal(bases[2]) >= 0 and Decimal(bases[0]) > 0):
                raise DomainError(
                    _l("Vote scores must go down from satisfied to unsatisfied (e.g. 5, 4, 3)."),
                    field="score_satisfied",
                )
    errors.raise_if_any()


def check_item_deletable(session, item):
    used = session.scalar(select(AssessmentInput.id).where(AssessmentInput.item_id == item.id).limit(1))
    used = used or session.scalar(select(AssessmentEntry.id).where(AssessmentEntry.item_id == item.id).limit(1))
    if used:
        raise DomainError(_l("This item has entries or results; it cannot be deleted."))
