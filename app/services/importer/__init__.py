"""Excel in: templates with Chinese headers, and all-or-nothing imports.

A file is checked row by row and column by column; if any cell is wrong the
whole file is refused with a list of (row, column, message) and nothing is
written. Each kind reuses the domain services' validation, so an import obeys
exactly the rules of the forms (including the user's data scope).
"""

from __future__ import annotations

import io

from flask_babel import lazy_gettext as _l
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from app.core.errors import DomainError, DomainErrors
from app.extensions import db
from app.services import scope
from app.services.importer.appeals import AppealImporter
from app.services.importer.base import ImportResult, RowError, cell_text
from app.services.importer.basics import AssignmentImporter, GridImporter, PersonImporter, PostImporter
from app.services.importer.representatives import RepresentativeImporter
from app.services.records import check_bounds

IMPORTERS = {
    cls.kind: cls
    for cls in (GridImporter, PersonImporter, PostImporter, AssignmentImporter, RepresentativeImporter, AppealImporter)
}


EXTENDERS = []  # fn(importer class) -> importer class: the extra fields' columns (app.services.registers.imports)


def register_importer(cls):
    IMPORTERS[cls.kind] = cls
    return cls


def current_importer(kind):
    """The importer of `kind` as it stands now (with columns for its record's extra fields)."""
    cls = IMPORTERS[kind]
    for extend in EXTENDERS:
        cls = extend(cls)
    return cls


def template_bytes(kind, importer=None, dropdowns=None):
    """The template of a kind: Chinese headers, an example row, and a sheet of notes; choice
    columns (`dropdowns`: {column index: [values]}) get a drop-down list of their values."""
    importer = importer or current_importer(kind)
    index = {col.key: i for i, col in enumerate(importer.columns)}
    own = {index[key]: values for key, values in importer.choice_values(db.session).items() if key in index}
    dropdowns = {**own, **(dropdowns or {})}
    if hasattr(importer, "extra_dropdowns"):
        dropdowns = {**(dropdowns or {}), **importer.extra_dropdowns()}
    wb = Workbook()
    ws = wb.active
    ws.title = str(importer.title)[:31]
    fill = PatternFill("solid", fgColor="DDEBF7")
    for index, col in enumerate(importer.columns, start=1):
        cell = ws.cell(row=1, column=index, value=str(col.header) + ("*" if col.required else ""))
        cell.font = Font(bold=True, color="C00000" if col.required else "000000")
        cell.fill = fill
        ws.cell(row=2, column=index, value=col.example)
        ws.column_dimensions[get_column_letter(index)].width = max(12, len(str(col.header)) * 2 + 6)
    ws.freeze_panes = "A2"
    notes = wb.create_sheet(str(_l("Notes")))
    notes.append([str(_l("Column")), str(_l("Required")), str(_l("Notes"))])
    for col in importer.columns:
        notes.append([str(col.header), str(_l("Yes")) if col.required else "", str(col.note or "")])
    notes.append([])
    notes.append([str(_l("Replace the example row with your data; a file with any error is refused as a whole."))])
    for line in getattr(importer, "extra_notes", ()):  # what the file cannot carry (a register's photos)
        notes.append([str(line)])
    if dropdowns:  # after the notes: the hidden sheet of choices comes last
        _add_dropdowns(wb, ws, dropdowns)
    buffer = io.BytesIO()
    wb.save(buffer)
    buffer.seek(0)
    return buffer


def _add_dropdowns(wb, ws, dropdowns):
    """Each choice column offers its values (kept on a hidden sheet) for rows 2-2000."""
    lists = wb.create_sheet("lists")
    lists.sheet_state = "hidden"
    for n, (index, values) in enumerate(sorted(dropdowns.items()), start=1):
        letter = get_column_letter(n)
        for row, value in enumerate(values, start=1):
            lists.cell(row=row, column=n, value=value)
        if not values:
            continue
        check = DataValidation(type="list", formula1=f"=lists!${letter}$1:${letter}${len(values)}", allow_blank=True)
        check.error = str(_l("Choose a value from the list."))
        check.showErrorMessage = True
        ws.add_data_validation(check)
        column = get_column_letter(index + 1)
        check.add(f"{column}2:{column}2000")


def _header_keys(importer, header_row):
    """Map file columns to keys by their header (Chinese or English label, or the key)."""
    names = {}
    for col in importer.columns:
        for alias in {str(col.header), col.key, *col.aliases}:
            names[alias.strip().rstrip("*").lower()] = col.key
    keys = []
    for cell in header_row:
        text = cell_text(cell)
        keys.append(names.get(text.rstrip("*").lower()) if text else None)
    return keys


def import_file(session, kind, stream, max_rows=20000, actor=None, importer_class=None, progress=None):
    """Check and import a whole file in one transaction. Returns an ImportResult.
    `progress(done, total)`, when given, hears how many rows have been checked (a job's bar)."""
    importer = (importer_class or current_importer(kind))(session, actor)
    result = ImportResult(kind=kind)
    try:
        wb = load_workbook(stream, read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 (any unreadable upload is the user's problem to fix)
        result.errors.append((0, "", str(_l("The file is not an Excel .xlsx workbook."))))
        return result
    ws = wb.worksheets[0]
    rows_iter = ws.iter_rows(values_only=True)
    header = next(rows_iter, None)
    if header is None:
        result.errors.append((1, "", str(_l("The sheet is empty."))))
        return result
    keys = _header_keys(importer, header)
    missing = [c for c in importer.columns if c.required and c.key not in keys]
    for col in missing:
        result.errors.append((1, str(col.header), str(_l("This column is missing from the header row."))))
    if missing:
        return result
    rows = []
    for row_no, values in enumerate(rows_iter, start=2):
        if values is None or all(v is None or str(v).strip() == "" for v in values):
            continue
        if len(rows) >= max_rows:
            result.errors.append((row_no, "", str(_l("Too many rows: at most %(n)s per file.", n=max_rows))))
            return result
        rows.append((row_no, {k: v for k, v in zip(keys, values, strict=False) if k}))
    if not rows:
        result.errors.append((2, "", str(_l("The file has no data rows."))))
        return result
    made = []
    with session.no_autoflush:
        for done, (row_no, row) in enumerate(importer.order(rows), start=1):
            if progress is not None and (done % 200 == 0 or done == len(rows)):
                progress(done, len(rows))
            if not importer.checks_required:  # else build() reports a missing cell with the row's other problems
                for col in importer.columns:
                    if col.required and cell_text(row.get(col.key)) is None:
                        result.errors.append((row_no, str(col.header), str(_l("This cell is required."))))
                if any(e[0] == row_no for e in result.errors):
                    continue
            try:
                obj = importer.build(row, row_no)
                scope.check_writable(session, obj)
                check_bounds(obj)  # a cell longer (or a number larger) than its field holds
            except RowError as err:
                result.errors.append((row_no, str(err.column.header), str(err.message)))
                continue
            except DomainErrors as errs:  # every problem of the row, each at its column
                for err in errs.errors:
                    col = importer.field_column(err.field) if err.field else None
                    result.errors.append((row_no, str(col.header) if col else "", str(err.message)))
                continue
            except DomainError as err:
                col = importer.field_column(err.field) if err.field else None
                result.errors.append((row_no, str(col.header) if col else "", str(err.message)))
                continue
            session.add(obj)
            made.append((row_no, obj))
    if not result.errors:
        result.errors.extend(importer.finish(made))
    if result.errors:
        session.rollback()
        result.errors.sort()
        return result
    try:
        session.commit()
    except Exception:
        session.rollback()
        raise
    result.created = len(made)
    return result
