"""People, posts and assignments."""

from flask import flash
from flask_appbuilder.actions import action
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.views import expose
from flask_babel import lazy_gettext as _l
from wtforms import SelectField
from wtforms.validators import Optional

from app.core.uow import unit_of_work
from app.extensions import db
from app.models.personnel import Assignment, Person, Post
from app.services import personnel as personnel_service
from app.views import ledgers
from app.views.api import ScopedModelApi
from app.views.pickers import register_picker
from app.views.scoped import ScopedInterface, ScopedModelView

PERSON_LABELS = {
    "name": _l("Name"),
    "gender": _l("Gender"),
    "unit": _l("Work unit"),
    "position": _l("Position"),
    "kind": _l("Kind"),
    "phone": _l("Phone"),
    "grid": _l("Grid"),
    "active": _l("Active"),
    "user": _l("Login account"),
    "note": _l("Note"),
    "created_at": _l("Created at"),
    "updated_at": _l("Updated at"),
    "kind.name": _l("Kind"),
    "grid.id": _l("Grid"),
    "grid.name": _l("Grid"),
    "id": "ID",
}


def person_labels(session, people):
    out = {}
    for person in people:
        extra = " · ".join(x for x in (person.position, person.unit) if x)
        out[person.id] = f"{person.name}" + (f"（{extra}）" if extra else "") + f" · {person.grid.name}"
    return out


register_picker(
    "person",
    Person,
    resource="Person",
    search=[Person.name, Person.phone, Person.unit],
    label=person_labels,
    order=[Person.name, Person.id],
)


def gender_title(value):
    return personnel_service.GENDER_TITLES.get(value, "") if value else ""


def gender_field():
    return SelectField(
        _l("Gender"),
        choices=[("", "—"), ("M", _l("Male")), ("F", _l("Female"))],
        validators=[Optional()],
    )


class PersonView(ScopedModelView):
    datamodel = ScopedInterface(Person)
    resource = "Person"
    list_title = _l("People")
    show_title = _l("Person")
    add_title = _l("Add person")
    edit_title = _l("Edit person")
    label_columns = PERSON_LABELS
    list_columns = ["name", "gender", "position", "unit", "kind", "phone", "grid", "active"]
    order_columns = ["name", "position", "unit"]
    search_columns = ["name", "position", "unit", "kind", "phone", "grid", "active"]
    add_columns = ["name", "gender", "unit", "position", "kind", "phone", "grid", "active", "note"]
    edit_columns = add_columns
    show_columns = ["name", "gender", "unit", "position", "kind", "phone", "grid", "active", "note", "updated_at"]
    formatters_columns = {"gender": gender_title}
    add_form_extra_fields = {"gender": gender_field()}
    edit_form_extra_fields = {"gender": gender_field()}
    description_columns = {
        "grid": _l("The grid the person belongs to; posts in other grids are assignments."),
        "phone": _l("Mobile 13812345678 or landline 0371-12345678."),
    }
    base_order = ("name", "asc")
    show_template = "minqing/person_show.html"
    extra_permissions = {"ledger": "read"}

    def validate(self, item):
        personnel_service.validate_person(db.session, item)

    def validate_delete(self, item):
        personnel_service.check_person_deletable(db.session, item)

    @expose("/ledger/<int:pk>")
    @has_access
    def ledger(self, pk):
        """一人一帐: the person's visits and cases in a period (?from=&to=), printed."""
        return ledgers.person_ledger(self, self.get_in_scope(pk))


class PersonApi(ScopedModelApi):
    list_title = _l("People")
    show_title = _l("Person")
    add_title = _l("Person")
    edit_title = _l("Person")
    resource_name = "person"
    resource = "Person"
    label_columns = PERSON_LABELS
    datamodel = ScopedInterface(Person)
    list_columns = ["id", "name", "gender", "unit", "position", "kind.name", "phone", "grid.id", "grid.name", "active"]
    show_columns = list_columns + ["note"]
    add_columns = ["name", "gender", "unit", "position", "kind", "phone", "grid", "active", "note"]
    edit_columns = add_columns
    search_columns = ["name", "unit", "position", "phone", "grid", "active"]
    order_columns = ["name"]

    def validate(self, item):
        personnel_service.validate_person(db.session, item)

    def validate_delete(self, item):
        personnel_service.check_person_deletable(db.session, item)


POST_LABELS = {
    "name": _l("Post"),
    "level": _l("Grid level"),
    "duty": _l("Duty"),
    "reward_penalty": _l("Reward and penalty"),
    "is_responsible": _l("Responsible person"),
    "is_packaging": _l("Leader in charge (包村)"),
    "sort_order": _l("Sort order"),
    "active": _l("Active"),
    "level.name": _l("Grid level"),
    "id": "ID",
}


