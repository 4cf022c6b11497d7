"""Secrets the system generates for itself when none is configured: Flower's password and
the HTTP API's token, each written once to a private file under ``state_dir``."""

from __future__ import annotations

import secrets
from pathlib import Path

from workers.settings import Settings

FLOWER_PASSWORD_FILE = "flower-password"
API_TOKEN_FILE = "api-token"


def flower_credentials(settings: Settings) -> tuple[str, str, str]:
    """(user, password, where the password comes from)."""
    if settings.flower_password is not None:
        source = "INFRA_MIND_FLOWER_PASSWORD"
        return settings.flower_user, settings.flower_password.get_secret_value(), source
    path = settings.state_dir / FLOWER_PASSWORD_FILE
    return settings.flower_user, _generated(path, 12), str(path)


def api_token(settings: Settings) -> tuple[str, str]:
    """(bearer token of the HTTP API, where it comes from)."""
    if settings.api_token is not None:
        return settings.api_token.get_secret_value(), "INFRA_MIND_API_TOKEN"
    path = settings.state_dir / API_TOKEN_FILE
    return _generated(path, 24), str(path)


def _generated(path: Path, nbytes: int) -> str:
    """The secret in ``path``, created readable by its owner only on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(nbytes) + "\n")
    return path.read_text().strip()
