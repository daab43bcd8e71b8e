"""Handshake authentication: where the token comes from and who it makes you."""

from __future__ import annotations

import pytest

from teleop.session.auth import Identity, authenticate, extract_token, principal_of


@pytest.mark.parametrize(
    ("authorization", "path", "token"),
    [
        ("Bearer s3cret", "/", "s3cret"),
        ("bearer  s3cret ", "/", "s3cret"),
        (None, "/?token=s3cret", "s3cret"),
        (None, "/ws?x=1&token=a%2Bb", "a+b"),
        ("Bearer header", "/?token=query", "header"),
        ("Basic dXNlcjpwdw==", "/?token=query", "query"),
        ("Bearer ", "/", None),
        (None, "/", None),
        ("", "/?token=", None),
    ],
)
def test_extract_token(authorization: str | None, path: str, token: str | None) -> None:
    assert extract_token(authorization, path) == token


def test_open_server_accepts_anyone_and_knows_the_admin() -> None:
    assert authenticate(None, token=None, admin_token=None) == Identity("anonymous")
    admin = authenticate("root-pw", token=None, admin_token="root-pw")
    assert admin == Identity(principal_of("root-pw"), is_admin=True)
    assert authenticate("guess", token=None, admin_token="root-pw") is None


def test_token_server_answers_401_without_a_valid_token() -> None:
    keys = {"token": "s3cret", "admin_token": "root-pw"}
    assert authenticate(None, **keys) is None
    assert authenticate("s3cre", **keys) is None
    assert authenticate("s3cret", **keys) == Identity(principal_of("s3cret"))
    assert authenticate("root-pw", **keys) == Identity(principal_of("root-pw"), is_admin=True)


def test_the_principal_never_reveals_the_token() -> None:
    principal = principal_of("s3cret-token-value")
    assert principal.startswith("token:") and len(principal) == len("token:") + 12
    assert "s3cret" not in principal
    assert principal == principal_of("s3cret-token-value") != principal_of("other")
    assert "s3cret" not in repr(authenticate("s3cret", token="s3cret", admin_token=None))