class PostView(ScopedModelView):
    datamodel = ScopedInterface(Post)
    resource = "Post"
    list_title = _l("Posts")
    show_title = _l("Post")
    add_title = _l("Add post")
    edit_title = _l("Edit post")
    label_columns = POST_LABELS
    list_columns = ["name", "level", "is_responsible", "is_packaging", "sort_order", "active"]
    search_columns = ["name", "level", "active"]
    add_columns = ["name", "level", "duty", "reward_penalty", "is_responsible", "is_packaging", "sort_order", "active"]
    edit_columns = add_columns
    show_columns = add_columns
    description_columns = {
        "level": _l("Leave empty if the post exists at every level."),
        "is_responsible": _l("Holders are posted on the public notice and count for coverage."),
        "is_packaging": _l("A leader's 包村/分包 post: shown on contact cards below the grid."),
    }
    base_order = ("sort_order", "asc")

    def validate(self, item):
        personnel_service.validate_post(db.session, item)

    def validate_delete(self, item):
        personnel_service.check_post_deletable(db.session, item)


class PostApi(ScopedModelApi):
    list_title = _l("Posts")
    show_title = _l("Post")
    add_title = _l("Post")
    edit_title = _l("Post")
    resource_name = "post"
    resource = "Post"
    label_columns = POST_LABELS
    datamodel = ScopedInterface(Post)
    list_columns = ["id", "name", "level.name", "duty", "reward_penalty", "is_responsible", "is_packaging", "active"]
    show_columns = list_columns
    add_columns = ["name", "level", "duty", "reward_penalty", "is_responsible", "is_packaging", "sort_order", "active"]
    edit_columns = add_columns

    def validate(self, item):
        personnel_service.validate_post(db.session, item)

    def validate_delete(self, item):
        personnel_service.check_post_deletable(db.session, item)


ASSIGNMENT_LABELS = {
    "person": _l("Person"),
    "grid": _l("Grid"),
    "post": _l("Post"),
    "start_date": _l("From"),
    "end_date": _l("To"),
    "duty_note": _l("Own duty"),
    "person.phone": _l("Phone"),
    "created_at": _l("Created at"),
    "person.id": _l("Person"),
    "person.name": _l("Person"),
    "grid.id": _l("Grid"),
    "grid.name": _l("Grid"),
    "post.id": _l("Post"),
    "post.name": _l("Post"),
    "id": "ID",
}


class AssignmentView(ScopedModelView):
    datamodel = ScopedInterface(Assignment)
    resource = "Assignment"
    list_title = _l("Assignments")
    show_title = _l("Assignment")
    add_title = _l("Add assignment")
    edit_title = _l("Edit assignment")
    label_columns = ASSIGNMENT_LABELS
    list_columns = ["person", "post", "grid", "start_date", "end_date"]
    order_columns = ["start_date", "end_date"]
    search_columns = ["person", "grid", "post", "start_date", "end_date"]
    add_columns = ["person", "grid", "post", "start_date", "end_date", "duty_note"]
    edit_columns = add_columns
    show_columns = add_columns
    description_columns = {
        "end_date": _l("Leave empty while the person holds the post. Ended assignments are kept as history."),
    }
    base_order = ("start_date", "desc")
    extra_permissions = {"end_now": "write"}

    def validate(self, item):
        personnel_service.validate_assignment(db.session, item)

    def validate_delete(self, item):
        personnel_service.check_assignment_deletable(db.session, item)

    @action("end_now", _l("End today"), _l("End the selected assignments today?"), "fa-calendar-times-o")
    def end_now(self, items):
        items = items if isinstance(items, list) else [items]
        with unit_of_work() as work:
            for item in items:
                personnel_service.end_assignment(db.session, item)
        if not work.failed:
            flash(str(_l("%(count)s assignment(s) ended.", count=len(items))), "success")
        return self.back_to_list()


class AssignmentApi(ScopedModelApi):
    list_title = _l("Assignments")
    show_title = _l("Assignment")
    add_title = _l("Assignment")
    edit_title = _l("Assignment")
    resource_name = "assignment"
    resource = "Assignment"
    label_columns = ASSIGNMENT_LABELS
    datamodel = ScopedInterface(Assignment)
    list_columns = [
        "id",
        "person.id",
        "person.name",
        "grid.id",
        "grid.name",
        "post.id",
        "post.name",
        "start_date",
        "end_date",
    ]
    show_columns = list_columns + ["duty_note"]
    add_columns = ["person", "grid", "post", "start_date", "end_date", "duty_note"]
    edit_columns = add_columns
    search_columns = ["person", "grid", "post", "start_date", "end_date"]
    order_columns = ["start_date", "end_date"]

    def validate(self, item):
        personnel_service.validate_assignment(db.session, item)

    def validate_delete(self, item):
        personnel_service.check_assignment_deletable(db.session, item)
