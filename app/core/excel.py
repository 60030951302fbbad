"""Excel files for clerks who live in Excel: writing lists and reading templates.

Cells that a spreadsheet would run as a formula (= + - @, and tab/CR tricks) are
written as text, so an exported value can never execute on a clerk's machine.
"""

import datetime as dt
import io

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


def safe_cell(value):
    """A value as it may go into a cell: text that looks like a formula is quoted."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, dt.date, dt.datetime)):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def workbook_bytes(title, headers, rows, widths=None, total=None):
    """An .xlsx with a bold header row, frozen header, sensible widths and an optional total row.

    `rows` may be a generator: write-only mode keeps memory flat for big exports.
    """
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=title[:31] or "Sheet1")
    widths = widths or [max(10, min(40, len(str(h)) * 2 + 4)) for h in headers]
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"

    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(ws, value=str(header))
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        header_cells.append(cell)
    ws.append(header_cells)
    count = 0
    for row in rows:
        ws.append([safe_cell(v) for v in row])
        count += 1
    if total is not None:
        cells = []
        for value in total:
            cell = WriteOnlyCell(ws, value=safe_cell(value))
            cell.font = Font(bold=True)
            cells.append(cell)
        ws.append(cells)
    buffer = io.BytesIO()
    wb.save(buffer)
    buffer.seek(0)
    return buffer, count


def workbook_sheets(sheets, title=None):
    """An .xlsx of several small tables: [(sheet name, headers, rows)], each sheet
    headed by `title` (a line above the header row) when given."""
    wb = Workbook()
    wb.remove(wb.active)
    for name, headers, rows in sheets:
        ws = wb.create_sheet(title=(name or "Sheet")[:31])
        top = 1
        if title:
            ws.cell(row=1, column=1, value=safe_cell(title)).font = Font(bold=True, size=13)
            top = 2
        for index, header in enumerate(headers, start=1):
            cell = ws.cell(row=top, column=index, value=str(header))
            cell.font = Font(bold=True)
            cell.fill = HEADER_FILL
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            ws.column_dimensions[get_column_letter(index)].width = max(10, min(40, len(str(header)) * 2 + 4))
        for offset, row in enumerate(rows, start=top + 1):
            for index, value in enumerate(row, start=1):
                ws.cell(row=offset, column=index, value=safe_cell(value))
        ws.freeze_panes = ws.cell(row=top + 1, column=1)
    buffer = io.BytesIO()
    wb.save(buffer)
    buffer.seek(0)
    return buffer
