"""`corpus build --footage FILE ...`: the footage shots take the given clips, and a missing file is refused."""
from types import SimpleNamespace

import pytest

from vpos.corpus.cli import _use_footage


def test_footage_files_replace_the_material_clips(tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x")
    lib = SimpleNamespace(fetched=SimpleNamespace(footage=["/material/bikes.mp4"]))
    assert _use_footage(lib, None) == [] and lib.fetched.footage == ["/material/bikes.mp4"]
    assert _use_footage(lib, [str(clip)]) == [str(clip.resolve())]
    assert lib.fetched.footage == [str(clip.resolve())]
    with pytest.raises(SystemExit, match="no such file"):
        _use_footage(lib, [str(tmp_path / "missing.mp4")])
