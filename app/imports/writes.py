"""Writing one chunk of an import: COPY of the new records, COPY of the row errors, the job's
counters, in the caller's transaction.

The records' foreign keys are checked once per chunk instead of once per row where the
database allows it (`CheckedCopy`). PostgreSQL checks a foreign key with a trigger per
inserted row (`SELECT 1 FROM parent WHERE key = $1 FOR KEY SHARE`): for 100k leads and
their org/owner keys that was ~2 s of the ~5 s a COPY into `lead` took (bench/README.md).
An import's chunk refers to a handful of distinct parents (its organisation, a few owners),
so `CheckedCopy` takes the very same KEY SHARE locks once for all of them, and only if every
one exists it runs the COPY with `session_replication_role = replica` for that statement,
under which the default-enabled triggers, foreign-key checks included, do not fire. The
locks keep each parent from being deleted or re-keyed until the chunk commits, exactly as
the triggers' locks would: the constraints hold as if checked row by row.

It is used only where it is provably equivalent, decided per import from the catalog:
- the role may set `session_replication_role` (superuser, or
  `GRANT SET ON PARAMETER session_replication_role TO <role>`, PostgreSQL 15+);
- every foreign key of the table is on one column, and a column the COPY leaves out has no
  default (it stays NULL, nothing to check);
- the table has no other trigger the setting would switch off (user triggers, deferred
  unique checks).
Otherwise, or when a parent is missing, it is a plain COPY (and a missing parent fails it,
as before). `CRM_IMPORT_CHUNK_KEY_CHECKS=false` turns it off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.core.config import get_settings

ERROR_COLUMNS = ("import_id", "row_number", "org_id", "code", "message", "duplicate_of")

_FOREIGN_KEYS = """
SELECT array_length(c.conkey, 1) AS width, a.attname AS col, a.atthasdef AS has_default,
       c.confrelid::regclass::text AS parent, quote_ident(pa.attname) AS parent_col,
       format_type(pa.atttypid, pa.atttypmod) AS parent_type
FROM pg_constraint c
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1]
WHERE c.conrelid = $1::regclass AND c.contype = 'f'
"""
# Triggers that `replica` would switch off, other than the foreign-key checks this replaces.
_OTHER_TRIGGERS = r"""
SELECT count(*) FROM pg_trigger
WHERE tgrelid = $1::regclass AND tgenabled IN ('O', 'R') AND tgfoid NOT IN (
    SELECT oid FROM pg_proc WHERE pronamespace = 'pg_catalog'::regnamespace AND proname LIKE 'RI\_FKey\_%')
"""


@dataclass(frozen=True)
class _Key:
    position: int  # of the column in the copied records
    lock_sql: str  # counts (and KEY SHARE locks) the parents among $n


@dataclass(frozen=True)
class CheckedCopy:
    """COPY into `table` of records shaped like `columns`; `keys` is None when the per-row
    checks must stay (see the module docstring)."""
    table: str
    columns: tuple[str, ...]
    keys: tuple[_Key, ...] | None

    @classmethod
    async def prepare(cls, conn: Any, table: str, columns: Sequence[str]) -> CheckedCopy:
        """Decide, from the catalog and the role's privileges, once per import."""
        columns = tuple(columns)
        if not get_settings().import_chunk_key_checks or not await conn.fetchval(
                "SELECT has_parameter_privilege('session_replication_role', 'SET')"):
            return cls(table, columns, None)
        if await conn.fetchval(_OTHER_TRIGGERS, table):
            return cls(table, columns, None)
        keys = []
        for fk in await conn.fetch(_FOREIGN_KEYS, table):
            if fk["width"] != 1 or (fk["col"] not in columns and fk["has_default"]):
                return cls(table, columns, None)
            if fk["col"] in columns:
                keys.append(_Key(columns.index(fk["col"]), (
                    f"SELECT count(*) FROM (SELECT 1 FROM {fk['parent']} "
                    f"WHERE {fk['parent_col']} = ANY(${len(keys) + 1}::{fk['parent_type']}[]) FOR KEY SHARE) p")))
        return cls(table, columns, tuple(keys))

    async def copy(self, conn: Any, records: list[tuple[Any, ...]]) -> None:
        if self.keys is not None and await self._lock_parents(conn, records):
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.copy_records_to_table(self.table, records=records, columns=self.columns)
            await conn.execute("SET LOCAL session_replication_role = origin")
        else:
            await conn.copy_records_to_table(self.table, records=records, columns=self.columns)

    async def _lock_parents(self, conn: Any, records: list[tuple[Any, ...]]) -> bool:
        """KEY SHARE locks on every parent the records name; whether all of them exist."""
        assert self.keys is not None
        if not self.keys:
            return True
        wanted = [list({r[k.position] for r in records} - {None}) for k in self.keys]
        sql = "SELECT ARRAY[" + ", ".join(f"({k.lock_sql})" for k in self.keys) + "]"
        found = await conn.fetchval(sql, *wanted)
        return list(found) == [len(w) for w in wanted]


async def write_chunk(conn: Any, job: Any, copy: CheckedCopy, records: list[tuple[Any, ...]],
                      errors: list[tuple[Any, ...]], *, duplicates: int, rows: int) -> None:
    """The chunk's records and row errors, and the job's counters (`rows` read from the file)."""
    if records:
        await copy.copy(conn, records)
    if errors:
        await conn.copy_records_to_table("lead_import_error", records=errors, columns=ERROR_COLUMNS)
    await conn.execute(
        "UPDATE lead_import SET created_count = created_count + $2, duplicate_count = duplicate_count + $3, "
        "error_count = error_count + $4, processed_rows = processed_rows + $5, updated_at = now() WHERE id = $1",
        job.id, len(records), duplicates, len(errors) - duplicates, rows)
