"""Bulk CSV import of accounts and contacts (docs/imports.md): the row parsers and chunk
writers behind /v1/account-imports and /v1/contact-imports. The job around them (queue,
progress, counts, errors, events, worker, CLI) is app/imports, shared with leads.

Rows are validated in Python; each chunk's references (owners, accounts to link) and
duplicates (existing records and earlier rows of the file) are found with one or two
`= ANY(array)` queries, and the records arrive by COPY (app/imports/runner.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from uuid_utils.compat import uuid7

from app.accounts.models import Lifecycle
from app.core.config import get_settings
from app.imports.runner import Batch, Context, Row, RowKind
from app.leads.normalize import normalize_company, normalize_email, phone_normalizer

LIFECYCLES = frozenset(x.value for x in Lifecycle)
MAX_SIZE = 10_000_000  # as POST /v1/accounts


@lru_cache(maxsize=65536)
def account_key(name: str) -> str:
    """The normalised name accounts store (as the account service does): duplicate checks and
    contacts' account_name links."""
    return (normalize_company(name) or name.casefold())[:300]


def _first_new(matches: list[Any], created: set[uuid.UUID]) -> dict[Any, Any]:
    """key -> first match (rows come ordered) that is not a record this import made itself.
    (Ids are stdlib UUIDs, uuid_utils.compat: uuid_utils' own never equal asyncpg's.)"""
    found: dict[Any, Any] = {}
    for match in matches:
        if match["id"] not in created:
            found.setdefault((match["kind"], match["key"]), match)
    return found


# ---- accounts ------------------------------------------------------------------------------

# A parsed account row: row number, error code, message, then the record's own fields.
A_ID, A_OWNER, A_NAME, A_KEY = 3, 4, 5, 6


class AccountRows(RowKind):
    COLUMNS = ("name", "website", "industry", "size", "region", "tier", "lifecycle", "description", "owner_email")
    ALIASES = {"account_name": "name", "account": "name", "company": "name", "company_name": "name",
               "employees": "size", "employee_count": "size", "company_size": "size", "url": "website",
               "owner": "owner_email"}
    REQUIRED = ("name",)
    MAX_LEN = {"name": 300, "website": 300, "industry": 100, "region": 100, "tier": 50, "description": 20_000,
               "owner_email": 320}
    TABLE = "account"
    TABLE_COLUMNS = ("id", "owner_id", "name", "name_normalized", "industry", "size", "region", "tier", "lifecycle",
                     "website", "description", "org_id", "version", "created_at", "updated_at")

    def parse(self, ctx: Context, index: tuple[int | None, ...], rows: Iterator[list[str]], start: int,
              limit: int) -> list[Row]:
        out: list[Row] = []
        for n, v, error in self.values(index, rows, start, limit):
            name, size, lifecycle = v.get("name"), v.get("size"), v.get("lifecycle")
            size_n = None
            if name is None and error is None:
                error = ("missing_name", "an account needs a name")
            if size is not None:
                if size.isdigit() and int(size) <= MAX_SIZE:
                    size_n = int(size)
                elif error is None:
                    error = ("bad_size", f"size '{size}' is not a whole number of employees up to {MAX_SIZE}")
            if lifecycle is None:
                lifecycle = Lifecycle.prospect.value
            elif (lifecycle := lifecycle.lower()) not in LIFECYCLES and error is None:
                error = ("bad_lifecycle", f"lifecycle '{lifecycle}' is not one of {', '.join(sorted(LIFECYCLES))}")
            owner, owner_error = self.owner(ctx, v.get("owner_email"))
            error = error or owner_error
            out.append([n, *(error or (None, None)), uuid7(), owner, name,
                        account_key(name) if name else None, v.get("industry"), size_n, v.get("region"), v.get("tier"),
                        lifecycle, v.get("website"), v.get("description")])
        return out

    async def prepare(self, raw: Any, ctx: Context, rows: list[Row], now: Any) -> Batch:
        """Duplicates, in order: an existing account with the same normalised name, then an
        earlier row of the file (any chunk)."""
        job, batch = ctx.job, Batch()
        existing: dict[Any, Any] = {}
        if job.skip_duplicates:
            keys = list({r[A_KEY] for r in rows if r[1] is None})
            existing = _first_new(await raw.fetch(
                "SELECT 0 AS kind, name_normalized AS key, id, name FROM account "
                "WHERE org_id = $1 AND name_normalized = ANY($2::text[]) ORDER BY created_at, id",
                job.org_id, keys), ctx.created)
        first = ctx.first.setdefault("name", {})
        for r in rows:
            if r[1] is not None:
                batch.errors.append(self.error(ctx, r, r[1], r[2]))
                continue
            if job.skip_duplicates:
                key, dup = r[A_KEY], None
                if (match := existing.get((0, key))) is not None:
                    dup = (f"Name matches existing account {match['id']} ({match['name']})", match["id"])
                elif (seen := first.get(key)) is not None:
                    dup = (f"Name repeats row {seen[0]}", seen[1])
                else:
                    first[key] = (r[0], r[A_ID])
                if dup is not None:
                    batch.errors.append(self.error(ctx, r, "duplicate", *dup))
                    batch.duplicates += 1
                    continue
            ctx.created.add(r[A_ID])
            batch.records.append((*r[3:], job.org_id, 1, now, now))
        return batch


