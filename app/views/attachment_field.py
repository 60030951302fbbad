"""The photos-and-files field of the visit, appeal and contact record forms."""

from flask_babel import lazy_gettext as _l
from wtforms import MultipleFileField

from app.core.errors import DomainError
from app.services.attachments import FIELD, check_uploads


class AttachmentsField(MultipleFileField):
    """Photos from the phone's camera or files, several at once; saved beside the record
    (ScopedModelView.save_form), never set on it."""

    def populate_obj(self, obj, name):
        pass


def attachments_field():
    # image/*: a phone offers its camera and its gallery; the allowed kinds are checked on upload
    return AttachmentsField(
        _l("Photos and files"),
        description=_l("Take photos with the phone's camera or choose files; several at once."),
        render_kw={"accept": "image/*,application/pdf", "multiple": True},
    )


def chosen_files(form):
    """The files chosen in the form's photos field (none when the form has no such field)."""
    field = getattr(form, FIELD, None)
    if field is None:
        return []
    return [f for f in (field.data or []) if f is not None and getattr(f, "filename", "")]


def report_file_problems(form):
    """A form refused for its own fields also says what is wrong with its files (all at once)."""
    field = getattr(form, FIELD, None)
    if field is None:
        return
    try:
        check_uploads(chosen_files(form))
    except DomainError as err:
        field.errors = list(field.errors or []) + [str(e) for e in getattr(err, "errors", None) or [err]]
