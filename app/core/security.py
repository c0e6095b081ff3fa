"""Password hashing (argon2id at or above the OWASP baseline) and secret-token helpers."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

# OWASP baseline for argon2id: m >= 19 MiB, t >= 2, p = 1. We use 19 MiB, t = 2.
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_TIME_COST = 2
password_hasher = PasswordHash(
    (Argon2Hasher(memory_cost=ARGON2_MEMORY_KIB, time_cost=ARGON2_TIME_COST, parallelism=1),)
)


def hash_password(password: str) -> str:
    return password_hasher.hash(password)


def verify_password(password: str, password_hash: str) -> tuple[bool, str | None]:
    """(matches, new_hash): new_hash is set when the stored hash uses weaker parameters."""
    return password_hasher.verify_and_update(password, password_hash)


def generate_password(length: int = 20) -> str:
    return secrets.token_urlsafe(length)[:length]


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
