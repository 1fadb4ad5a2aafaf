"""Write each footage shot's clip into the truth of a corpus rendered before the renderer recorded it.

  python -m vpos corpus relabel DIR [--plan PRESET:SEED] [--footage FILE ...] [--dry-run]

The renderer now writes, into every footage shot of the truth, which clip it shows and whether that
clip is live action (``"clip": "bigbuckbunny.mp4", "live_action": false``; vpos/corpus/material.py
CG_FOOTAGE), and the tags truth labels a CG clip's shots ``animation`` (vpos.tags.labels_from_truth).
Older corpora lack the fields. Nothing needs re-rendering: the clip a footage shot shows is the
first draw of its own rng (vpos/corpus/render.py pick_footage_file), so this regenerates each
episode's plan from the corpus's preset and seed (``corpus.json``, else ``--plan``), with the same
footage files (the index's ``footage_files``, else ``--footage``, else the material's clips) and
``footage_share``, checks it shot for shot (and its dissolves/wipes) against the truth, and writes
the two fields. A truth file that is a symbolic link is rewritten where it points (atomically:
a temporary file renamed over it, so other hard links keep the old text).
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Optional, Sequence


class RelabelError(SystemExit):
    """The corpus's plan cannot be regenerated (another preset/seed, material or builder version)."""


@contextlib.contextmanager
def without_camera_moves():
    """Plans as the builder drew them before camera moves (truth without "motion": shakes, zooms and
    wipes on held story shots, vpos/corpus/shows.py add_camera_moves, were not drawn then)."""
    from . import shows

    saved = shows.add_camera_moves
    shows.add_camera_moves = lambda *args, **kwargs: None
    try:
        yield
    finally:
        shows.add_camera_moves = saved


def plan_for_truth(show, truth: dict, seed: int):
    """The episode's plan, checked against its truth's shots, dissolves and wipes."""
    from .shows import plan_episode

    if "motion" in truth:
        plan = plan_episode(show, int(truth["episode"]), seed)
    else:
        with without_camera_moves():
            plan = plan_episode(show, int(truth["episode"]), seed)
    mine = [(s.start, s.start + s.n, s.kind) for s in plan.shots]
    theirs = [(s["start_frame"], s["end_frame"], s["kind"]) for s in truth["shots"]]
    if mine != theirs:
        raise RelabelError(f"{truth['id']}: the regenerated plan does not match the truth's shots "
                           "(another preset/seed, footage files or material than the corpus was built with?)")
    planned = sorted(sh.trans_in for sh in plan.shots[1:] if sh.trans_in in ("dissolve", "wipe"))
    rendered = sorted(t["type"] for t in truth.get("transitions", []) if t["type"] in ("dissolve", "wipe"))
    if planned != rendered:
        raise RelabelError(f"{truth['id']}: the plan's dissolves/wipes differ from the truth's (another builder version?)")
    return plan


def corpus_shows(corpus: Path, plan: str = "benchmark:0", material: str = "auto", cache: Optional[str] = None,
                 footage: Optional[Sequence[str]] = None):
    """(shows by slug, seed, footage files) of the corpus's plan: its index wins over ``plan``/``footage``."""
    from .material import MaterialLibrary
    from .shows import PRESETS, make_corpus_plan

    preset, seed_s = plan.split(":")
    seed, share, vary, index = int(seed_s), None, False, None
    files = list(footage) if footage else None
    if (corpus / "corpus.json").exists():
        index = json.loads((corpus / "corpus.json").read_text())
        preset, seed = index["preset"], int(index["seed"])
        files = index.get("footage_files") or files
        share, vary = index.get("footage_share"), bool(index.get("vary_footage"))
    if preset not in PRESETS:
        raise RelabelError(f"unknown preset {preset!r}")
    lib = MaterialLibrary.open(material, cache=cache, log=lambda *a, **k: None)
    if files:  # only the names and their order matter: planning never opens the files
        lib.fetched.footage = [str(f) for f in files]
    lib.fetched.footage_share = share
    lib.fetched.footage_vary = vary
    if index and index.get("sprite_sets"):  # planning reads only the grouping, never the pixels
        from .cli import use_sprites

        use_sprites(lib, index["sprite_sets"], index.get("sprite_share"))
    tries = [(None, None)]
    if index:
        # corpus.json lists the rendered shows only (--only-show); the split names them all
        n_split = sum(len(v) for v in index["split"].values())
        n_shows = None if n_split == PRESETS[preset]["shows"] else n_split
        eps = {s["episodes"] for s in index["shows"]}
        tries = [(n_shows, None)] + ([(n_shows, eps.pop())] if len(eps) == 1 else [])
    for n_shows, n_episodes in tries:
        shows, split = make_corpus_plan(preset, seed, lib, n_shows=n_shows, n_episodes=n_episodes)
        by_slug = {s.slug: s for s in shows}
        if index is None or (split == index["split"] and all(
                s["slug"] in by_slug and by_slug[s["slug"]].n_episodes == s["episodes"] for s in index["shows"])):
            return by_slug, seed, lib.fetched.footage
    raise RelabelError(f"{corpus}: the {preset}:{seed} plan does not give the shows of corpus.json")


