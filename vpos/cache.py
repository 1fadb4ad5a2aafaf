"""Feature cache keyed by the video's content hash plus each extractor's name, version and config.

Entries are `.npz` files written to a temporary name and renamed into place, so a killed run never
leaves a file under a real key. Reading verifies the zip CRCs and a checksum of the arrays; a file
that fails is deleted and the features are recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .extractors.base import FeatureSet

_HASH_BLOCK = 1 << 20


def default_cache_dir() -> Path:
    env = os.environ.get("VPOS_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "vpos" / "features"


def content_hash(path: str | os.PathLike) -> str:
    """BLAKE2b of the whole file: the same bytes under any name or folder share cache entries."""
    h = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as f:
        while True:
            block = f.read(_HASH_BLOCK)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def config_digest(parts: dict[str, Any]) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


def _arrays_checksum(arrays: dict[str, np.ndarray], meta_json: str) -> str:
    h = hashlib.blake2b(digest_size=16)
    for k in sorted(arrays):
        a = np.ascontiguousarray(arrays[k])
        h.update(k.encode())
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    h.update(meta_json.encode())
    return h.hexdigest()


class FeatureCache:
    def __init__(self, root: str | os.PathLike | None = None, enabled: bool = True):
        self.root = Path(root).expanduser() if root else default_cache_dir()
        self.enabled = enabled
        self.hits = 0
        self.misses = 0
        self.rebuilt = 0

    def path_for(self, video_hash: str, key_parts: dict[str, Any]) -> Path:
        name = f"{key_parts['name']}-{key_parts['version']}-{config_digest(key_parts)}.npz"
        return self.root / video_hash[:2] / video_hash / name

    def get(self, video_hash: str, key_parts: dict[str, Any]) -> FeatureSet | None:
        if not self.enabled:
            return None
        path = self.path_for(video_hash, key_parts)
        if not path.exists():
            self.misses += 1
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k[2:]: data[k] for k in data.files if k.startswith("a:")}
                meta_json = str(data["__meta__"])
                checksum = str(data["__checksum__"])
                stored_key = json.loads(str(data["__key__"]))
            if checksum != _arrays_checksum(arrays, meta_json):
                raise ValueError("checksum mismatch")
            if stored_key != json.loads(json.dumps(key_parts, sort_keys=True, default=str)):
                raise ValueError("key mismatch")
            fs = FeatureSet(arrays=arrays, meta=json.loads(meta_json))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError):
            # A damaged or foreign file: drop it and let the caller recompute.
            self.rebuilt += 1
            self.misses += 1
            try:
                path.unlink()
            except OSError:
                pass
            return None
        self.hits += 1
        return fs

    def put(self, video_hash: str, key_parts: dict[str, Any], features: FeatureSet) -> Path | None:
        if not self.enabled:
            return None
        path = self.path_for(video_hash, key_parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta_json = features.meta_json()
        payload = {f"a:{k}": np.ascontiguousarray(v) for k, v in features.arrays.items()}
        payload["__meta__"] = np.array(meta_json)
        payload["__key__"] = np.array(json.dumps(key_parts, sort_keys=True, default=str))
        payload["__checksum__"] = np.array(_arrays_checksum(features.arrays, meta_json))
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return path
