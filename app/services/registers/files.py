"""照片/附件 fields of registers: an entry's photos and files.

A field of type ATTACHMENT takes no column. Its files are rows of `attachment` (app.services.
attachments, the same store, sniffing, limits, thumbnails and recycle bin as a visit's photos)
whose owner is the entry — `owner_type` is the register's table (reg_<code>), `owner_id` the
entry's id — and whose `field_code` names the field. `EntryOwners` makes every register an
owner kind of app.services.attachments, so the scope rule, the pages, the API, the audit trail
and the recycle bin treat an entry as they treat a visit, with no case per register:

* a file is seen by whoever sees its entry, and only while its field is live (a removed
  field hides its files; restoring the field brings them back) and the register is active;
* the files of a field marked sensitive are read only with the permission to read personal data;
* soft-deleting an entry takes its files to the recycle bin; restoring brings them back.

Per field the designer sets the most files (`max_value`, at most ATTACHMENT_MAX_FILES) and the
allowed kinds (`file_kinds`, a subset of ATTACHMENT_TYPES); `required` means at least one file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, text
from sqlalchemy.orm import object_session

from app.core.errors import Collector, DomainError
from app.models.attachments import FILES_HELD, Attachment, files_by_field
from app.models.registers import EntryBase, FieldType
from app.services import attachments, privacy
from app.services.registers import runtime

ENTRY_ENDPOINT = "RegisterEntryView.show"
TOO_MANY_IN_FIELD = _l("%(label)s takes at most %(n)s files (it would have %(m)s).")
REQUIRED = _l("%(label)s is required.")
MOST_FILES = _l("The most files of a photos-and-files field is a whole number from 1 to %(n)s.")
NO_LEAST = _l("A photos-and-files field has no least value: set the most files under the largest value.")
UNKNOWN_KINDS = _l("Kinds of file not allowed in this system: %(values)s (allowed: %(kinds)s).")
NOT_ON_RECORDS = _l(
    "Extra fields of built-in records cannot be photos and files: visits, appeals and contact records "
    "already take photos and files of their own (照片/附件); add the field to a register instead."
)
NOT_SEARCHABLE = _l("Lists cannot be searched or sorted by photos and files.")
NO_DEFAULT = _l("This type of field has no default value.")
CHOOSE_FIELD = _l("Name the photos-and-files field the files belong to: %(fields)s.")
HOLDING = _l(
    "%(count)s entries hold files or values in this field: a %(old)s field cannot become a %(new)s field "
    "while they do (add a new field instead)."
)


# --------------------------------------------------------------------------
# Every register is an owner kind of the attachments
# --------------------------------------------------------------------------


def file_fields(spec, live=True):
    fields = spec.live_fields if live else spec.fields
    return [f for f in fields if f.type == FieldType.ATTACHMENT]


def _reader(spec):
    def may_read(current_scope, item, field_code):
        definition = spec.field(field_code) if field_code else None
        if definition is not None and definition.sensitive:
            return privacy.can_see_personal_numbers()
        return True

    return may_read


def _owner(spec, cls):
    live = [f.code for f in file_fields(spec)]
    return attachments.Owner(
        code=spec.table_name, model=cls, resource=spec.resource, endpoint=ENTRY_ENDPOINT,
        url_args=(("code", spec.code),), file_clause=Attachment.field_code.in_(live), reader=_reader(spec),
        checker=_checker(spec), title=spec.name,
    )  # fmt: skip


def _checker(spec):
    def check(item, files, field_code):
        """Files added to one field of an entry (its page's upload, the API)."""
        definition = spec.field(field_code) if field_code else None
        if definition is None or definition.type != FieldType.ATTACHMENT or definition.removed_at is not None:
            names = "、".join(f"{f.code}（{f.label}）" for f in file_fields(spec))
            raise DomainError(CHOOSE_FIELD % {"fields": names or "—"}, field="field")
        (plan,) = [p for p in check_files(item, spec, {field_code: files}, {}, required=False)
                   if p.field_code == field_code]  # fmt: skip
        return plan.uploads

    return check


class EntryOwners:
    """The register entries as owners of attachments (app.services.attachments.owner_kind ...)."""

    def kind(self, code):
        if not code or not code.startswith("reg_"):
            return None
        register = code.removeprefix("reg_")
        spec, cls = runtime.spec(register), runtime.entry_class(register)
        if spec is None or cls is None:
            return None
        return _owner(spec, cls)

    def of_model(self, model):
        if not issubclass(model, EntryBase) or model.__register__ is None:
            return None
        return _owner(model.__register__, model)

    def every(self):
        """Registers whose files may be seen: active, with a live 照片/附件 field."""
        out = []
        for code, spec in runtime.specs().items():
            cls = runtime.entry_class(code)
            if spec.active and cls is not None and file_fields(spec):
                out.append(_owner(spec, cls))
        return out


attachments.register_owner_kinds(EntryOwners())


def prefetch(session, cls, items):
    """The files of a page of entries, in one query (lists, exports, prints)."""
    spec = getattr(cls, "__register__", None)
    if spec is None or not file_fields(spec) or not items:
        return
    by_entry = files_by_field(session, spec.table_name, [i.id for i in items if i.id is not None])
    transaction = (object_session(items[0]) or session).get_transaction()  # the Session, not its registry
    for item in items:
        if item.id is not None:
            item.__dict__[FILES_HELD] = (transaction, by_entry.get(item.id, {}))


# --------------------------------------------------------------------------
# The entry forms: every file of every field checked with the entry's other fields
# --------------------------------------------------------------------------


def kinds_of(definition):
    """The kinds a field allows (None: all of ATTACHMENT_TYPES)."""
    codes = [c.strip() for c in (definition.file_kinds or "").split(",") if c.strip()]
    return codes or None


def most_files(definition):
    """The most files a field holds: its own number, within ATTACHMENT_MAX_FILES."""
    limit = int(current_app.config["ATTACHMENT_MAX_FILES"])
    try:
        own = int(definition.max_value) if definition.max_value not in (None, "") else limit
    except ValueError:
        own = limit
    return max(1, min(own, limit))


def accept_of(definition):
    """The file input's `accept`: the field's kinds (a phone offers its camera for images)."""
    allowed = [k for k in attachments.allowed_kinds() if kinds_of(definition) is None or k.code in kinds_of(definition)]
    return ",".join(k.mime for k in allowed) or "image/*"


@dataclass
class FilePlan:
    """What a save does to one field's files."""

    field_code: str
    uploads: list = field(default_factory=list)
    removed: list = field(default_factory=list)


def check_files(entry, spec, chosen, removed_ids, required=True):
    """The plans for every 照片/附件 field of `entry`: `chosen` {code: files}, `removed_ids` {code:
    attachment ids to remove}. Every problem of every field at once (DomainErrors at the field)."""
    errors = Collector()
    plans = []
    for definition in file_fields(spec):
        code = definition.code
        current = getattr(entry, code) if entry.id is not None else []
        gone = {int(i) for i in removed_ids.get(code, ()) if str(i).isdigit()}
        plan = FilePlan(code, removed=[a for a in current if a.id in gone])
        files = chosen.get(code) or []
        most = most_files(definition)
        with errors.check():
            plan.uploads = attachments.check_uploads(files, kinds=kinds_of(definition), most=most, field=code)
        with errors.check():
            count = len(current) - len(plan.removed) + len(files)
            if count > most and len(files) <= most:
                raise DomainError(TOO_MANY_IN_FIELD % {"label": definition.label, "n": most, "m": count}, field=code)
            if required and definition.required and count <= 0:
                raise DomainError(REQUIRED % {"label": definition.label}, field=code)
        plans.append(plan)
    errors.raise_if_any()
    return plans


def apply_files(session, entry, plans, user_id=None, user_name=""):
    """Carry out checked plans (the entry is flushed: it has an id); the caller commits."""
    for plan in plans:
        for attachment in plan.removed:
            attachments.remove_attachment(session, attachment, user_id)
        if plan.uploads:
            attachments.add_attachments(session, entry, plan.uploads, user_id, user_name, field_code=plan.field_code)
    entry.__dict__.pop(FILES_HELD, None)


# --------------------------------------------------------------------------
# The designer: a 照片/附件 field's own rules, and type changes to and from it
# --------------------------------------------------------------------------


def check_file_field(definition, extends=None):
    """The rules of a field of type ATTACHMENT (DomainErrors); other types drop `file_kinds`."""
    if definition.type != FieldType.ATTACHMENT:
        definition.file_kinds = None
        return
    errors = Collector()
    with errors.check():
        if extends:
            raise DomainError(NOT_ON_RECORDS, field="type")
    with errors.check():
        if definition.min_value not in (None, ""):
            raise DomainError(NO_LEAST, field="min_value")
    with errors.check():
        limit = int(current_app.config["ATTACHMENT_MAX_FILES"])
        value = (definition.max_value or "").strip() if isinstance(definition.max_value, str) else definition.max_value
        if value not in (None, ""):
            if not str(value).isdigit() or not 1 <= int(value) <= limit:
                raise DomainError(MOST_FILES % {"n": limit}, field="max_value")
            definition.max_value = str(int(value))
    with errors.check():
        codes = [c.strip().lower() for c in (definition.file_kinds or "").replace("，", ",").split(",") if c.strip()]
        allowed = [k.code for k in attachments.allowed_kinds()]
        unknown = [c for c in codes if c not in allowed]
        if unknown:
            raise DomainError(
                UNKNOWN_KINDS % {"values": "、".join(unknown), "kinds": "、".join(allowed)}, field="file_kinds"
            )
        definition.file_kinds = ",".join(dict.fromkeys(codes)) or None
    with errors.check():
        if definition.filterable or definition.sortable:
            raise DomainError(NOT_SEARCHABLE, field="filterable" if definition.filterable else "sortable")
    with errors.check():
        if definition.default_value not in (None, ""):
            raise DomainError(NO_DEFAULT, field="default_value")
    definition.unique_within = ""
    definition.pattern = definition.pattern_message = None
    errors.raise_if_any()


def change_type(session, definition, previous_type, new_column):
    """A type change to or from ATTACHMENT: allowed while no entry holds a file or value in the
    field (nothing to convert), else refused with their count. Returns True when handled."""
    if FieldType.ATTACHMENT not in (previous_type, definition.type):
        return False
    register = definition.register
    if previous_type == FieldType.ATTACHMENT:
        count = session.scalar(
            select(func.count(func.distinct(Attachment.owner_id))).where(
                Attachment.owner_type == register.table_name, Attachment.field_code == definition.code
            )
        )
    elif previous_type == FieldType.MULTICHOICE:
        table = f"{register.table_name}__{definition.code}"
        count = session.scalar(text(f'SELECT count(DISTINCT entry_id) FROM "{table}"'))  # noqa: S608 (checked codes)
    elif previous_type == FieldType.GRID:
        count = 1
    else:
        column = definition.column
        count = session.scalar(
            text(f'SELECT count(*) FROM "{register.table_name}" WHERE "{column}" IS NOT NULL')  # noqa: S608
        )
    if count:
        raise DomainError(
            HOLDING % {"count": count, "old": FieldType.label_of(previous_type),
                       "new": FieldType.label_of(definition.type)},
            field="type",
        )  # fmt: skip
    if definition.type != FieldType.ATTACHMENT:
        definition.column = new_column  # a fresh column of the new type (an old one may hold another type)
    return True
