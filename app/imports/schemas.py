"""The import resource and its row errors, the same for every kind."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from app.leads.models import ImportKind, ImportStatus


class ImportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    kind: ImportKind = Field(description="What the import creates: leads, accounts or contacts")
    status: ImportStatus
    filename: str | None
    skip_duplicates: bool
    total_rows: int | None
    processed_rows: int
    created_count: int
    duplicate_count: int
    error_count: int
    failure: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class ImportErrorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    row_number: StrictInt = Field(description="1-based data row (the header is row 0)")
    code: str = Field(examples=["bad_email", "unknown_owner", "unknown_account", "duplicate"])
    message: str
    duplicate_of: uuid.UUID | None = Field(description="For `duplicate`: the existing record, or the one an earlier "
                                                       "row of the file made (null if that row was skipped too)")
