"""Identifiers: time-ordered UUIDv7 made in Python, so ids sort by creation and index well."""

import uuid

import uuid_utils


def new_id() -> uuid.UUID:
    return uuid.UUID(bytes=uuid_utils.uuid7().bytes)
