"""照片/附件 fields on a register's pages: the form input (camera and files, the entry's files
with a remove box on edit), the list's count, the sheet's file names, the show page's and the
print's thumbnails. The rules live in app.services.registers.files."""

from __future__ import annotations

from flask import request, url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from wtforms import MultipleFileField

from app.services import attachments as attachment_service
from app.services import privacy, scope
from app.services.privacy import MASK
from app.services.registers import files as file_service

REMOVE_SUFFIX = "__remove"
CONFIDENTIAL = _l("Shown only to roles with the permission to read personal data.")


class FilesWidget:
    """A camera input and a files input under one name; on edit, the entry's files, each with
    a box to remove it (to the recycle bin) when the entry is saved."""

    def __call__(self, field, **kwargs):
        parts = ['<div class="mq-register-files">']
        existing = getattr(field, "existing", None) or []
        if existing:
            parts.append('<ul class="list-unstyled mq-register-existing">')
            for a in existing:
                parts.append(
                    f'<li><a href="{url_for("AttachmentView.file", pk=a.id)}" target="_blank" rel="noopener">'
                    f'{escape(a.original_name)}</a> <small class="text-muted">{escape(a.size_text)}</small> '
                    f'<label class="checkbox-inline"><input type="checkbox" name="{field.name}{REMOVE_SUFFIX}" '
                    f'value="{a.id}"> {escape(_l("Remove"))}</label></li>'
                )
            parts.append("</ul>")
        if getattr(field, "hidden_files", 0):
            parts.append(f'<p class="text-muted">{escape(CONFIDENTIAL)}</p>')
        accept = escape(getattr(field, "accept", "image/*"))
        parts.append(
            f'<label class="mq-file-label"><i class="fa fa-camera"></i> {escape(_l("Take a photo"))} '
            f'<input type="file" name="{field.name}" id="{field.id}_camera" accept="image/*" capture="environment"></label>'
            f'<label class="mq-file-label"><i class="fa fa-paperclip"></i> {escape(_l("Choose files"))} '
            f'<input type="file" name="{field.name}" id="{field.id}" accept="{accept}" multiple></label>'
        )
        parts.append("</div>")
        return Markup("".join(parts))


class RegisterFilesField(MultipleFileField):
    """The files of one 照片/附件 field: saved beside the entry (RegisterEntryPages.store_files)."""

    widget = FilesWidget()

    def __init__(self, definition, **kwargs):
        limit = file_service.most_files(definition)
        help_text = definition.help_text or ""
        note = _l("At most %(n)s files.", n=limit)
        super().__init__(definition.label, description=f"{help_text} {note}".strip(), **kwargs)
        self.accept = file_service.accept_of(definition)

    def populate_obj(self, obj, name):
        pass


def chosen(form, spec):
    """{field code: chosen files} and {field code: ids to remove} of a posted entry form."""
    files, removed = {}, {}
    for definition in file_service.file_fields(spec):
        formfield = getattr(form, definition.code, None)
        if formfield is not None:
            files[definition.code] = [f for f in (formfield.data or []) if f is not None and getattr(f, "filename", "")]
        removed[definition.code] = request.form.getlist(f"{definition.code}{REMOVE_SUFFIX}")
    return files, removed


def readable(item, definition):
    return attachment_service.may_read(scope.current(), item, definition.code)


def show_existing(form, item, spec):
    """The edit form lists the entry's files its user may read."""
    for definition in file_service.file_fields(spec):
        formfield = getattr(form, definition.code, None)
        if formfield is None or item is None or item.id is None:
            continue
        files = getattr(item, definition.code)
        formfield.existing = files if readable(item, definition) else []
        formfield.hidden_files = 0 if readable(item, definition) else len(files)


def sections(item, spec):
    """[{label, items, readable}] of an entry's 照片/附件 fields (its page and its print)."""
    out = []
    for definition in file_service.file_fields(spec):
        may = readable(item, definition)
        out.append({
            "code": definition.code, "label": definition.label, "readable": may,
            "items": getattr(item, definition.code) if may else [],
        })  # fmt: skip
    return out


def count_text(files):
    """The list's cell: how many files."""
    return len(files or [])


def names_formatter(definition):
    """The sheet's and the printed list's cell: the files' names (a sensitive field's masked for
    who may not read personal data)."""

    def names(files):
        if not files:
            return ""
        if definition.sensitive and not privacy.can_see_personal_numbers():
            return MASK
        return "、".join(a.original_name for a in files)

    return names
