"""Bulk CSV imports of leads, accounts and contacts: one job resource, one worker job,
one CLI; each kind brings only its column parser and its writer (docs/imports.md)."""
