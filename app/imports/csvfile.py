"""Reading an uploaded CSV: decoding, the header, and the errors a file (not a row) gets."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping

from app.core.errors import Unprocessable


class InvalidCsv(Unprocessable):
    code, title = "invalid-csv", "The file is not a CSV this import understands"


ACCEPTED_TYPES = ("text/csv", "text/plain", "application/octet-stream")


def decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig").replace("\x00", "")
    except UnicodeDecodeError:
        raise InvalidCsv("The file must be UTF-8 encoded") from None


def check_content_type(content_type: str | None) -> None:
    if content_type and not any(t in content_type for t in ACCEPTED_TYPES):
        raise InvalidCsv("Send the file as text/csv")


def first_row(csv_text: str) -> list[str]:
    """The header row; an empty or unreadable file is the caller's 422."""
    try:
        header = next(csv.reader(io.StringIO(csv_text[:65536])), None)
    except csv.Error as exc:
        raise InvalidCsv(f"Unreadable header: {exc}") from None
    if not header or not any(h.strip() for h in header):
        raise InvalidCsv("The file is empty")
    return header


def column_names(header: Iterable[str], aliases: Mapping[str, str]) -> list[str]:
    """Header cells as column names: trimmed, lower-cased, spaces as underscores, aliases resolved."""
    names = [h.strip().lower().replace(" ", "_").replace("-", "_") for h in header]
    return [aliases.get(n, n) for n in names]


def column_index(header: list[str], columns: tuple[str, ...], aliases: Mapping[str, str],
                 required: tuple[str, ...]) -> tuple[int | None, ...]:
    """Position of each known column in the file (None when absent); unknown columns are ignored.
    A header without the required columns is refused before any row is read."""
    names = column_names(header, aliases)
    index = tuple(names.index(c) if c in names else None for c in columns)
    missing = [c for c in required if index[columns.index(c)] is None]
    if missing:
        raise InvalidCsv(f"The header needs the column(s) {', '.join(missing)} (known columns: {', '.join(columns)})")
    return index


def estimate_rows(csv_text: str) -> int:
    """Data rows, for progress before the file is read (exact unless values hold line breaks)."""
    return max(csv_text.count("\n") - 1 + (0 if csv_text.endswith("\n") else 1), 0)


def open_rows(content: bytes, header_index: Callable[[list[str]], tuple[int | None, ...]],
              ) -> tuple[Iterator[list[str]], tuple[int | None, ...], int]:
    """A stored upload as (rows after the header, the kind's column index, estimated rows)."""
    csv_text = decode(content)
    reader = csv.reader(io.StringIO(csv_text))
    header = next(reader, None)
    if not header:
        raise InvalidCsv("The file is empty")
    return reader, header_index(header), estimate_rows(csv_text)
