"""All configuration, read once from the environment (and an optional .env file).

Nothing else in the code base reads os.environ: take a Settings instance instead.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"

    # Database. No URL means: start the embedded PostgreSQL under data_dir.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "CRM_DATABASE_URL")
    )
    data_dir: Path = Path(".data")
    db_pool_size: int = 10
    db_max_overflow: int = 10
    # The asyncpg pool of the hot reads (core/hot_reads.py), per process. Small on purpose:
    # one event loop keeps about rps x query time of them busy (~1-2 at 1,000 reads/s), and
    # every extra connection is a PostgreSQL backend competing for the same cores; 20
    # instead of 8 put a read's p99 at 4-5x its median on 2 cores (bench/README.md).
    db_hot_read_pool_size: int = 8
    db_pool_timeout_s: float = 10.0
    db_statement_timeout_ms: int = 30_000
    run_migrations_on_start: bool | None = None  # default: only in embedded mode

    # HTTP
    max_body_bytes: int = 1_048_576
    cors_origins: list[str] = []
    retry_after_s: int = 2

    # Auth: signing keys as {kid: secret}. The first key signs; all verify (rotation).
    jwt_keys: dict[str, SecretStr] = {}
    jwt_issuer: str = "crm-pipeline"
    jwt_audience: str = "crm-pipeline-api"
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 30 * 24 * 3600
    login_max_failures: int = 5  # per account (email) in the window
    login_max_failures_per_address: int = 30  # per client address (offices share one)
    login_window_s: int = 900
    token_cache_size: int = 10_000  # verified access tokens kept per process
    api_key_cache_ttl_s: float = 30.0  # also the longest a revoked key works in another process

    # Logging
    log_level: str = "INFO"
    log_json: bool = True

    # Domain defaults
    default_phone_region: str = "CN"
    default_currency: str = "CNY"

    # Bulk imports: foreign keys checked once per chunk, not per row (app/imports/writes.py)
    import_chunk_key_checks: bool = True

    @property
    def embedded(self) -> bool:
        return not self.database_url

    @property
    def migrate_on_start(self) -> bool:
        if self.run_migrations_on_start is not None:
            return self.run_migrations_on_start
        return self.embedded

    def signing_keys(self) -> dict[str, str]:
        """Keys for JWTs. Without configured keys a per-data-dir key is made once and kept,
        so tokens survive restarts in development; production must configure CRM_JWT_KEYS."""
        if self.jwt_keys:
            return {kid: key.get_secret_value() for kid, key in self.jwt_keys.items()}
        if self.environment == "production":
            raise RuntimeError("CRM_JWT_KEYS must be set in production")
        key_file = self.data_dir / "jwt.key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        return {"dev": key_file.read_text().strip()}


@lru_cache
def get_settings() -> Settings:
    return Settings()
