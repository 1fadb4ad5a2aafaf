"""One way to load the models vpos trains: a local `save_pretrained` folder (the offline copy in
`weights/` by default) or a Hugging Face Hub id `owner/name[@revision]`, strictly, with a clear
error that names the offline copy when the Hub cannot be reached."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

from .errors import ModelLoadError


def resolve_source(source, env: str, default: Path) -> str:
    """The weights to use: the argument, else the environment variable `env`, else `default`."""
    return str(source or os.environ.get(env) or default)


def load_pretrained(cls, source, env: str, default: Path, what: str, cache: dict | None = None):
    """`cls.from_pretrained` (a PyTorchModelHubMixin model) from `source` (see resolve_source), in
    eval mode; loaded once per source when `cache` is given."""
    src = resolve_source(source, env, default)
    if cache is not None and src in cache:
        return cache[src]
    path = Path(src).expanduser()
    try:
        # from_pretrained prints a line per local load; keep the CLI's output clean.
        with contextlib.redirect_stdout(io.StringIO()):
            if path.exists():
                if not (path / "config.json").exists():
                    raise ModelLoadError(f"{path} holds no {what} (no config.json)")
                model = cls.from_pretrained(str(path), strict=True, map_location="cpu")
            elif src.count("/") == 1:
                repo, _, rev = src.partition("@")
                model = cls.from_pretrained(repo, revision=rev or None, strict=True, map_location="cpu")
            else:
                raise ModelLoadError(f"{what} weights not found: {src} (neither a folder nor a Hub id owner/name[@revision])")
    except ModelLoadError:
        raise
    except Exception as e:  # noqa: BLE001 - offline, missing repo, wrong shapes: one clear message
        raise ModelLoadError(
            f"cannot load {what} weights from '{src}' ({e.__class__.__name__}: {str(e)[:200]}). "
            f"Without network, use the offline copy in {default}."
        ) from None
    model.eval()
    if cache is not None:
        cache[src] = model
    return model


def weights_folder(source, env: str, default: Path, what: str, how_to_get: str, offline_hint: str = "") -> Path:
    """A local folder of weights: `source` (see resolve_source) when it is a folder, else the Hub
    repo `owner/name[@revision]` downloaded to the Hugging Face cache. For weights made of several
    files (a fused checkpoint set, a head with its card). `how_to_get` ends the error for a path
    that does not exist (e.g. how to train the weights); `offline_hint` the one for an unreachable Hub."""
    src = resolve_source(source, env, default)
    path = Path(src).expanduser()
    if path.exists():
        return path
    if src.startswith(("/", ".", "~")) or src.count("/") != 1:
        raise ModelLoadError(f"no {what} at {src}: {how_to_get}, or give a Hugging Face Hub repo id (owner/name[@revision])")
    repo, _, revision = src.partition("@")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=repo, revision=revision or None))
    except Exception as e:  # noqa: BLE001 - every hub failure gets the same advice
        raise ModelLoadError(
            f"cannot load {what} from '{src}' ({e.__class__.__name__}: {str(e)[:200]}). "
            f"Without network, use the offline copy in {default} (the default; unset {env}{offline_hint})."
        ) from None
