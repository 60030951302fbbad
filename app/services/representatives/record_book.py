"""The contact record book (联系选民记录簿) of one representative and year: print and Excel."""

from __future__ import annotations

import io
from datetime import date

from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from sqlalchemy import select

from app.core.excel import safe_cell
from app.models.representatives import ContactRecord
from app.services.representatives.progress import check_year, yearly_target
from app.services.representatives.rules import LEVEL_TITLES

# --------------------------------------------------------------------------
# The record book (联系选民记录簿)
# --------------------------------------------------------------------------


def record_book(session, rep, year):
    year = check_year(year)
    records = session.scalars(
        select(ContactRecord)
        .where(
            ContactRecord.representative_id == rep.id,
            ContactRecord.deleted_at.is_(None),
            ContactRecord.contact_date >= date(year, 1, 1),
            ContactRecord.contact_date <= date(year, 12, 31),
        )
        .order_by(ContactRecord.contact_date, ContactRecord.id)
    ).all()
    return {
        "representative": rep,
        "year": year,
        "records": records,
        "total_voters": sum(r.voter_count for r in records),
        "total_records": len(records),
        "target": yearly_target(),
    }


def record_book_xlsx(book):
    """The record book as an .xlsx file (bytes): Chinese headers, date order, yearly total."""

    rep = book["representative"]
    wb = Workbook()
    ws = wb.active
    ws.title = f"{book['year']}"
    title = str(_l("Record book of contacts with voters"))
    ws.append([safe_cell(f"{rep.person.name} · {book['year']} · {title}")])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(
        [
            str(_l("Level")),
            str(LEVEL_TITLES.get(rep.level, rep.level)),
            str(_l("Constituency")),
            safe_cell(rep.constituency.name),
            str(_l("Term")),
            rep.term,
            str(_l("Yearly target (person-times)")),
            book["target"],
        ]
    )
    headers = [
        _l("No."),
        _l("Date"),
        _l("Place"),
        _l("Form"),
        _l("Voters met (person-times)"),
        _l("Voters"),
        _l("Opinions and suggestions"),
        _l("Replies"),
        _l("Important"),
        _l("Reported to"),
        _l("Reported on"),
    ]
    ws.append([str(h) for h in headers])
    header_row = ws.max_row
    for cell in ws[header_row]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    yes, no = str(_l("Yes")), str(_l("No"))
    for index, r in enumerate(book["records"], start=1):
        ws.append(
            [
                index,
                r.contact_date,
                safe_cell(r.place),
                safe_cell(r.form.name),
                r.voter_count,
                safe_cell(r.voter_names or ""),
                safe_cell(r.opinions or ""),
                safe_cell(r.replies or ""),
                yes if r.important else no,
                safe_cell(r.reported_to or ""),
                r.reported_at,
            ]
        )
        ws.cell(row=ws.max_row, column=2).number_format = "yyyy-mm-dd"
        ws.cell(row=ws.max_row, column=11).number_format = "yyyy-mm-dd"
        for column in (6, 7, 8):
            ws.cell(row=ws.max_row, column=column).alignment = Alignment(wrap_text=True, vertical="top")
    ws.append(
        [str(_l("Total")), "", "", str(_l("%(n)s contacts", n=book["total_records"])), book["total_voters"]]
    )  # fmt: skip
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    widths = [6, 12, 22, 14, 10, 20, 40, 40, 6, 12, 12]
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
