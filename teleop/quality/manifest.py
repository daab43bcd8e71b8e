"""Per-episode manifests: what was recorded, hashed, and signed by the station key.

A manifest file (``meta/station/manifests/episode_NNNNNN.json``) is::

    {"manifest": BODY, "key_id": "<16 hex>", "signature": "<base64 Ed25519>"}

where the signature covers the canonical JSON of BODY (UTF-8, sorted keys, no
whitespace) and BODY is::

    {"format": "teleop.manifest/1", "episode_index": 3, "episode_uuid": "...",
     "signed_at": "<ISO 8601 UTC>",
     "files": {"data/chunk-000/file-003.parquet": {"sha256": "...", "bytes": 51234}, ...},
     "metadata": {"dataset": {...}, "episode": {...}}}

``files`` covers the episode's data parquet, each camera's MP4, and the station's own
quality, fingerprint and robot files. ``metadata`` holds the dataset's fps, robot type
and a hash of its features, and the episode's ``meta/episodes`` values that are its
own: ``episode_index``, ``tasks``, ``length`` and every ``station/*`` column.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from teleop.quality.episode_data import DatasetView
from teleop.quality.signing import StationKey, verify
from teleop.quality.store import sha256_file

FORMAT = "teleop.manifest/1"
EPISODE_KEYS = ("episode_index", "tasks", "length")


def canonical(doc: Any) -> bytes:
    """The bytes a signature covers: UTF-8 JSON with sorted keys and no whitespace."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def episode_metadata(view: DatasetView, index: int) -> dict[str, Any]:
    """The metadata a manifest signs for an episode (see the module docstring)."""
    row = view.episode_meta(index)
    episode = {k: v for k, v in row.items() if k in EPISODE_KEYS or k.startswith("station/")}
    features = hashlib.sha256(canonical(view.info["features"])).hexdigest()
    dataset = {
        "fps": view.fps,
        "robot_type": view.info.get("robot_type", ""),
        "codebase_version": view.info.get("codebase_version", ""),
        "features_sha256": features,
    }
    return {"dataset": dataset, "episode": json.loads(canonical(episode))}


def file_entries(root: Path, files: list[Path]) -> dict[str, dict[str, Any]]:
    """``{relative path: {"sha256", "bytes"}}`` for files relative to ``root``."""
    out = {}
    for rel in files:
        digest, size = sha256_file(root / rel)
        out[rel.as_posix()] = {"sha256": digest, "bytes": size}
    return out


def sign(body: Mapping[str, Any], key: StationKey) -> dict[str, Any]:
    """The manifest document: ``body``, the key's id, and its signature of ``body``."""
    return {"manifest": dict(body), "key_id": key.key_id, "signature": key.sign(canonical(body))}


def _metadata_problems(signed: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    problems = []
    for part in ("dataset", "episode"):
        old, new = signed.get(part, {}), now.get(part, {})
        for name in sorted(set(old) | set(new)):
            if old.get(name) != new.get(name):
                problems.append(
                    f"metadata {name} changed since signing: "
                    f"{old.get(name, '<absent>')!r} -> {new.get(name, '<absent>')!r}"
                )
    return problems


def _file_problems(
    root: Path,
    signed: Mapping[str, Any],
    expected: list[Path],
    known: Mapping[str, tuple[str, int]],
) -> list[str]:
    problems = []
    for rel, entry in sorted(signed.items()):
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel} is missing")
            continue
        digest, size = known[rel] if rel in known else sha256_file(path)
        if digest != entry.get("sha256"):
            problems.append(
                f"{rel} does not match its manifest ({size} bytes, sha256 {digest[:12]}..., "
                f"signed {entry.get('bytes')} bytes, sha256 {str(entry.get('sha256'))[:12]}...)"
            )
    problems += [
        f"{rel.as_posix()} is not covered by the manifest"
        for rel in expected
        if rel.as_posix() not in signed
    ]
    return problems


def check(
    view: DatasetView,
    index: int,
    doc: Mapping[str, Any],
    keys: Mapping[str, Ed25519PublicKey],
    expected_files: list[Path],
    known_hashes: Mapping[str, tuple[str, int]] | None = None,
) -> list[str]:
    """Everything about an episode that no longer matches its signed manifest.

    Args:
        view: The dataset.
        index: The episode.
        doc: Its manifest document.
        keys: Trusted public keys by key id.
        expected_files: Files the manifest must cover, relative to the root.
        known_hashes: Relative path -> (SHA-256 hex, size) of files already hashed.

    Returns:
        Problems, each naming the file or metadata field; empty when all matches.
    """
    body, kid = doc.get("manifest"), str(doc.get("key_id", ""))
    if not isinstance(body, dict) or not isinstance(doc.get("signature"), str):
        return ["the manifest is malformed (no manifest body or signature)"]
    if kid not in keys:
        return [
            f"the manifest is signed by key {kid!r}, which is not a trusted key "
            f"(known: {', '.join(sorted(keys)) or 'none'})"
        ]
    if not verify(keys[kid], canonical(body), doc["signature"]):
        return [
            f"the manifest's signature does not verify with key {kid}: "
            "the manifest was altered after signing"
        ]
    if body.get("format") != FORMAT or body.get("episode_index") != index:
        return [f"the manifest is for episode {body.get('episode_index')}, not {index}"]
    problems = _file_problems(view.root, body.get("files", {}), expected_files, known_hashes or {})
    return problems + _metadata_problems(body.get("metadata", {}), episode_metadata(view, index))