def _write_atomic(path: Path, doc: dict) -> None:
    real = Path(os.path.realpath(path))
    fd, tmp = tempfile.mkstemp(prefix=".relabel-", suffix=".json", dir=str(real.parent))
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=1, ensure_ascii=False)
        os.chmod(tmp, os.stat(real).st_mode & 0o777)
        os.replace(tmp, real)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def relabel_corpus(corpus, plan: str = "benchmark:0", material: str = "auto", cache: Optional[str] = None,
                   footage: Optional[Sequence[str]] = None, dry_run: bool = False, log=print) -> dict:
    """Write ``clip`` and ``live_action`` into every footage shot of the corpus's truth files."""
    from .render import footage_shot_source

    corpus = Path(corpus)
    paths = sorted(corpus.glob("*/*.truth.json"))
    if not paths:
        raise RelabelError(f"{corpus}: no <show>/<id>.truth.json files")
    shows, seed, files = corpus_shows(corpus, plan, material, cache, footage)
    out = {"corpus": str(corpus), "seed": seed, "footage_files": [Path(f).name for f in files], "episodes": 0,
           "changed": [], "footage_shots": 0, "cg_shots": 0, "clips": Counter()}
    for path in paths:
        truth = json.loads(path.read_text())
        if truth["show"] not in shows:
            raise RelabelError(f"{truth['id']}: show {truth['show']!r} is not in the regenerated plan")
        ep_plan = plan_for_truth(shows[truth["show"]], truth, seed)
        changed = False
        for sh, rec in zip(ep_plan.shots, truth["shots"]):
            if sh.kind != "footage" or sh.bg[0] != "footage":
                continue
            src = footage_shot_source(files, sh.bg[1])
            if src is None:
                raise RelabelError(f"{truth['id']}: footage shots but no footage files (give --footage)")
            out["footage_shots"] += 1
            out["cg_shots"] += int(not src["live_action"])
            out["clips"][src["clip"]] += 1
            if {k: rec.get(k) for k in src} != src:
                rec.update(src)
                changed = True
        out["episodes"] += 1
        if changed:
            out["changed"].append(truth["id"])
            if not dry_run:
                _write_atomic(path, truth)
        if log:
            log(f"[relabel] {truth['id']}: {'rewritten' if changed and not dry_run else 'would change' if changed else 'unchanged'}")
    out["clips"] = dict(out["clips"])
    return out


def add_relabel_parser(sub) -> None:
    r = sub.add_parser("relabel", help="write each footage shot's clip and live_action into an existing corpus's truth",
                       description=__doc__.split("\n\n")[0])
    r.add_argument("corpus", help="corpus folder (<show>/<id>.truth.json; corpus.json when the builder wrote one)")
    r.add_argument("--plan", default="benchmark:0",
                   help="PRESET:SEED the corpus was built with, when it has no corpus.json (default benchmark:0)")
    r.add_argument("--footage", nargs="*", default=None,
                   help="the --footage files it was built with, when it has no corpus.json (only names and order are used)")
    r.add_argument("--material", default="auto", choices=["auto", "real", "procedural"])
    r.add_argument("--material-dir", default=None)
    r.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    r.set_defaults(func=_cmd_relabel)


def _cmd_relabel(args) -> int:
    from .material import MaterialError

    try:
        got = relabel_corpus(args.corpus, args.plan, args.material, args.material_dir, args.footage, args.dry_run)
    except (MaterialError, RelabelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: (len(v) if k == "changed" else v) for k, v in got.items()}))
    return 0
