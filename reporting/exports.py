"""Exports: a table (columns, rows, a totals row, the filters) written as CSV or Excel (.xlsx).

Exporters yield rows of typed values; one writer per format renders them (pretix's shape).
CSV is generated row by row (a ``StreamingHttpResponse`` sends it as it goes); Excel is written
by openpyxl in write-only mode (constant memory) to a temporary file that is then streamed.

Typed values: ``datetime`` (aware, in the installation's zone: Excel shows its wall-clock time, CSV
adds the UTC offset),
``timedelta`` (durations), ``Decimal``/``float``/``int`` numbers and text. Text that a spreadsheet
would take for a formula (it begins with ``= + - @``, a tab or a carriage return: card and driver
names come from users) is neutralised: prefixed with ``'`` in CSV, stored as text in Excel.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.compat.strings import safe_string
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.xml.functions import Element, SubElement

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"

    @property
    def content_type(self) -> str:
        if self == ExportFormat.CSV:
            return "text/csv; charset=utf-8"
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Kind(StrEnum):
    """How a column's values are typed and formatted."""

    TEXT = "text"
    DATETIME = "datetime"
    DATE = "date"
    DURATION = "duration"
    KWH = "kwh"
    MONEY = "money"
    INTEGER = "integer"


EXCEL_FORMATS = {
    Kind.DATETIME: "yyyy-mm-dd hh:mm:ss",
    Kind.DATE: "yyyy-mm-dd",
    Kind.DURATION: "[h]:mm:ss",
    Kind.KWH: "#,##0.000",
    Kind.MONEY: "#,##0.00",
    Kind.INTEGER: "0",
}


@dataclass(frozen=True)
class Column:
    title: str
    kind: Kind = Kind.TEXT
    width: float = 14


@dataclass
class Table:
    """What an export holds: a sheet of rows, an optional totals row, and the filters used."""

    title: str
    columns: list[Column]
    rows: Iterable[list[Any]]
    totals: Callable[[], list[Any]] | None = None  # computed after the rows (one query)
    filters: dict[str, str] = field(default_factory=dict)
    exported_at: datetime | None = None
    time_zone: str = ""


