"""Photos and files (照片/附件) on visits, appeals and contact records: the rules.

* What a file is comes from its first bytes (`sniff`), never from its name or the browser's
  word; a file whose name claims another type than its content is refused as disguised.
  Allowed kinds (ATTACHMENT_TYPES), the largest file (ATTACHMENT_MAX_MB) and the most files
  at once (ATTACHMENT_MAX_FILES) are settings. `check_uploads` reports every bad file at once.
* `add_attachments` writes the bytes to the store (app.core.storage) and the rows in the
  caller's transaction; a rollback removes the files again (no orphans).
* An attachment is seen by whoever sees its record (`attachment_scope_clause`); the photos of
  a visit are visit content (民情日记 rules): only who reads the visit's content sees them.
* Deleting a record takes its attachments to the recycle bin with it; restoring brings back
  those that went with it (not those removed one by one before).
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
from dataclasses import dataclass

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps
from sqlalchemy import and_, or_, select, true

from app.core.clock import now
from app.core.errors import Collector, DomainError, Forbidden, NotFound
from app.core.storage import storage, track_new
from app.models.appeals import Appeal, Status
from app.models.attachments import FILES_HELD, Attachment
from app.models.representatives import Constituency, ContactRecord, Representative
from app.models.visits import Visit
from app.services import privacy, scope
from app.services.scope import clause_for, scope_rule

FIELD = "attachments"
THUMB_SIZE = (320, 320)
MB = 1024 * 1024


@dataclass(frozen=True)
class Owner:
    """A kind of record that carries attachments: its model, permission resource and page
    (`endpoint` with `url_args`). A kind made at run time (a register's entries, see
    `register_owner_kinds`) may narrow which of its files are seen (`file_clause`, a condition on
    Attachment) and who reads a field's files (`reader(scope, item, field_code)`)."""

    code: str
    model: type
    resource: str
    endpoint: str
    url_args: tuple = ()
    file_clause: object = None
    reader: object = None
    checker: object = None  # checker(item, files, field_code) -> Uploads, with the kind's own limits
    title: object = None  # what a record of this kind is called (a register's name), where no page says it

    def url(self, pk):
        return url_for(self.endpoint, pk=pk, **dict(self.url_args))


OWNERS = {
    "visit": Owner("visit", Visit, "Visit", "VisitView.show"),
    "appeal": Owner("appeal", Appeal, "Appeal", "AppealView.show"),
    "contact": Owner("contact", ContactRecord, "ContactRecord", "ContactRecordView.show"),
}
OWNER_OF_MODEL = {owner.model: owner for owner in OWNERS.values()}
# providers of owner kinds made at run time: objects with kind(code), of_model(model), every()
_OWNER_PROVIDERS = []


def register_owner_kinds(provider):
    """Let `provider` answer for more kinds of owner (app.services.registers.files: entries)."""
    _OWNER_PROVIDERS.append(provider)
    return provider


def owner_kind(code):
    """The Owner called `code` (visit, appeal, contact, reg_<register>), or None."""
    owner = OWNERS.get(code)
    for provider in _OWNER_PROVIDERS:
        owner = owner or provider.kind(code)
    return owner


def every_owner():
    owners = list(OWNERS.values())
    for provider in _OWNER_PROVIDERS:
        owners += provider.every()
    return owners


@dataclass(frozen=True)
class Kind:
    code: str
    mime: str
    title: str
    extensions: tuple
    image: bool


KINDS = {
    "jpeg": Kind("jpeg", "image/jpeg", "JPEG", (".jpg", ".jpeg", ".jpe", ".jfif"), True),
    "png": Kind("png", "image/png", "PNG", (".png",), True),
    "gif": Kind("gif", "image/gif", "GIF", (".gif",), True),
    "webp": Kind("webp", "image/webp", "WebP", (".webp",), True),
    "pdf": Kind("pdf", "application/pdf", "PDF", (".pdf",), False),
}
KIND_OF_EXTENSION = {ext: kind for kind in KINDS.values() for ext in kind.extensions}
# extensions of the commonest files that are none of the kinds above (a claim we can check too)
OTHER_EXTENSIONS = {".exe": "EXE", ".bat": "BAT", ".js": "JS", ".html": "HTML", ".htm": "HTML", ".svg": "SVG",
                    ".doc": "Word", ".docx": "Word", ".xls": "Excel", ".xlsx": "Excel", ".zip": "ZIP"}  # fmt: skip

