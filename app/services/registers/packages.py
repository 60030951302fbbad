"""Configuration packages: register definitions, their fields and choice lists as one JSON file,
moved between deployments (a county's IT staff share their registers with the next county).

`import_package` matches by code: what exists is updated, what is missing is created,
nothing is deleted; importing the same package twice changes nothing the second time.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass

from flask import send_file
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.core.clock import now
from app.core.errors import DomainError
from app.models.registers import ChoiceList, ChoiceValue, RegisterDef, RegisterField
from app.services.registers import definitions

FORMAT = "minqing-registers"
VERSION = 1
REGISTER_KEYS = (
    "name", "menu_group", "description", "sort_order", "active", "date_field", "dashboard_card",
    "extends",  # the extra fields of a built-in record (appeal, visit ...), not a register
)  # fmt: skip
FIELD_KEYS = (
    "label", "help_text", "type", "position", "required", "unique_within", "min_value", "max_value", "pattern",
    "pattern_message", "default_value", "in_list", "filterable", "sortable", "sensitive", "lookup",
    "file_kinds",  # 照片/附件: the kinds of file it takes (its most files are max_value)
)  # fmt: skip


def export_package(session):
    """Every register and choice list, as a dict ready for JSON."""
    lists = session.scalars(select(ChoiceList).order_by(ChoiceList.code)).all()
    registers = session.scalars(select(RegisterDef).order_by(RegisterDef.sort_order, RegisterDef.code)).all()
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": now().isoformat(sep=" "),
        "choice_lists": [
            {
                "code": lst.code,
                "name": lst.name,
                "description": lst.description,
                "values": [{"name": v.name, "sort_order": v.sort_order, "active": v.active} for v in lst.values],
            }
            for lst in lists
        ],  # fmt: skip
        "registers": [
            {
                "code": reg.code,
                **{k: getattr(reg, k) for k in REGISTER_KEYS},
                "fields": [
                    {
                        "code": f.code,
                        **{k: getattr(f, k) for k in FIELD_KEYS},
                        "choice_list": f.choice_list.code if f.choice_list is not None else None,
                        "removed": f.removed_at is not None,
                    }
                    for f in reg.fields
                ],  # fmt: skip
            }
            for reg in registers
        ],
    }


def json_response(package):
    data = json.dumps(package, ensure_ascii=False, indent=1).encode("utf-8")
    stamp = now().strftime("%Y%m%d-%H%M")
    return send_file(
        io.BytesIO(data), as_attachment=True, download_name=f"registers-{stamp}.json", mimetype="application/json"
    )


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def summary(self):
        return str(
            _l("%(c)s created, %(u)s updated, %(n)s unchanged", c=self.created, u=self.updated, n=self.unchanged)
        )


def _load(data):
    if isinstance(data, (bytes, bytearray)):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DomainError(_l("The file is not a registers package (JSON).")) from None
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            raise DomainError(_l("The file is not a registers package (JSON).")) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DomainError(_l("The file is not a registers package (JSON)."))
    if data.get("version") != VERSION:
        raise DomainError(_l("This package was made by another version (%(v)s).", v=data.get("version")))
    return data


def _set(obj, values, keys, report_changed):
    changed = False
    for key in keys:
        if key in values and getattr(obj, key) != values[key]:
            setattr(obj, key, values[key])
            changed = True
    return changed or report_changed


def import_package(session, data, only_new=False):
    """Create or update what the package holds; the caller commits. Returns an ImportReport.

    `only_new`: create what is missing and leave existing registers and lists as they are
    (the seeded registers: IT staff's later changes are theirs)."""
    data = _load(data)
    report = ImportReport()
    lists = {}
    for item in data.get("choice_lists") or []:
        lst = session.scalar(select(ChoiceList).where(ChoiceList.code == item.get("code")))
        if lst is not None and only_new:
            lists[lst.code] = lst
            report.unchanged += 1
            continue
        changed = False
        if lst is None:
            lst = ChoiceList(code=item.get("code"), name=item.get("name"))
            session.add(lst)
            report.created += 1
        else:
            changed = _set(lst, item, ("name", "description"), False)
        have = {v.name: v for v in lst.values}
        for n, value in enumerate(item.get("values") or []):
            existing = have.get(value.get("name"))
            if existing is None:
                lst.values.append(ChoiceValue(name=value.get("name"), sort_order=value.get("sort_order", n),
                                              active=value.get("active", True)))  # fmt: skip
                changed = True
            else:
                changed = _set(existing, value, ("sort_order", "active"), changed)
        definitions.check_choice_list(session, lst)
        if lst.id is not None:
            report.updated += int(changed)
            report.unchanged += int(not changed)
        lists[lst.code] = lst
    session.flush()
    for item in data.get("registers") or []:
        register = session.scalar(select(RegisterDef).where(RegisterDef.code == item.get("code")))
        if register is not None and only_new:
            report.unchanged += 1
            continue
        created = register is None
        if created:
            register = RegisterDef(code=item.get("code"))
            session.add(register)
        changed = _set(register, item, REGISTER_KEYS, False)
        for values in item.get("fields") or []:
            field = register.field(values.get("code"))
            if field is None:
                field = RegisterField(code=values.get("code"), column=None)
                register.fields.append(field)
                changed = True
            previous = field.type
            changed = _set(field, values, FIELD_KEYS, changed)
            list_code = values.get("choice_list")
            target = lists.get(list_code) or (
                session.scalar(select(ChoiceList).where(ChoiceList.code == list_code)) if list_code else None
            )
            if (field.choice_list.code if field.choice_list is not None else None) != list_code:
                field.choice_list = target
                changed = True
            removed = bool(values.get("removed"))
            if removed != (field.removed_at is not None):
                field.removed_at = now() if removed else None
                changed = True
            if field.id is not None and previous and previous != field.type:
                definitions.save_field(session, field, previous)
            elif field.id is None:
                definitions.check_field(session, field)
        if created:
            report.created += 1
        elif changed:
            report.updated += 1
        else:
            report.unchanged += 1
            continue
        definitions.save_register(session, register)
    return report


SEED = os.path.join(os.path.dirname(__file__), "seed_registers.json")


def seed_registers(session):
    """The registers the source documents ask for (说事登记簿, 矛盾纠纷排查调处台账, 会议记录,
    帮扶台账, 为民办实事), created once; afterwards they are the IT staff's to change."""
    with open(SEED, "rb") as fh:
        return import_package(session, fh.read(), only_new=True)
