#!/usr/bin/env bash
# Creates (once) the Python environment vpos runs in and prints its path.
# The environment is keyed by the hash of requirements.txt, so a changed requirement builds a new
# one and every clone of the same revision shares the same one.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
hash="$(cat "$here/requirements.txt" | sha256sum | cut -c1-12)"
venv="${VPOS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/vpos/venv-$hash}"
if [ ! -f "$venv/.complete" ]; then
  echo "[setup] creating $venv (first run: a few minutes)" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip >&2
  "$venv/bin/python" -m pip install -q -r "$here/requirements.txt" >&2
  touch "$venv/.complete"
fi
echo "$venv"