TOO_MANY = _l("At most %(n)s files can be added at a time (%(m)s were chosen).")
EMPTY = _l("%(name)s is empty.")
TOO_BIG = _l("%(name)s is %(size)s MB: a file may be at most %(max)s MB.")
NOT_ALLOWED = _l("%(name)s is not an allowed kind of file (allowed: %(kinds)s).")
DISGUISED = _l("%(name)s is named as a %(claimed)s file but its content is %(actual)s: it was refused.")
BROKEN = _l("%(name)s is not a readable image.")
UNKNOWN_CONTENT = _l("of no kind that can be recognised")
UNKNOWN_KIND = _l("Unknown kinds of file: %(values)s (known: %(kinds)s).")
ARCHIVED = _l("An archived appeal can no longer be changed.")
NO_SUCH_FIELD = _l("This record has no photos-and-files field of that name.")
NO_PERMISSION = _l("Your role does not allow adding or removing files on this record.")


def sniff(data):
    """The Kind of `data` by its first bytes, or None."""
    head = data[:16]
    if head[:3] == b"\xff\xd8\xff":
        return KINDS["jpeg"]
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return KINDS["png"]
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return KINDS["gif"]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return KINDS["webp"]
    if head[:5] == b"%PDF-":
        return KINDS["pdf"]
    return None


def allowed_kinds():
    return [KINDS[code] for code in current_app.config.get("ATTACHMENT_TYPES", ()) if code in KINDS]


def accept_attribute():
    """The file input's `accept`: the allowed types (a phone then offers its camera for images)."""
    return ",".join(kind.mime for kind in allowed_kinds()) or "image/*"


def verify_kinds(values, session=None):
    """The setting ATTACHMENT_TYPES names known kinds only."""
    unknown = [v for v in values if v not in KINDS]
    if unknown:
        raise DomainError(UNKNOWN_KIND % {"values": "、".join(unknown), "kinds": "、".join(KINDS)})


@dataclass
class Upload:
    """A checked file, ready to store."""

    name: str
    data: bytes
    kind: Kind
    thumbnail: bytes | None = None


def clean_name(name):
    """The file's own name without any folder a browser sent, at most 200 characters."""
    name = os.path.basename((name or "").replace("\\", "/")).strip().replace("\x00", "")
    if len(name) > 200:
        stem, ext = os.path.splitext(name)
        name = stem[: 200 - len(ext)] + ext
    return name or "file"


def _thumbnail(data):
    """A small JPEG of an image, turned upright as the camera held it; raises on a broken image."""
    with Image.open(io.BytesIO(data)) as probe:
        probe.verify()  # a truncated or forged image fails here
    with Image.open(io.BytesIO(data)) as image:
        image = ImageOps.exif_transpose(image)
        image.thumbnail(THUMB_SIZE)
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        out = io.BytesIO()
        image.save(out, "JPEG", quality=80)
        return out.getvalue()


