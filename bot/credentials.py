"""Constant-time checks of the secrets requests carry: the REST channel's bearer token, the
Telegram webhook's secret header and the operator page's token."""

from __future__ import annotations

import hmac


def same_secret(given: str | None, secret: str) -> bool:
    """Whether `given` is `secret`, compared in constant time (nothing given is never a match)."""
    return bool(given) and hmac.compare_digest(given.encode(), secret.encode())


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None for any other header."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def has_bearer_token(authorization: str | None, token: str) -> bool:
    """Whether an `Authorization` header carries exactly `token` as its bearer token."""
    return same_secret(bearer_token(authorization), token)
