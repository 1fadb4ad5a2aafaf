"""`python -m vpos tags train|eval|predict`: the tagger on the source system's list format
(`file<TAB>title<TAB>label1,label2`). Heavy imports happen inside the commands."""

from __future__ import annotations

import json
from pathlib import Path


# --------------------------------------------------------------------------------------------
# CLI: python -m vpos tags train|eval|predict
# --------------------------------------------------------------------------------------------

def add_tags_parser(sub) -> None:
    p = sub.add_parser("tags", help="train, evaluate or run a tagger on the source's list format (file<TAB>title<TAB>labels)")
    tsub = p.add_subparsers(dest="tags_command", metavar="ACTION")
    t = tsub.add_parser("train", help="train a tagger on a list of videos and save it (load it with --tagger)")
    t.add_argument("list", help="lines: file<TAB>title<TAB>label1,label2")
    t.add_argument("--out", required=True, help="folder for the weights (config.json + model.safetensors + README.md)")
    t.add_argument("--val", default=None, help="a validation list (default: a random --val-fraction of the list)")
    t.add_argument("--val-fraction", type=float, default=0.2)
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--pooling", choices=["text_guided", "self"], default="text_guided")
    t.add_argument("--window", type=int, default=11, help="seconds per window (centred on each second)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--cache-dir", default=None)
    t.add_argument("--extractors", default="visual,audio,text,picture", help="features the tagger reads (default: %(default)s)")
    t.set_defaults(func=_cmd_train)
    e = tsub.add_parser("eval", help="Hit@1, Hit@2, GAP@20 and per-label precision/recall on a list")
    e.add_argument("list")
    e.add_argument("--tagger", default=None, help="weights folder or Hub id (default: weights/tags)")
    e.add_argument("--cache-dir", default=None)
    e.add_argument("--json", default=None, help="also write the metrics here")
    e.add_argument("--extractors", default="visual,audio,text,picture")
    e.set_defaults(func=_cmd_eval)
    r = tsub.add_parser("predict", help="video-level tags of videos (per-second tags: python -m vpos analyze --json)")
    r.add_argument("videos", nargs="+")
    r.add_argument("--tagger", default=None)
    r.add_argument("--title", default=None, help="title text (default: the file name)")
    r.add_argument("--cache-dir", default=None)
    r.set_defaults(func=_cmd_predict)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _extractors(text: str) -> tuple:
    from .errors import OptionsError

    names = tuple(x.strip() for x in text.split(",") if x.strip())
    bad = set(names) - {"visual", "audio", "text", "picture"}
    if bad or "visual" not in names:
        raise OptionsError(f"--extractors: the tagger reads visual (required), audio, text and picture; got {text!r}")
    return names


def _log(msg: str) -> None:
    import sys

    sys.stderr.write(msg + "\n")


def _cmd_train(args) -> int:
    from .train_tags import train_from_list

    rep = train_from_list(args.list, args.out, val_list=args.val, val_fraction=args.val_fraction, epochs=args.epochs,
                          cache_dir=args.cache_dir, pooling=args.pooling, window=args.window, seed=args.seed, log=_log,
                          extractors=_extractors(args.extractors))
    print(json.dumps(rep, indent=1) if rep else "no validation videos: thresholds left at 0.5")
    print(f"saved {args.out}")
    return 0


def _cmd_eval(args) -> int:
    from .train_tags import eval_list

    rep = eval_list(args.list, args.tagger, args.cache_dir, log=_log, extractors=_extractors(args.extractors))
    print(f"videos {rep['videos']}  Hit@1 {rep['hit@1']:.3f}  Hit@2 {rep['hit@2']:.3f}  GAP@20 {rep['gap@20']:.3f}")
    for lab, v in rep["labels"].items():
        print(f"  {lab:24s} P {v['precision']:.3f}  R {v['recall']:.3f}  F1 {v['f1']:.3f}  ({v['videos']} videos)")
    if args.json:
        Path(args.json).write_text(json.dumps(rep, indent=1))
    return 0


def _cmd_predict(args) -> int:
    from .tags import tag_video
    from .train_tags import video_features

    for v in args.videos:
        feats, n = video_features(v, args.cache_dir, extract_missing=True)
        block = tag_video(feats, n, title=args.title or Path(v).stem, source=args.tagger)
        print(json.dumps({"video": v, "tags": block["video"]}, ensure_ascii=False))
    return 0


def add_actions_parser(sub) -> None:
    p = sub.add_parser("actions", help="top-5 Kinetics-400 actions per window with a TSM ResNet-50 (needs the official weights)")
    p.add_argument("video")
    p.add_argument("--tsm-weights", default=None, metavar="PATH",
                   help="official TSM Kinetics-400 ResNet-50 checkpoint (.pth or .safetensors; default: $VPOS_TSM_WEIGHTS)")
    p.add_argument("--window", type=float, default=8.0, help="seconds per window; 8 frames (segments) x 224 centre crop each")
    p.add_argument("--json", default=None)
    p.set_defaults(func=_cmd_actions)


def _cmd_actions(args) -> int:
    from .tsm import actions

    out = actions(args.video, args.tsm_weights, window=args.window)
    text = json.dumps({"video": args.video, "views": "8 segments x 1 centre crop 224", "actions": out}, ensure_ascii=False, indent=1)
    if args.json:
        Path(args.json).write_text(text)
    else:
        print(text)
    return 0