# ---- contacts ------------------------------------------------------------------------------

C_ID, C_OWNER, C_ACCOUNT, C_ACCOUNT_KEY, C_ACCOUNT_NAME = 3, 4, 5, 6, 7
C_EMAIL_N, C_PHONE_N = 11, 13


class ContactRows(RowKind):
    COLUMNS = ("first_name", "last_name", "email", "phone", "title", "owner_email", "account_name", "account_id")
    ALIASES = {"firstname": "first_name", "given_name": "first_name", "lastname": "last_name", "surname": "last_name",
               "family_name": "last_name", "e_mail": "email", "email_address": "email", "mobile": "phone",
               "phone_number": "phone", "job_title": "title", "owner": "owner_email", "account": "account_name",
               "company": "account_name", "company_name": "account_name"}
    REQUIRED = ("last_name",)
    MAX_LEN = {"first_name": 100, "last_name": 100, "email": 320, "phone": 50, "title": 200, "owner_email": 320,
               "account_name": 300}
    TABLE = "contact"
    TABLE_COLUMNS = ("id", "owner_id", "account_id", "first_name", "last_name", "email", "email_normalized", "phone",
                     "phone_normalized", "title", "org_id", "version", "created_at", "updated_at")

    def parse(self, ctx: Context, index: tuple[int | None, ...], rows: Iterator[list[str]], start: int,
              limit: int) -> list[Row]:
        phone_norm = phone_normalizer(get_settings().default_phone_region)
        out: list[Row] = []
        for n, v, error in self.values(index, rows, start, limit):
            email, phone, account_id, account_name = v.get("email"), v.get("phone"), v.get("account_id"), v.get("account_name")
            if v.get("last_name") is None and error is None:
                error = ("missing_name", "a contact needs a last_name")
            email_n, ok = normalize_email(email)
            if not ok and error is None:
                error = ("bad_email", f"'{email}' is not a valid email address")
            phone_n, ok = (None, True) if phone is None else phone_norm(phone)
            if not ok and error is None:
                error = ("bad_phone", f"'{phone}' is not a valid phone number")
            owner, owner_error = self.owner(ctx, v.get("owner_email"))
            error = error or owner_error
            account = None
            if account_id is not None:
                try:
                    account = uuid.UUID(account_id)
                except ValueError:
                    error = error or ("unknown_account", f"account_id '{account_id}' is not an account id")
            out.append([n, *(error or (None, None)), uuid7(), owner, account,
                        account_key(account_name) if account_name and account is None else None, account_name,
                        v.get("first_name"), v.get("last_name"), email, email_n, phone, phone_n, v.get("title")])
        return out

    async def prepare(self, raw: Any, ctx: Context, rows: list[Row], now: Any) -> Batch:
        job, batch = ctx.job, Batch()
        await self._link_accounts(raw, ctx, rows)
        existing: dict[Any, Any] = {}
        if job.skip_duplicates:
            emails = list({r[C_EMAIL_N] for r in rows if r[1] is None and r[C_EMAIL_N] is not None})
            phones = list({r[C_PHONE_N] for r in rows if r[1] is None and r[C_PHONE_N] is not None})
            existing = _first_new(await raw.fetch(
                "SELECT 0 AS kind, email_normalized AS key, id FROM contact "
                "WHERE org_id = $1 AND email_normalized = ANY($2::text[]) "
                "UNION ALL SELECT 1, phone_normalized, id FROM contact "
                "WHERE org_id = $1 AND phone_normalized = ANY($3::text[]) ORDER BY 1, 3", job.org_id, emails, phones),
                ctx.created)
        first_email, first_phone = ctx.first.setdefault("email", {}), ctx.first.setdefault("phone", {})
        for r in rows:
            if r[1] is not None:
                batch.errors.append(self.error(ctx, r, r[1], r[2]))
                continue
            if job.skip_duplicates:
                dup = self._duplicate(r, existing, first_email, first_phone)
                if dup is not None:
                    batch.errors.append(self.error(ctx, r, "duplicate", *dup))
                    batch.duplicates += 1
                    continue
            ctx.created.add(r[C_ID])
            batch.records.append((r[C_ID], r[C_OWNER], r[C_ACCOUNT], *r[8:], job.org_id, 1, now, now))
        return batch

    @staticmethod
    def _duplicate(r: Row, existing: dict[Any, Any], first_email: dict[str, Any],
                   first_phone: dict[str, Any]) -> tuple[str, Any] | None:
        """As the lead import: an existing contact's email, its phone, then an earlier row's
        email, its phone. duplicate_of is the contact the earlier row made (None if that row
        was skipped itself)."""
        email, phone = r[C_EMAIL_N], r[C_PHONE_N]
        for kind, label, key in ((0, "Email", email), (1, "Phone", phone)):
            if key is not None and (match := existing.get((kind, key))) is not None:
                return f"{label} matches existing contact {match['id']}", match["id"]
        dup = None
        if email is not None and (seen := first_email.get(email)) is not None:
            return f"Email repeats row {seen[0]}", seen[1]
        if phone is not None and (seen := first_phone.get(phone)) is not None:
            dup = (f"Phone repeats row {seen[0]}", seen[1])
        if email is not None:
            first_email[email] = (r[0], None if dup else r[C_ID])
        if dup is None and phone is not None:
            first_phone[phone] = (r[0], r[C_ID])
        return dup

    @staticmethod
    async def _link_accounts(raw: Any, ctx: Context, rows: list[Row]) -> None:
        """account_id must be an account of the organisation; account_name must name exactly
        one (by normalised name). Otherwise the row is `unknown_account` / `ambiguous_account`."""
        ok = [r for r in rows if r[1] is None and (r[C_ACCOUNT] is not None or r[C_ACCOUNT_KEY] is not None)]
        if not ok:
            return
        ids = list({r[C_ACCOUNT] for r in ok if r[C_ACCOUNT] is not None})
        keys = list({r[C_ACCOUNT_KEY] for r in ok if r[C_ACCOUNT_KEY] is not None})
        known: set[uuid.UUID] = set()
        named: dict[str, list[uuid.UUID]] = {}
        for kind, key, account in await raw.fetch(
                "SELECT 0, NULL::text, id FROM account WHERE org_id = $1 AND id = ANY($2::uuid[]) "
                "UNION ALL SELECT 1, name_normalized, id FROM account WHERE org_id = $1 "
                "AND name_normalized = ANY($3::text[]) ORDER BY 1, 3", ctx.job.org_id, ids, keys):
            if kind == 0:
                known.add(account)
            else:
                named.setdefault(key, []).append(account)
        for r in ok:
            if r[C_ACCOUNT] is not None:
                if r[C_ACCOUNT] not in known:
                    r[1:3] = "unknown_account", f"No account with id {r[C_ACCOUNT]}"
                continue
            found = named.get(r[C_ACCOUNT_KEY], [])
            if len(found) == 1:
                r[C_ACCOUNT] = found[0]
            elif not found:
                r[1:3] = "unknown_account", f"No account named '{r[C_ACCOUNT_NAME]}' (import accounts first)"
            else:
                r[1:3] = "ambiguous_account", (f"{len(found)} accounts are named like '{r[C_ACCOUNT_NAME]}'; "
                                               "give account_id instead")


ACCOUNTS = AccountRows()
CONTACTS = ContactRows()