def neutralise(text: str) -> str:
    """Text a spreadsheet must not evaluate: prefixed with an apostrophe."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def is_formula_like(text: str) -> bool:
    return text.startswith(FORMULA_STARTS)


# ---------- CSV ----------


def _hms(seconds: int) -> str:
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _csv_value(value: Any, kind: Kind) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, timedelta):
        return _hms(int(value.total_seconds()))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return neutralise(value)
    if kind == Kind.KWH:
        return f"{value:.3f}"
    if kind == Kind.MONEY:
        return f"{Decimal(value):.2f}"
    return value


def _csv_formatter(kind: Kind) -> Callable[[Any], Any]:
    """The CSV text of a value of a column of ``kind``, decided once per column: the common type
    of the column takes a short path, anything else (a totals row's label, a None) the general
    one."""
    if kind == Kind.TEXT:
        return lambda v: (
            ("'" + v if v.startswith(FORMULA_STARTS) else v)
            if v.__class__ is str
            else _csv_value(v, kind)
        )
    if kind == Kind.DATETIME:
        return lambda v: (
            v.isoformat(" ", "seconds") if v.__class__ is datetime else _csv_value(v, kind)
        )
    if kind == Kind.DURATION:
        return lambda v: (
            _hms(v.days * 86400 + v.seconds) if v.__class__ is timedelta else _csv_value(v, kind)
        )
    if kind == Kind.KWH:
        return lambda v: f"{v:.3f}" if v.__class__ is Decimal else _csv_value(v, kind)
    if kind == Kind.MONEY:
        return lambda v: f"{v:.2f}" if v.__class__ is Decimal else _csv_value(v, kind)
    if kind == Kind.INTEGER:
        return lambda v: v if v.__class__ is int else _csv_value(v, kind)
    return lambda v: _csv_value(v, kind)


# Rows per chunk of a streamed CSV: one write to the response per chunk, not per row.
CSV_CHUNK_ROWS = 1000


def write_csv(table: Table) -> Iterator[str]:
    """The table as CSV text in chunks of lines (a header first, the totals row last), for a
    streaming response or a file.

    Times are local times of the installation with their UTC offset (``2026-03-29 10:00:00+02:00``).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([column.title for column in table.columns])
    yield "\ufeff" + _drain(buffer)
    kinds = [column.kind for column in table.columns]
    formats = [_csv_formatter(kind) for kind in kinds]
    batch: list[list[Any]] = []
    for row in table.rows:
        batch.append([f(v) for f, v in zip(formats, row, strict=True)])
        if len(batch) == CSV_CHUNK_ROWS:
            writer.writerows(batch)
            batch.clear()
            yield _drain(buffer)
    writer.writerows(batch)
    if table.totals is not None:
        totals = table.totals()
        writer.writerow([_csv_value(v, k) for v, k in zip(totals, kinds, strict=True)])
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


# ---------- Excel ----------


def _cell(sheet: Any, value: Any, kind: Kind, bold: bool = False) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # text, never a formula, whatever it begins with
    elif value is not None and kind in EXCEL_FORMATS:
        cell.number_format = EXCEL_FORMATS[kind]
    if bold:
        cell.font = Font(bold=True)
    return cell


def _excel_value(value: Any, kind: Kind) -> Any:
    """Excel has no time zones: a local time is written as the wall-clock time it shows."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    if isinstance(value, Decimal):
        return float(value)
    return value


def _style_id(sheet: Any, kind: Kind, bold: bool) -> str:
    """The workbook's style for values of ``kind`` (its number format, bold or not); "" none."""
    cell = WriteOnlyCell(sheet)
    if kind in EXCEL_FORMATS:
        cell.number_format = EXCEL_FORMATS[kind]
    if bold:
        cell.font = Font(bold=True)
    return str(cell.style_id) if cell.has_style else ""


def _row_element(values: list[Any], index: int, letters: list[str], styles: RowStyles) -> Any:
    """One ``<row>`` of the sheet with its cells, as openpyxl writes them (text inline, times as
    Excel serial numbers with a number format), built in one go: openpyxl's own writer makes a
    cell object and two nested elements per value, most of the time of a large workbook."""
    r = str(index)
    row = Element("row", r=r)
    for letter, number_style, value in zip(letters, styles.numbers, values, strict=True):
        if value is None:
            continue
        if value.__class__ is str:
            if ILLEGAL_CHARACTERS_RE.search(value):  # no XML can hold them
                value = ILLEGAL_CHARACTERS_RE.sub("", value)
            cell = SubElement(row, "c", styles.text_attrs(letter + r))
            text = SubElement(SubElement(cell, "is"), "t")
            text.text = value  # text, never a formula, whatever it begins with
            if value.strip() != value:
                text.set(XML_SPACE, "preserve")
            continue
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.replace(tzinfo=None)  # Excel has no zones: the wall-clock time
        if isinstance(value, (date, timedelta)):
            value = to_excel(value)
        attrs = {"r": letter + r, "t": "b" if value.__class__ is bool else "n"}
        if number_style:
            attrs["s"] = number_style
        SubElement(SubElement(row, "c", attrs), "v").text = (
            str(int(value)) if value.__class__ is bool else safe_string(value)
        )
    return row


@dataclass(frozen=True)
class RowStyles:
    numbers: list[str]  # per column
    text: str = ""

    def text_attrs(self, ref: str) -> dict[str, str]:
        attrs = {"r": ref, "t": "inlineStr"}
        if self.text:
            attrs["s"] = self.text
        return attrs


def _sheet_rows(sheet: Any) -> Generator[None, tuple[list[Any], RowStyles], None]:
    """The rows of a write-only sheet, written as they come: openpyxl's own loop
    (``WriteOnlyWorksheet._write_rows``, openpyxl 3.1) with ``_row_element`` for the cells. The
    sheet closes it when the workbook is saved (``sheet.close()`` closes ``sheet._rows``)."""
    sheet._get_writer()
    xf = sheet._writer.xf.send(True)
    with xf.element("sheetData"):
        letters: list[str] = []
        index = 1
        try:
            while True:
                values, styles = yield
                if len(letters) < len(values):
                    letters = [get_column_letter(n) for n in range(1, len(values) + 1)]
                xf.write(_row_element(values, index, letters, styles))
                index += 1
        except GeneratorExit:
            pass
    sheet._writer.xf.send(None)


def write_xlsx(table: Table, out: IO[bytes]) -> None:
    """The table as an Excel workbook: the data sheet (header frozen, autofilter, widths, totals)
    and a sheet naming the filters and the time of export."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(table.title[:31])
    for index, column in enumerate(table.columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"
    kinds = [column.kind for column in table.columns]
    bold = RowStyles(
        [_style_id(sheet, Kind.TEXT, True)] * len(kinds), _style_id(sheet, Kind.TEXT, True)
    )
    plain = RowStyles([_style_id(sheet, kind, False) for kind in kinds])
    strong = RowStyles([_style_id(sheet, kind, True) for kind in kinds], bold.text)
    rows = _sheet_rows(sheet)
    next(rows)
    sheet._rows = rows  # the sheet closes it on save
    rows.send(([column.title for column in table.columns], bold))
    count = 0
    for row in table.rows:
        rows.send((row, plain))
        count += 1
    last_column = get_column_letter(len(table.columns))
    sheet.auto_filter.ref = f"A1:{last_column}{count + 1}"
    if table.totals is not None:
        rows.send((table.totals(), strong))
    filters = workbook.create_sheet("Filters")
    filters.column_dimensions["A"].width = 18
    filters.column_dimensions["B"].width = 40
    filters.append(
        [_cell(filters, "Export", Kind.TEXT, bold=True), _cell(filters, table.title, Kind.TEXT)]
    )
    if table.exported_at is not None:
        filters.append(
            [
                _cell(filters, "Exported at", Kind.TEXT),
                _cell(filters, _excel_value(table.exported_at, Kind.DATETIME), Kind.DATETIME),
            ]
        )
    if table.time_zone:
        filters.append(
            [_cell(filters, "Time zone", Kind.TEXT), _cell(filters, table.time_zone, Kind.TEXT)]
        )
    filters.append([_cell(filters, "Rows", Kind.TEXT), _cell(filters, count, Kind.INTEGER)])
    if not table.filters:
        filters.append(
            [_cell(filters, "Filters", Kind.TEXT), _cell(filters, "none (everything)", Kind.TEXT)]
        )
    for name, value in table.filters.items():
        filters.append([_cell(filters, name, Kind.TEXT), _cell(filters, value, Kind.TEXT)])
    workbook.save(out)


def xlsx_file(table: Table) -> IO[bytes]:
    """The workbook in a temporary file (removed when closed), rewound for streaming."""
    out = tempfile.TemporaryFile()  # noqa: SIM115  (the response closes it)
    write_xlsx(table, out)
    out.seek(0)
    return out
