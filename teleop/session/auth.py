"""Handshake authentication: the bearer token, checked before the websocket upgrade.

Pure functions for the server's ``process_request``: :func:`extract_token` finds the
token in the ``Authorization: Bearer <token>`` header or the ``?token=`` query, and
:func:`authenticate` turns it into an :class:`Identity`, or None for HTTP 401.

A raw token is never stored or logged: an identity keeps only a short SHA-256 digest of
it (its ``principal``), which is stable across reconnects and safe to write into
recordings and the contribution ledger.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from urllib.parse import parse_qs, urlsplit

ANONYMOUS = "anonymous"


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who a connection is, as far as its token tells.

    Attributes:
        principal: ``"anonymous"`` or ``"token:<12 hex digits of SHA-256>"``.
        is_admin: The client presented the server's admin token; it may take the lease
            over with ``force``.
    """

    principal: str = ANONYMOUS
    is_admin: bool = False


def principal_of(token: str) -> str:
    """A stable, non-reversible name for a token."""
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:12]


def extract_token(authorization: str | None, path: str) -> str | None:
    """The token a handshake presents: the ``Authorization`` header first, then ``?token=``.

    Args:
        authorization: The ``Authorization`` header's value, if any.
        path: The request target, query included (websockets' ``request.path``).
    """
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    values = parse_qs(urlsplit(path).query).get("token")
    return values[0] if values else None


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def authenticate(
    presented: str | None, *, token: str | None, admin_token: str | None
) -> Identity | None:
    """Check a presented token against the server's ``--token`` and ``--admin-token``.

    Rules: a presented token must match one of the two; no token is accepted only when
    the server runs without ``--token`` (then it listens on localhost only).

    Returns:
        The client's identity, or None: answer HTTP 401 before the upgrade.
    """
    if presented is None:
        return Identity() if token is None else None
    if admin_token is not None and _same(presented, admin_token):
        return Identity(principal_of(presented), is_admin=True)
    if token is not None and _same(presented, token):
        return Identity(principal_of(presented))
    return None
