"""`corpus build --sprites ...`: given character art replaces the material's sprites (grouped per
character, one set per character, untinted), leaves the plan alone when unset, renders into the
frames, and refuses a missing path or an image with no transparency."""
import numpy as np
import pytest
from PIL import Image

from vpos.corpus.cli import use_sprites
from vpos.corpus.material import MaterialError, MaterialLibrary, group_sprites


def _sprite(path, colour, size=(40, 100)):
    a = np.zeros((size[1], size[0], 4), np.uint8)
    a[10:, 5:-5] = (*colour, 255)  # an opaque figure on a transparent canvas
    Image.fromarray(a, "RGBA").save(path)
    return str(path)


def test_sprites_group_by_folder_or_first_word_and_bad_files_are_refused(tmp_path):
    loose = tmp_path / "loose"
    loose.mkdir()
    for name in ("mira happy", "mira sad", "toru calm"):
        _sprite(loose / f"{name}.png", (200, 40, 40))
    assert [[p.split("/")[-1] for p in g] for g in group_sprites([str(loose)])] == [
        ["mira happy.png", "mira sad.png"], ["toru calm.png"]]
    nested = tmp_path / "nested"
    for who in ("a", "b"):
        (nested / who).mkdir(parents=True)
        _sprite(nested / who / "1.png", (10, 200, 10))
        _sprite(nested / who / "2.png", (10, 10, 200))
    assert [len(g) for g in group_sprites([str(nested)])] == [2, 2]
    with pytest.raises(MaterialError, match="no such file"):
        group_sprites([str(tmp_path / "missing.png")])
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "shot.png")
    with pytest.raises(MaterialError, match="no transparency"):
        group_sprites([str(tmp_path / "shot.png")])
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(MaterialError, match="not a readable image"):
        group_sprites([str(tmp_path / "broken.png")])
    with pytest.raises(SystemExit, match="needs --sprites"):
        use_sprites(MaterialLibrary.open("procedural"), None, 0.5)


def test_given_sprites_take_one_set_per_character_and_render(tmp_path):
    from vpos.corpus.render import Assets
    from vpos.corpus.shows import make_corpus_plan

    def casts(lib):
        shows, _ = make_corpus_plan("small", 11, lib)
        return shows, [[(c.name, c.sprite_set, c.tint) for c in s.characters] for s in shows]

    lib = MaterialLibrary.open("procedural")
    _, before = casts(lib)
    assert casts(MaterialLibrary.open("procedural"))[1] == before  # deterministic without the option
    files = [_sprite(tmp_path / "mira happy.png", (220, 30, 30)), _sprite(tmp_path / "mira sad.png", (30, 30, 220)),
             _sprite(tmp_path / "toru calm.png", (30, 220, 30))]
    groups = use_sprites(lib, files)
    assert len(groups) == 2 and lib.fetched.sprites_given
    shows, after = casts(lib)
    for cast in after:
        sets = [k for _, k, _ in cast if k >= 0]
        assert sorted(sets) == [0, 1]  # both sets used, once each, in every show
        assert all(t == 0.0 for _, _, t in cast)  # the art as given
    # the renderer draws the given pixels; a set without renpy pose names cycles through its files
    sh = shows[0]
    mira = next(c.name for c in sh.characters if c.sprite_set == 0)
    assets = Assets(sh, lib)
    a = assets.sprite(mira, 100, 0, False, False)
    b = assets.sprite(mira, 100, 1, False, False)
    opaque = a[..., 3] == 255  # inside the figure (its edges blend with the transparent canvas)
    assert opaque.any() and (a[opaque][:, 0] > 150).all()  # the red pose
    assert (b[b[..., 3] == 255][:, 2] > 150).all()  # the blue pose
    assert assets.sprite(mira, 100, 2, False, False)[..., 0].max() > 150  # and back


def test_held_out_art_package_is_fetched_on_request_only(tmp_path, monkeypatch):
    from vpos.corpus.material import DEFAULT_PACKAGES, PACKAGES, renpy_demo_sprites

    assert "renpy-demo" in PACKAGES and "renpy-demo" not in DEFAULT_PACKAGES
    with pytest.raises(MaterialError, match="corpus fetch renpy-demo"):
        renpy_demo_sprites(str(tmp_path))
    monkeypatch.setenv("VPOS_MATERIAL_DIR", str(tmp_path))  # `--sprites renpy-demo` with the package missing
    with pytest.raises(MaterialError, match="corpus fetch renpy-demo"):
        use_sprites(MaterialLibrary.open("procedural"), ["renpy-demo"])
