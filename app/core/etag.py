"""Optimistic concurrency over HTTP: a record's `version` is its ETag, and a write that
sends `If-Match` succeeds only against that version (412 otherwise).

Every versioned resource uses these helpers so the header format is the same everywhere.
"""

from __future__ import annotations

from fastapi import Response

from app.core.errors import PreconditionFailed, Unprocessable


def etag_for(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag_for(version)


def expected_version(if_match: str | None) -> int | None:
    """The version an `If-Match` header pins the write to; None when absent or `*`."""
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.strip().removeprefix("W/").strip('"')
    try:
        return int(tag)
    except ValueError:
        raise Unprocessable(f"If-Match must be an ETag this API returned, like '\"3\"'; got {if_match!r}") from None


def check_version(current: int, if_match: str | None) -> None:
    """Raise 412 when the client's `If-Match` names a version that is no longer current."""
    wanted = expected_version(if_match)
    if wanted is not None and wanted != current:
        raise PreconditionFailed(f"The record changed: it is at version {current}, If-Match named {wanted}")
