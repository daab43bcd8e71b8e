"""The station key: created once with 0600 permissions outside the recordings, refused
when exposed, and its signatures check out only on the bytes it signed."""

from __future__ import annotations

import base64
import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

from teleop.errors import TeleopError
from teleop.quality.signing import (
    SigningError,
    StationKey,
    default_key_path,
    key_id,
    load_public_key,
    verify,
)


@pytest.fixture
def key_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TELEOP_KEY_DIR", str(tmp_path / "station"))
    return tmp_path / "station"


def test_key_is_created_once_with_private_permissions(key_dir: Path) -> None:
    key = StationKey.load_or_create()
    path = key_dir / "station_key.pem"
    assert key.path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    again = StationKey.load_or_create()
    assert again.key_id == key.key_id and len(key.key_id) == 16
    assert [p.name for p in key_dir.iterdir()] == ["station_key.pem"]  # no temp file left


def test_default_path_is_in_the_user_config_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TELEOP_KEY_DIR", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_key_path() == tmp_path / ".config" / "teleop" / "station_key.pem"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert default_key_path() == tmp_path / "cfg" / "teleop" / "station_key.pem"


def test_signature_covers_exactly_the_signed_bytes(key_dir: Path) -> None:
    key = StationKey.load_or_create()
    public = load_public_key(key.public_pem)
    assert key_id(public) == key.key_id
    signature = key.sign(b"episode 3 manifest")
    assert verify(public, b"episode 3 manifest", signature)
    assert not verify(public, b"episode 3 manifesT", signature)
    raw = bytearray(base64.b64decode(signature))
    raw[0] ^= 1
    assert not verify(public, b"episode 3 manifest", base64.b64encode(raw).decode())
    assert not verify(public, b"episode 3 manifest", "not base64!")
    other = StationKey.load_or_create(key_dir / "other.pem")
    assert not verify(load_public_key(other.public_pem), b"episode 3 manifest", signature)


def test_exposed_key_is_refused_with_the_fix(key_dir: Path) -> None:
    key = StationKey.load_or_create()
    key.path.chmod(0o644)
    with pytest.raises(SigningError, match=r"mode 644\); run: chmod 600 .*station_key.pem"):
        StationKey.load_or_create()


def test_a_key_of_another_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ec.pem"
    pem = generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    path.chmod(0o600)
    with pytest.raises(SigningError, match="not an Ed25519 key"):
        StationKey.load_or_create(path)
    path.write_bytes(b"garbage")
    with pytest.raises(SigningError, match="not a PEM private key"):
        StationKey.load_or_create(path)
    with pytest.raises(SigningError, match="not a PEM public key"):
        load_public_key(b"garbage", "meta/station/keys/x.pem")


def test_unwritable_key_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(SigningError, match=r"cannot create the station key .*TELEOP_KEY_DIR"):
        StationKey.load_or_create(blocker / "station_key.pem")
    assert issubclass(SigningError, TeleopError)


def test_concurrent_first_runs_agree_on_one_key(key_dir: Path) -> None:
    ids: list[str] = []
    threads = [
        threading.Thread(target=lambda: ids.append(StationKey.load_or_create().key_id))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 8 and len(set(ids)) == 1
