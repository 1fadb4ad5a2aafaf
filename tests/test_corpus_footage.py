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


def _footage_seconds(lib, seed=3):
    from vpos.corpus.shows import make_corpus_plan, plan_episode

    shows, _ = make_corpus_plan("train", seed, lib)
    out = {}
    for sh in shows:
        plan = plan_episode(sh, 1, seed)
        out[sh.slug] = (sum(s.n for s in plan.shots if s.kind == "footage"), [(s.start, s.n, s.kind) for s in plan.shots])
    return out


def test_footage_share_puts_footage_in_every_opening_and_changes_nothing_unset():
    from vpos.corpus.material import MaterialLibrary

    lib = MaterialLibrary.open("procedural")
    lib.fetched.footage = ["/material/clip.mp4"]  # planning never opens the file
    before = _footage_seconds(lib)
    assert _footage_seconds(lib) == before  # deterministic without the option
    _use_footage(lib, None, 0.6)
    assert lib.fetched.footage_share == 0.6
    after = _footage_seconds(lib)
    with_op = [k for k, (n, shots) in after.items() if any(kind == "op" for _, _, kind in shots)]
    assert with_op and all(after[k][0] > 0 for k in with_op)  # every opening carries footage
    assert sum(n for n, _ in after.values()) > 2 * sum(n for n, _ in before.values())
    # the other opening kinds are still drawn
    assert any(kind == "op" for k in with_op for _, _, kind in after[k][1])
    with pytest.raises(SystemExit, match="between 0 and 1"):
        _use_footage(lib, None, 1.5)


def test_footage_look_degrades_deterministically():
    import numpy as np

    from vpos.corpus.render import FootageClip, draw_footage_look

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (90, 160, 3), dtype=np.uint8)  # fine texture everywhere
    look = dict(draw_footage_look(np.random.default_rng(1)), scale=0.2, blur=0.0, grain=4.0, gain=1.0, lift=0.0)
    plain = FootageClip([frame, frame], 160, 90, 0.0)
    looked = FootageClip([frame, frame], 160, 90, 0.0, look)
    assert np.array_equal(plain[0], frame)
    a, b = looked[0], looked[1]
    # scaled down and up: the fine texture is gone (neighbour differences shrink)
    assert np.abs(np.diff(a.astype(int), axis=1)).mean() < 0.5 * np.abs(np.diff(frame.astype(int), axis=1)).mean()
    assert not np.array_equal(a, b)  # fresh grain every frame
    assert np.array_equal(a, FootageClip([frame, frame], 160, 90, 0.0, look)[0])  # same look, same pictures


def test_footage_look_bars_frame_the_picture():
    import numpy as np

    from vpos.corpus.render import FootageClip

    frame = np.full((90, 160, 3), 200, np.uint8)
    look = {"scale": 1.0, "blur": 0.0, "grain": 0.0, "gain": 1.0, "lift": 0.0, "seed": 0, "bars": "pillar"}
    out = FootageClip([frame], 160, 90, 0.0, look)[0]
    assert out[:, :20].max() == 0 and out[:, -20:].max() == 0 and out[:, 40:120].min() == 200  # 4:3 in the middle
    out = FootageClip([frame], 160, 90, 0.0, dict(look, bars="letter"))[0]
    assert out[:10].max() == 0 and out[-10:].max() == 0 and out[30:60].min() == 200 and out[:, :20].min() == 0
