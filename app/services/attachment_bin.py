"""Removed photos and files in the recycle bin (回收站), and the store's consistency check.

* The bin lists every removed attachment whose record is in the user's jurisdiction, the record
  live or itself in the bin (`bin_clause`). The name of a visit's photo is visit content: who
  does not read the visit sees ****** instead (`prepare_page`), as on the visit's own page.
* `restore_attachments` puts files back on their records, all or none: a file whose record is
  in the recycle bin, gone, or an archived appeal is refused with the reason, every one at once.
* `purge_attachments` deletes the rows for good; their files and thumbnails leave the store
  when the transaction commits (a rollback keeps them), audited as 永久删除.
* `check_store` compares the store with the rows: files without rows (left by a crash or a hand
  copy; `--fix` removes them) and rows without files (named, never deleted: they are records).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select, true

from app.core.errors import Collector, DomainError
from app.core.sensitive import MASK
from app.core.storage import storage, track_removed
from app.models.appeals import Appeal, Status
from app.models.attachments import Attachment
from app.services import privacy, scope
from app.services.attachments import every_owner, owner_kind, thumbnail_name
from app.services.scope import bin_rule, clause_for

OWNER_TITLES = {"visit": _l("Visit"), "appeal": _l("Appeal"), "contact": _l("Contacts with voters")}
RECORD_IN_BIN = _l(
    "%(name)s cannot be restored: its record (%(record)s) is in the recycle bin. Restore the record first."
)
RECORD_GONE = _l("%(name)s cannot be restored: its record no longer exists.")
RECORD_ARCHIVED = _l("%(name)s cannot be restored: the appeal %(record)s is archived and can no longer be changed.")
NOT_REMOVED = _l("%(name)s is not in the recycle bin.")
IN_BIN_MARK = _l("(in the recycle bin)")


@bin_rule(Attachment)
def bin_clause(current_scope):
    """A removed attachment is in the bin's scope when its record is in the jurisdiction,
    whether the record is live or in the bin too."""
    if current_scope.all:
        return true()
    return or_(
        *(
            and_(
                Attachment.owner_type == owner.code,
                Attachment.owner_id.in_(
                    select(owner.model.id).where(clause_for(owner.model, current_scope, include_deleted=True))
                ),
                true() if owner.file_clause is None else owner.file_clause,
            )
            for owner in every_owner()  # visits, appeals, contact records and the registers' entries
        )
    )


def _records(session, items):
    """{(owner_type, owner_id): record} of the items, one query per kind of record."""
    wanted = {}
    for item in items:
        wanted.setdefault(item.owner_type, set()).add(item.owner_id)
    out = {}
    for code, ids in wanted.items():
        owner = owner_kind(code)
        if owner is None:
            continue
        for record in session.scalars(select(owner.model).where(owner.model.id.in_(ids))):
            out[(code, record.id)] = record
    return out


def _record_text(code, record, mark=True):
    if record is None:
        return ""
    if isinstance(record, Appeal):
        label = record.number or f"#{record.id}"
    elif code == "visit":
        label = f"{record.visit_date or ''} {record.visited_name or ''}".strip()
    elif code == "contact":
        label = f"{record.contact_date or ''} {record.place or ''}".strip()
    else:  # an entry of a register
        label = ""
    owner = owner_kind(code)
    title = OWNER_TITLES.get(code) or (owner.title if owner is not None else "") or ""
    text = f"{title} {label or '#' + str(record.id)}".strip()
    if mark and record.deleted_at is not None:
        text += str(IN_BIN_MARK)
    return text


def prepare_page(session, items, current_scope=None):
    """Fill what the bin shows of each row: its name (masked where the user may not read the
    visit's content) and its record. Two or three queries a page, whatever its length."""
    current_scope = current_scope if current_scope is not None else scope.current()
    records = _records(session, items)
    visits = [i.owner_id for i in items if i.owner_type == "visit"]
    reads_all = privacy.sees_all_content(current_scope)
    own = set() if reads_all else privacy.own_visit_ids(session, visits, current_scope)
    for item in items:
        readable = item.owner_type != "visit" or reads_all or item.owner_id in own
        item.shown_name = item.original_name if readable else MASK
        item.record_text = _record_text(item.owner_type, records.get((item.owner_type, item.owner_id)))
    return items


def restore_attachments(session, items):
    """Put removed files back on their records: all of them, or none with every reason."""
    prepare_page(session, items)
    records = _records(session, items)
    errors = Collector()
    for item in items:
        record = records.get((item.owner_type, item.owner_id))
        values = {"name": item.shown_name, "record": _record_text(item.owner_type, record, mark=False)}
        if item.deleted_at is None:
            errors.add(DomainError(NOT_REMOVED % values))
        elif record is None:
            errors.add(DomainError(RECORD_GONE % values))
        elif record.deleted_at is not None:
            errors.add(DomainError(RECORD_IN_BIN % values))
        elif isinstance(record, Appeal) and record.status == Status.ARCHIVED:
            errors.add(DomainError(RECORD_ARCHIVED % values))
    errors.raise_if_any()
    for item in items:
        item.deleted_at = None
        item.deleted_by_id = None


def purge_attachments(session, items):
    """Delete removed attachments for good: rows now, files once the transaction commits."""
    errors = Collector()
    prepare_page(session, items)
    for item in items:
        if item.deleted_at is None:
            errors.add(DomainError(NOT_REMOVED % {"name": item.shown_name}))
    errors.raise_if_any()
    store = storage()
    for item in items:
        track_removed(session, store, item.stored_name)
        if item.has_thumbnail:
            track_removed(session, store, thumbnail_name(item.stored_name))
        session.delete(item)
    session.flush()


# --------------------------------------------------------------------------
# The store against the rows (`flask minqing attachments check [--fix]`)
# --------------------------------------------------------------------------


@dataclass
class StoreCheck:
    listable: bool = True  # the store can list its files (a local directory can)
    rows: int = 0
    files: int = 0
    files_without_rows: list = field(default_factory=list)
    rows_without_files: list = field(default_factory=list)  # (id, stored name, original name)
    thumbnails_missing: list = field(default_factory=list)  # ids whose thumbnail is gone
    removed: int = 0

    @property
    def clean(self):
        return not (self.files_without_rows or self.rows_without_files or self.thumbnails_missing)


def check_store(session, fix=False, store=None):
    """Compare the attachment store with the rows (removed ones included: the bin keeps files)."""
    store = store or storage()
    report = StoreCheck()
    expected = set()
    rows = session.execute(
        select(Attachment.id, Attachment.stored_name, Attachment.original_name, Attachment.has_thumbnail).order_by(
            Attachment.id
        )
    ).all()
    report.rows = len(rows)
    for _id, stored, _original, thumbed in rows:
        expected.add(stored)
        if thumbed:
            expected.add(thumbnail_name(stored))
    lister = getattr(store, "names", None)
    if lister is None:
        report.listable = False
        present = None
    else:
        present = set(lister())
        report.files = len(present)
        report.files_without_rows = sorted(present - expected)
    for row_id, stored, original, thumbed in rows:
        there = stored in present if present is not None else store.read(stored) is not None
        if not there:
            report.rows_without_files.append((row_id, stored, original))
        elif thumbed and present is not None and thumbnail_name(stored) not in present:
            report.thumbnails_missing.append(row_id)
    if fix:
        for name in report.files_without_rows:
            store.delete(name)
            report.removed += 1
    return report
