"""Read-only feeds over the audit trail and the domain-event outbox."""
