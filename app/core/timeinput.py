"""Date and time input types for every request body and query parameter.

One definition so every endpoint refuses the same things with a 422: text that is not
ISO 8601 (pydantic alone would read a number as a Unix time), a date-time without a zone,
and values outside 1900..2200 (after conversion to UTC). Without the range check an
edge value such as 9999-12-31T23:59:59-12:00 parses, but is year 10000 in UTC and fails
in the database driver (a 500); no CRM date is meaningfully outside this range.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

MIN_YEAR, MAX_YEAR = 1900, 2200
_RANGE = f"between {MIN_YEAR}-01-01 and {MAX_YEAR}-12-31"
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _datetime_text(value: Any) -> Any:
    if isinstance(value, dt.datetime) or (isinstance(value, str) and _ISO_DATETIME.match(value)):
        return value
    raise ValueError("expected an ISO 8601 date-time like 2026-11-23T10:00:00Z")


def aware_in_range(value: dt.datetime) -> dt.datetime:
    """The date-time if it has a zone and lies in range; ValueError (a 422) otherwise."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("the date-time needs a timezone (Z or +08:00)")
    try:
        year = value.astimezone(dt.UTC).year
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        year = 0
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"the date-time must be {_RANGE} (UTC)")
    return value


def _date_text(value: Any) -> Any:
    if (isinstance(value, dt.date) and not isinstance(value, dt.datetime)) or (
            isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("expected an ISO 8601 date like 2026-12-31")


def _date_in_range(value: dt.date) -> dt.date:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"the date must be {_RANGE}")
    return value


# An ISO 8601 date-time with a zone, 1900..2200 in UTC.
AwareDateTime = Annotated[dt.datetime, BeforeValidator(_datetime_text), AfterValidator(aware_in_range)]
# An ISO 8601 calendar date (YYYY-MM-DD), years 1900..2200.
CalendarDate = Annotated[dt.date, BeforeValidator(_date_text), AfterValidator(_date_in_range)]