def _check_one(upload_name, data, kinds=None):
    name = clean_name(upload_name)
    limit = int(current_app.config["ATTACHMENT_MAX_MB"])
    if not data:
        raise DomainError(EMPTY % {"name": name}, field=FIELD)
    if len(data) > limit * MB:
        raise DomainError(TOO_BIG % {"name": name, "size": f"{len(data) / MB:.1f}", "max": limit}, field=FIELD)
    kind = sniff(data)
    claimed = os.path.splitext(name)[1].lower()
    claimed_title = KIND_OF_EXTENSION[claimed].title if claimed in KIND_OF_EXTENSION else OTHER_EXTENSIONS.get(claimed)
    if kind is not None and claimed_title is not None and claimed not in kind.extensions:
        raise DomainError(DISGUISED % {"name": name, "claimed": claimed_title, "actual": kind.title}, field=FIELD)
    allowed = [k for k in allowed_kinds() if kinds is None or k.code in kinds]
    if kind is None or kind not in allowed:
        titles = "、".join(k.title for k in allowed)
        if kind is None and claimed in KIND_OF_EXTENSION and KIND_OF_EXTENSION[claimed] in allowed:
            raise DomainError(
                DISGUISED % {"name": name, "claimed": claimed_title, "actual": UNKNOWN_CONTENT}, field=FIELD
            )
        raise DomainError(NOT_ALLOWED % {"name": name, "kinds": titles}, field=FIELD)
    upload = Upload(name=name, data=data, kind=kind)
    if kind.image:
        try:
            upload.thumbnail = _thumbnail(data)
        except Exception:  # noqa: BLE001 (Pillow raises many kinds for a broken or hostile image)
            raise DomainError(BROKEN % {"name": name}, field=FIELD) from None
    return upload


def check_uploads(files, kinds=None, most=None, field=FIELD):
    """Read and check the chosen files (werkzeug FileStorage or (name, bytes) pairs); every
    problem of every file at once (DomainErrors at `field`), else the list of Uploads. `kinds`
    (codes) and `most` narrow ATTACHMENT_TYPES and ATTACHMENT_MAX_FILES (a register's field)."""
    chosen = []
    for item in files or ():
        if isinstance(item, tuple):
            chosen.append(item)
        elif item is not None and getattr(item, "filename", ""):
            item.seek(0)  # the form's own validation may have read it already
            chosen.append((item.filename, item.read()))
    most = min(int(current_app.config["ATTACHMENT_MAX_FILES"]), most or 10**6)
    errors = Collector()
    if len(chosen) > most:
        errors.add(DomainError(TOO_MANY % {"n": most, "m": len(chosen)}, field=field))
    uploads = []
    for name, data in chosen:
        with errors.check():
            try:
                uploads.append(_check_one(name, data, kinds))
            except DomainError as err:
                err.field = field
                raise
    errors.raise_if_any()
    return uploads


# --------------------------------------------------------------------------
# Owners: who may see and change a record's files
# --------------------------------------------------------------------------


def owner_of(model_or_item):
    model = model_or_item if isinstance(model_or_item, type) else type(model_or_item)
    owner = OWNER_OF_MODEL.get(model)
    for provider in _OWNER_PROVIDERS:
        owner = owner or provider.of_model(model)
    return owner


def owner_grid_id(session, item):
    if isinstance(item, ContactRecord):
        return session.scalar(
            select(Constituency.grid_id)
            .join(Representative, Representative.constituency_id == Constituency.id)
            .where(Representative.id == item.representative_id)
        )
    return item.grid_id


def load_owner(session, code, owner_id):
    """The record `owner_id` of kind `code` if the user's scope holds it, else NotFound."""
    owner = owner_kind(code)
    if owner is None or owner_id is None or not scope.visible(session, owner.model, owner_id):
        raise NotFound(scope.OUT_OF_SCOPE)
    item = session.get(owner.model, owner_id)
    if item is None:
        raise NotFound(scope.OUT_OF_SCOPE)
    return item


def may_read(current_scope, item, field_code=None):
    """Whether the user sees the record's files: a visit's are its content (民情日记 rules); a
    register field's as its owner kind says (a sensitive field: who reads personal data)."""
    if isinstance(item, Visit):
        return privacy.can_see_visit_content(current_scope, item)
    owner = owner_of(item)
    if owner is not None and owner.reader is not None:
        return owner.reader(current_scope, item, field_code)
    return True


def check_new_files(item, files, field_code=None):
    """The files added to `item` on its page or by the API, checked by its kind's own rules (a
    register field's kinds and most files): every problem at once, else the Uploads."""
    owner = owner_of(item)
    if owner is not None and owner.checker is not None:
        return owner.checker(item, files, field_code)
    if field_code:
        raise DomainError(NO_SUCH_FIELD, field="field")
    return check_uploads(files)


