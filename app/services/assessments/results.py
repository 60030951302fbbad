"""The stored results of a round as pages and Excel read them: ranked tables (only the rows in
the reader's scope) and the points behind each score."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.core.excel import workbook_sheets
from app.models.assessments import AssessmentEntry, AssessmentScore
from app.models.grids import Grid
from app.services import scope
from app.services.assessments.rounds import NO_DATA, period_title

SUBJECT_TITLES = {"person": _l("People"), "team": _l("Work teams"), "unit": _l("Units")}


def ranked(session, rnd, subject, clause=None):
    """The round's scores of `subject` in the scope, best first (unscored last)."""
    clause = clause if clause is not None else scope.clause_for(AssessmentScore)
    return session.scalars(
        select(AssessmentScore)
        .where(AssessmentScore.round_id == rnd.id, AssessmentScore.subject == subject, clause)
        .order_by(AssessmentScore.rank.is_(None), AssessmentScore.rank, AssessmentScore.name, AssessmentScore.id)
    ).all()


def entries_of(session, score_ids):
    """{score id: [entry]} in one query."""
    out = {i: [] for i in score_ids}
    if not score_ids:
        return out
    for entry in session.scalars(
        select(AssessmentEntry)
        .where(AssessmentEntry.score_id.in_(score_ids))
        .order_by(AssessmentEntry.sort_order, AssessmentEntry.id)
    ):
        out[entry.score_id].append(entry)
    return out


OWNER_TITLES = {"person": (_l("Work team"),), "team": (_l("Unit"),)}


def _owner_names(session, subject, rows):
    """{score id: the team of a person, the unit of a team}."""
    if subject == "person":
        return {r.id: r.grid.name for r in rows}
    if subject == "team":
        ids = {r.unit_id for r in rows if r.unit_id}
        names = dict(session.execute(select(Grid.id, Grid.name).where(Grid.id.in_(ids))).all()) if ids else {}
        return {r.id: names.get(r.unit_id, "") for r in rows}
    return {}


def shown(value):
    return str(NO_DATA) if value is None else f"{value:.2f}"


def results_xlsx(session, rnd):
    """The round's three ranked tables (scope applied), one sheet each, the items as columns."""
    sheets = []
    for subject, title in SUBJECT_TITLES.items():
        rows = ranked(session, rnd, subject)
        entries = entries_of(session, [r.id for r in rows])
        names = []
        for row in rows:
            for e in entries[row.id]:
                if e.name not in names:
                    names.append(e.name)
        first = _l("Name") if subject == "person" else _l("Grid name")
        headers = [_l("Ranking"), first, *OWNER_TITLES.get(subject, ()), _l("Score"), *names]
        owners = _owner_names(session, subject, rows)
        body = []
        for row in rows:
            points = {e.name: shown(e.points) for e in entries[row.id]}
            owner = [owners.get(row.id, "")] if subject in OWNER_TITLES else []
            body.append([row.rank or "", row.name, *owner, shown(row.score), *[points.get(n, "") for n in names]])
        sheets.append((str(title), headers, body))
    heading = f"{rnd.grid.name} · {period_title(rnd)} · {rnd.scheme.name}"
    return workbook_sheets(sheets, title=heading)