def check_may_change(current_scope, item, has_write, field_code=None):
    """Adding or removing files is changing the record: its write permission, and a visit only
    by who reads it; an archived appeal no more."""
    if not has_write or not may_read(current_scope, item, field_code):
        raise Forbidden(NO_PERMISSION)
    if isinstance(item, Appeal) and item.status == Status.ARCHIVED:
        raise DomainError(ARCHIVED, field=FIELD)


@scope_rule(Attachment)
def attachment_scope_clause(current_scope):
    """An attachment is in scope when its record is (live and in the user's jurisdiction), and
    its kind shows it (a register's files only of its live 照片/附件 fields, for the Admin too)."""
    return or_(
        *(
            and_(
                Attachment.owner_type == owner.code,
                true()
                if current_scope.all
                else Attachment.owner_id.in_(select(owner.model.id).where(clause_for(owner.model, current_scope))),
                true() if owner.file_clause is None else owner.file_clause,
            )
            for owner in every_owner()
        )
    )


# --------------------------------------------------------------------------
# Writes (the caller's unit of work commits)
# --------------------------------------------------------------------------


def add_attachments(session, item, uploads, user_id=None, user_name="", field_code=None):
    """Store `uploads` and record them on `item` (flushed: it has an id), in its field
    `field_code` for a register entry. Returns the rows."""
    owner = owner_of(item)
    if owner is None or not uploads:
        return []
    store = storage()
    grid_id = owner_grid_id(session, item)
    moment = now()
    rows = []
    for upload in uploads:
        stored = secrets.token_hex(16) + upload.kind.extensions[0]
        store.save(stored, upload.data)
        track_new(session, store, stored)
        if upload.thumbnail is not None:
            store.save(thumbnail_name(stored), upload.thumbnail)
            track_new(session, store, thumbnail_name(stored))
        row = Attachment(
            owner_type=owner.code,
            owner_id=item.id,
            field_code=field_code,
            grid_id=grid_id,
            original_name=upload.name,
            stored_name=stored,
            content_type=upload.kind.mime,
            size=len(upload.data),
            sha256=hashlib.sha256(upload.data).hexdigest(),
            has_thumbnail=upload.thumbnail is not None,
            uploaded_by_id=user_id,
            uploaded_by_name=(user_name or "")[:100],
            uploaded_at=moment,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    item.__dict__.pop(FILES_HELD, None)  # an entry's files as read before: read them again
    return rows


def thumbnail_name(stored_name):
    return f"{stored_name}.t.jpg"


def remove_attachment(session, attachment, user_id=None):
    """To the recycle bin (soft delete): the file stays until the row is purged."""
    attachment.deleted_at = now()
    attachment.deleted_by_id = user_id


def attachments_of(session, item, include_deleted=False):
    owner = owner_of(item)
    if owner is None or item.id is None:
        return []
    query = select(Attachment).where(Attachment.owner_type == owner.code, Attachment.owner_id == item.id)
    if not include_deleted:
        query = query.where(Attachment.deleted_at.is_(None))
    return session.scalars(query.order_by(Attachment.uploaded_at, Attachment.id)).all()


def follow_delete(session, item):
    """The record went to the recycle bin: its live attachments go with it, at the same moment."""
    if owner_of(item) is None:
        return
    # read before the record's own change is flushed: the scope backstop then still finds the
    # files in scope (a file of a deleted record is out of every scope)
    with session.no_autoflush:
        live = attachments_of(session, item)
    for attachment in live:
        attachment.deleted_at = item.deleted_at
        attachment.deleted_by_id = item.deleted_by_id


def follow_restore(session, item, deleted_at):
    """The record came back: the attachments that went with it (same moment) come back too."""
    if owner_of(item) is None or deleted_at is None:
        return
    # the record is flushed back first (autoflush): its files are then in scope again
    for attachment in attachments_of(session, item, include_deleted=True):
        if attachment.deleted_at == deleted_at:
            attachment.deleted_at = None
            attachment.deleted_by_id = None
