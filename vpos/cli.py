"""Command line: `python -m vpos <command> ...`. Thin: every command calls the Python API."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from . import __version__
from .errors import OptionsError, VposError
from .media import Limits
from .pipeline import ALL_EXTRACTORS, AnalysisOptions
from .scenes import SceneOptions


class ProgressPrinter:
    """One progress bar per stage on stderr; the pipeline's `(stage, done, total)` callback."""

    def __init__(self, stream=None, enabled: bool = True):
        # sys.stderr as it is now, not as it was at import (a redirected stream may be gone by then)
        self.stream = stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.stage = None
        self.t0 = time.perf_counter()
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self._last_draw = 0.0

    def __call__(self, stage: str, done: float, total: float) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if stage != self.stage:
            if self.stage is not None:
                self.stream.write("\n" if self.tty else "")
            self.stage = stage
            self.t0 = now
            if not self.tty:
                self.stream.write(f"[vpos] {stage}\n")
        if not self.tty:
            return
        if now - self._last_draw < 0.1 and done < total:
            return
        self._last_draw = now
        frac = 0.0 if not total else max(0.0, min(1.0, done / total))
        width = 30
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        elapsed = now - self.t0
        eta = f" eta {elapsed * (1 - frac) / frac:5.0f}s" if 0 < frac < 1 and elapsed > 1 else ""
        self.stream.write(f"\r{stage:>12} [{bar}] {frac * 100:5.1f}% {elapsed:6.1f}s{eta}   ")
        self.stream.flush()

    def close(self):
        if self.enabled and self.tty and self.stage is not None:
            self.stream.write("\n")


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text}")
    return v


def _extractor_list(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    from .pipeline import OPTIONAL_EXTRACTORS

    bad = [n for n in names if n not in ALL_EXTRACTORS + OPTIONAL_EXTRACTORS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"choose from {','.join(ALL_EXTRACTORS + OPTIONAL_EXTRACTORS)} (got {text!r})")
    return names


def add_analysis_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("analysis")
    g.add_argument("--sample-rate", type=_positive_float, default=1.0, metavar="HZ",
                   help="analysis samples per second of video for the visual/text/audio signals (default: 1)")
    g.add_argument("--device", default="auto",
                   help="where models run: auto (CUDA when available, else CPU), cpu, cuda or cuda:N (default: auto)")
    g.add_argument("--batch-size", type=int, default=0, help="inference batch size; 0 picks 16 on CPU, 64 on GPU")
    g.add_argument("--extractors", type=_extractor_list, default=ALL_EXTRACTORS, metavar="LIST",
                   help=f"comma-separated extractors to run (default: {','.join(ALL_EXTRACTORS)})")
    g.add_argument("--shot-threshold", type=float, default=0.45,
                   help="TransNetV2 probability above which a frame is a shot transition (default: 0.45)")
    g.add_argument("--shot-min-seconds", type=float, default=0.3, metavar="S",
                   help="a weak transition (probability < 0.8) this close to the previous one is a flash, not a cut (default: 0.3)")
    g.add_argument("--no-hard-cuts", action="store_true",
                   help="cut only where TransNetV2 says so (default: also where the pixel changes alone show a hard cut)")
    g.add_argument("--no-shot-gate", action="store_true",
                   help="run TransNetV2 on every window, also where no pixel changed (slower, same cuts on held frames)")
    g.add_argument("--shot-precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto",
                   help="TransNetV2 arithmetic: auto = bf16 on CPUs with native bf16 (about 2x faster, same cuts in our "
                        "benchmarks), fp16 on CUDA, else fp32")
    g.add_argument("--text-width", type=int, default=0, metavar="PX",
                   help="width frames are scaled to for text detection (default: the extractor's; larger finds smaller text, slower)")
    g.add_argument("--recognize-text", action="store_true", help="also recognise the detected text (slower)")
    g.add_argument("--silence-db", type=float, default=-45.0, help="loudness (dBFS) under which a second counts as silent")
    g.add_argument("--no-oped", action="store_true", help="do not detect openings and endings")
    g.add_argument("--oped-weights", default=None, metavar="PATH_OR_REPO",
                   help="opening/ending checkpoints: a local folder or a Hugging Face Hub repo id 'owner/name[@revision]' "
                        "(default: $VPOS_OPED_WEIGHTS, else the offline copy in weights/oped)")
    g.add_argument("--characters", default=None, metavar="DIR",
                   help="find these characters: DIR/<name>/*.png|jpg (1-5 images per name, the character alone) or a "
                        "folder with a mapping.csv (Image_ID,Class); adds the 'characters' block to the result")
    g.add_argument("--discover-characters", action="store_true",
                   help="without --characters: cluster the recurring characters (cluster_1, ...) with one representative "
                        "region each (JSON characters.clusters), for a person to name")
    g.add_argument("--character-weights", default=None, metavar="PATH_OR_REPO",
                   help="character network: a local folder or a Hub repo id (default: $VPOS_CHARACTER_WEIGHTS, else weights/characters)")
    g.add_argument("--tags", dest="tags", action="store_true", default=True,
                   help="tag every second, scene and the whole video (default: on)")
    g.add_argument("--no-tags", dest="tags", action="store_false", help="do not compute tags")
    g.add_argument("--tagger", default=None, metavar="PATH_OR_REPO",
                   help="tagger weights: a folder or a Hub repo id[@revision] "
                        "(default: $VPOS_TAGS_WEIGHTS, else the offline copy in weights/tags)")
    g.add_argument("--motion", dest="motion", action="store_true", default=True,
                   help="camera motion (static/pan/tilt/zoom/shake/scroll) and transitions per second (default: on)")
    g.add_argument("--no-motion", dest="motion", action="store_false", help="do not compute camera motion")
    g.add_argument("--motion-weights", default=None, metavar="PATH_OR_REPO",
                   help="motion model: a folder or a Hub repo id[@revision] (default: $VPOS_MOTION_WEIGHTS, else weights/motion)")
    g.add_argument("--tsm-weights", default=None, metavar="PATH",
                   help="official TSM Kinetics-400 checkpoint: adds top-5 actions per 8-s window ('actions'; a second "
                        "decode). Default: $VPOS_TSM_WEIGHTS; without either, no actions")
    sc = p.add_argument_group("scenes")
    sc.add_argument("--no-scenes", action="store_true", help="do not group shots into scenes")
    sc.add_argument("--n-scenes", type=int, default=0, metavar="N",
                    help="split into exactly N scenes (default: 0, the number follows from --scene-penalty)")
    sc.add_argument("--scene-count", choices=["penalty", "elbow"], default="penalty",
                    help="how the number of scenes is found when --n-scenes is 0: a cost per scene (penalty, default) "
                         "or the elbow of the grouping cost curve")
    sc.add_argument("--scene-boundary-prob", choices=["learned", "contrast"], default=SceneOptions.boundary_prob,
                    help="per-shot scene-boundary probabilities from the small learned model in weights/scenes, or "
                         "from the training-free distance contrast (default: %(default)s)")
    sc.add_argument("--scene-prior-weight", type=float, default=SceneOptions.prior_weight,
                    help="how much the learned boundary log-odds guide the grouping (default: %(default)s: not at all)")
    sc.add_argument("--scene-weights", default=None, metavar="PATH_OR_HUB_REPO",
                    help="weights of the learned boundary model (default: weights/scenes)")
    sc.add_argument("--scene-penalty", type=float, default=SceneOptions.penalty,
                    help="cost of one more scene in the grouping; larger gives fewer, longer scenes (default: %(default)s)")
    c = p.add_argument_group("cache and limits")
    c.add_argument("--no-cache", action="store_true", help="neither read nor write the feature cache")
    c.add_argument("--cache-dir", default=None, help="feature cache folder (default: $VPOS_CACHE_DIR or ~/.cache/vpos/features)")
    c.add_argument("--max-width", type=int, default=Limits.max_width, help="refuse videos wider than this (default: %(default)s)")
    c.add_argument("--max-height", type=int, default=Limits.max_height, help="refuse videos taller than this (default: %(default)s)")
    c.add_argument("--max-duration", type=float, default=Limits.max_duration, metavar="SECONDS",
                   help="refuse videos longer than this many seconds (default: %(default)s)")


def options_from_args(args: argparse.Namespace) -> AnalysisOptions:
    return AnalysisOptions(
        sample_rate=args.sample_rate,
        device=args.device,
        batch_size=args.batch_size,
        extractors=args.extractors,
        shot_threshold=args.shot_threshold,
        shot_min_seconds=args.shot_min_seconds,
        shot_hard_cuts=not args.no_hard_cuts,
        shot_gate=not args.no_shot_gate,
        shot_precision=args.shot_precision,
        text_detect_width=args.text_width,
        text_recognize=args.recognize_text,
        silence_db=args.silence_db,
        use_cache=not args.no_cache,
        cache_dir=args.cache_dir,
        limits=Limits(max_width=args.max_width, max_height=args.max_height, max_duration=args.max_duration),
        oped=not args.no_oped,
        oped_weights=args.oped_weights,
        characters=getattr(args, "characters", None),
        character_weights=getattr(args, "character_weights", None),
        discover_characters=getattr(args, "discover_characters", False),
        tags=args.tags,
        tagger=args.tagger,
        motion=getattr(args, "motion", True),
        motion_weights=getattr(args, "motion_weights", None),
        tsm_weights=getattr(args, "tsm_weights", None),
        scenes=not args.no_scenes,
        scene_options=SceneOptions(n_scenes=args.n_scenes, count=args.scene_count, penalty=args.scene_penalty,
                                   boundary_prob=args.scene_boundary_prob, prior_weight=args.scene_prior_weight,
                                   weights=args.scene_weights),
    )


def cmd_analyze(args: argparse.Namespace) -> int:
    from .pipeline import analyze

    options = options_from_args(args)
    printer = ProgressPrinter(enabled=not args.quiet)
    try:
        result = analyze(args.video, options, progress=printer)
    finally:
        printer.close()
    if args.json:
        if args.json == "-":
            sys.stdout.write(result.to_json() + "\n")
        else:
            result.save(args.json)
    if not args.quiet:
        info = result.video
        err = sys.stderr
        err.write(
            f"{Path(info.path).name}: {info.duration:.1f} s, {info.width}x{info.height} @ {info.fps:.3f} fps, "
            f"{info.frame_count} frames, audio: {'yes' if info.has_audio else 'no'}\n"
        )
        err.write(f"shots: {len(result.shots) if result.shots is not None else 'not computed'}\n")
        err.write(f"scenes: {len(result.scenes) if result.scenes is not None else 'not computed'}\n")
        for w in result.warnings:
            err.write(f"warning: {w}\n")
        total = result.timings.get("total", 0.0)
        err.write("timings (s):" + "".join(f" {k}={v:.2f}" for k, v in result.timings.items()) + "\n")
        if total > 0:
            err.write(f"real-time factor: {info.duration / total:.2f}x\n")
        for label in ("opening", "ending"):
            seg = getattr(result, label)
            if seg is not None:
                err.write(f"{label}: {seg.start:.2f}-{seg.end:.2f} s (confidence {seg.confidence:.2f})\n")
        if result.characters:
            st = result.characters["screen_time"]
            err.write("screen time (s): " + ", ".join(f"{k}={v:.0f}" for k, v in st.items()) + "\n")
        if args.json and args.json != "-":
            err.write(f"wrote {args.json}\n")
    if args.exports:
        _write_exports(result.to_dict(), args.exports, Path(args.video).stem)
    if getattr(args, "characters_csv", None):
        from .characters import intervals_csv

        if not result.characters:
            raise OptionsError("--characters-csv needs character references (--characters DIR)")
        Path(args.characters_csv).write_text(intervals_csv(result.characters))
    if getattr(args, "save_scenes", None):
        _save_scenes(result, args)
    return 0


def _save_scenes(result, args: argparse.Namespace) -> None:
    from .scene_clips import save_scene_clips

    if not result.scenes:
        raise VposError("--save-scenes needs scenes: keep the shots extractor and do not pass --no-scenes")
    printer = ProgressPrinter(enabled=not args.quiet)
    try:
        paths = save_scene_clips(args.video, result.scenes, args.save_scenes, stem=Path(args.video).stem, progress=printer)
    finally:
        printer.close()
    if not args.quiet:
        sys.stderr.write(f"wrote {len(paths)} scene clips to {args.save_scenes}\n")


def _write_exports(result_doc: dict, out_dir: str, stem: str) -> None:
    from .exports import write_all

    write_all(result_doc, Path(out_dir) / stem)


def cmd_season(args: argparse.Namespace) -> int:
    from .season import analyze_season, find_videos

    videos = find_videos(args.inputs)
    printer = ProgressPrinter(enabled=not args.quiet)
    try:
        results = analyze_season(videos, options_from_args(args), progress=printer)
    finally:
        printer.close()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for r in results:
        stem = Path(r.video.path).stem
        r.save(out / f"{stem}.json")
        _write_exports(r.to_dict(), out, stem)
        if not args.quiet:
            op = f"{r.opening.start:.1f}-{r.opening.end:.1f}" if r.opening else "none"
            ed = f"{r.ending.start:.1f}-{r.ending.end:.1f}" if r.ending else "none"
            sys.stderr.write(f"{Path(r.video.path).name}: opening {op}, ending {ed}\n")
    sys.stderr.write(f"wrote {len(results)} results to {out}\n")
    return 0


class LibraryProgress:
    """One bar over the library's episodes with an ETA from the rate of this run's analyses
    (episodes already current settle at once and do not count towards the rate)."""

    def __init__(self, stream=None, enabled: bool = True):
        stream = stream if stream is not None else sys.stderr  # the current stderr, not the one at import
        self.stream, self.enabled = stream, enabled
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.base = None
        self.last = -1.0

    def __call__(self, stage: str, done: float, total: float) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if self.base is None:
            self.base = (done, now)
        d0, t0 = self.base
        rate = (done - d0) / (now - t0) if done > d0 and now > t0 else 0.0
        eta = f" eta {_duration((total - done) / rate)}" if rate > 0 and done < total else ""
        frac = done / total if total else 1.0
        bar = "#" * int(frac * 30) + "-" * (30 - int(frac * 30))
        line = f"{stage} [{bar}] {int(done)}/{int(total)}{eta}"
        if self.tty:
            self.stream.write("\r" + line + "   ")
            self.stream.flush()
        elif done != self.last:
            self.stream.write(f"[vpos] {line}\n")
        self.last = done

    def log(self, message: str) -> None:
        if self.enabled:
            self.stream.write(("\r" if self.tty else "") + message + "\n")

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def cmd_library(args: argparse.Namespace) -> int:
    from .library import LibraryOptions, plan_library, run_library

    options = LibraryOptions(
        out=args.out, engine=args.engine, address=args.address, workers=args.workers,
        threads_per_worker=args.threads_per_worker, num_gpus=args.num_gpus, write_beside=args.write_beside,
        retry_failed=args.retry_failed, analysis=options_from_args(args),
    )
    printer = LibraryProgress(enabled=not args.quiet)
    plan = plan_library(args.root)
    if args.verbose:
        for s in plan.seasons:
            printer.log(f"season {s.name} ({s.folder or '.'}): {len(s.episodes)} episodes")
        for e in plan.singles:
            printer.log(f"alone: {e.rel}")
    try:
        report = run_library(plan, options, progress=printer, log=printer.log if args.verbose else None)
    finally:
        printer.close()
    if not args.quiet:
        sys.stderr.write(report.text() + "\n")
        sys.stderr.write(f"summary: {report.summary_csv}\n")
    return 1 if any(r.status == "failed" for r in report.rows) and args.strict else 0


def cmd_export(args: argparse.Namespace) -> int:
    try:
        doc = json.loads(Path(args.result).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise VposError(f"cannot read the result {args.result}: {e}") from None
    if "video" not in doc:
        raise VposError(f"{args.result} is not a vpos result (no 'video' field)")
    _write_exports(doc, args.out, Path(args.result).stem)
    return 0


def cmd_train_oped(args: argparse.Namespace) -> int:
    from .train_oped import main_train

    return main_train(args)


def cmd_export_weights(args: argparse.Namespace) -> int:
    import shutil

    from .oped import _resolve_source, load_checkpoints

    src = _resolve_source(args.src)
    load_checkpoints(str(src))  # refuse to publish a set that does not load strictly
    shutil.copytree(src, args.out, dirs_exist_ok=True)
    print(f"copied {src} -> {args.out}")
    return 0


def cmd_push_weights(args: argparse.Namespace) -> int:
    from huggingface_hub import HfApi

    from .oped import _resolve_source, load_checkpoints

    src = _resolve_source(args.src)
    load_checkpoints(str(src))
    try:
        api = HfApi()
        api.create_repo(args.repo_id, private=args.private, exist_ok=True)
        info = api.upload_folder(repo_id=args.repo_id, folder_path=str(src), commit_message="vpos opening/ending checkpoints")
    except Exception as e:  # noqa: BLE001 - network and auth failures alike
        raise VposError(f"could not push to the Hub repo {args.repo_id}: {e.__class__.__name__}: {str(e)[:300]}") from None
    print(f"pushed {src} to {args.repo_id}: {info}")
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    from .media import probe

    info = probe(args.video)
    print(json.dumps(info.to_dict(), indent=1))
    return 0


def trained_models() -> list[tuple[str, str, str, Path]]:
    """The models vpos trains and ships: (name, task, environment variable, offline copy)."""
    from .character_model import DEFAULT_WEIGHTS as CHARACTERS, HUB_ENV as CHARACTERS_ENV
    from .motion import DEFAULT_MOTION_WEIGHTS, MOTION_ENV
    from .oped import DEFAULT_OPED_WEIGHTS, HUB_ENV as OPED_ENV
    from .scene_model import DEFAULT_SCENE_WEIGHTS, HUB_ENV as SCENE_ENV
    from .tags import DEFAULT_TAGS_WEIGHTS, HUB_ENV as TAGS_ENV

    return [
        ("vpos.oped", "opening/ending", OPED_ENV, DEFAULT_OPED_WEIGHTS),
        ("vpos.scene_boundary", "scene-boundary", SCENE_ENV, DEFAULT_SCENE_WEIGHTS),
        ("vpos.characters", "character-regions", CHARACTERS_ENV, CHARACTERS),
        ("vpos.tagger", "tags", TAGS_ENV, DEFAULT_TAGS_WEIGHTS),
        ("vpos.motion", "camera-motion", MOTION_ENV, DEFAULT_MOTION_WEIGHTS),
    ]


def cmd_models(args: argparse.Namespace) -> int:
    from .models import registry

    print("pretrained parts:")
    for e in registry.list_models():
        print(f"  {e.name:28} {e.task:18} {e.source.describe()}")
    print("trained by vpos (a local folder or a Hugging Face Hub id owner/name[@revision] in the variable):")
    for name, task, env, default in trained_models():
        chosen = os.environ.get(env)
        source = f"${env}={chosen}" if chosen else f"{default} (offline copy; ${env} unset)"
        if not chosen and not default.is_dir():
            source += " -- MISSING"
        print(f"  {name:28} {task:18} {source}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m vpos",
        description="vpos reads the structure of a video episode: openings and endings, shots and scenes, "
        "characters, tags and camera motion, and the audio, on-screen-text and visual signals under them.",
    )
    parser.add_argument("--version", action="version", version=f"vpos {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("analyze", help="analyse one video and write the JSON result",
                       description="Analyse one video: one decode pass feeds every extractor; features are cached.")
    p.add_argument("video", help="the video file (mp4, mkv, webm, avi, mov, ...)")
    p.add_argument("--json", metavar="OUT", help="write the JSON result here ('-' for stdout)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    p.add_argument("--exports", metavar="DIR", help="also write chapters (WebVTT, FFmetadata, Matroska XML), a Kodi/mpv EDL and a per-second CSV here")
    p.add_argument("--characters-csv", metavar="OUT", help="write the character intervals as CSV (character,start,end,duration)")
    p.add_argument("--save-scenes", metavar="DIR",
                   help="also write every scene as its own clip <video>-scene-001.mp4, ... here (re-encoded H.264/AAC, cut on the exact frames)")
    add_analysis_options(p)
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("season", help="analyse several episodes of one show together: repetition marks openings/endings",
                       description="Season mode: analyse every episode (a folder or several files), find what repeats across "
                                   "them and fuse it with the model's per-second probabilities.")
    p.add_argument("inputs", nargs="+", help="video files, or folders of them")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for one JSON result (and exports) per episode")
    p.add_argument("-q", "--quiet", action="store_true")
    add_analysis_options(p)
    p.set_defaults(func=cmd_season)

    p = sub.add_parser("library", help="analyse a whole library: every episode once, season mode per season, resumable",
                       description="Find the videos under ROOT, group them into seasons (folders and names such as "
                                   "'Show - S01E03', '[Group] Show - 03 [1080p]'), analyse each episode once (a re-run skips "
                                   "current results), run season mode per season and write one JSON result per episode, player "
                                   "exports and a summary (library-summary.csv/.json) under --out.")
    p.add_argument("root", help="the library's root folder")
    p.add_argument("--out", required=True, metavar="RESULTS", help="folder for results, exports, summary and the resumable state")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local: a process pool on this machine (default); ray: Ray tasks (needs requirements-ray.txt)")
    p.add_argument("--address", default=None, help="ray: 'auto' or the cluster's address; none starts a local Ray instance")
    p.add_argument("--workers", type=int, default=0,
                   help="local: worker processes (default: CPUs // threads per worker); ray without --address: CPUs of the local instance")
    p.add_argument("--threads-per-worker", type=int, default=2, help="torch threads per episode task (default: 2)")
    p.add_argument("--num-gpus", type=float, default=1.0,
                   help="ray: GPUs per episode task, requested only when the cluster has GPUs (fractions share a GPU; default: 1)")
    p.add_argument("--write-beside", action="store_true", help="write the exports (chapters, EDL) beside each video instead of beside each result")
    p.add_argument("--retry-failed", action="store_true", help="analyse again the files that failed in an earlier run")
    p.add_argument("--strict", action="store_true", help="exit with status 1 when any episode failed")
    p.add_argument("-v", "--verbose", action="store_true", help="the seasons found, and per-episode stage times")
    p.add_argument("-q", "--quiet", action="store_true")
    add_analysis_options(p)
    p.set_defaults(func=cmd_library)

    p = sub.add_parser("export", help="write chapters / EDL / CSV from a saved JSON result")
    p.add_argument("result", help="a JSON result written by analyze or season")
    p.add_argument("--out", required=True, metavar="DIR")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("train", help="train vpos models on a corpus (see: python -m vpos train oped --help)")
    tsub = p.add_subparsers(dest="model", metavar="MODEL")
    t = tsub.add_parser("oped", help="train the opening/ending checkpoints (AVTNet family) and write a fused set")
    t.add_argument("--corpus", required=True,
                   help="a corpus folder built by `python -m vpos corpus build` (with split.json), or a folder in the "
                        "competition format: <id>_start.mp4 / <id>_end.mp4 clips with start_labels.txt (OP end) and "
                        "end_labels.txt (ED start), lines 'name seconds' (`python -m vpos corpus export` writes one)")
    t.add_argument("--inputs", default="visual,audio",
                   help="features the models read: visual, audio, text (default: %(default)s, as the shipped set)")
    t.add_argument("--val-fraction", type=float, default=0.2,
                   help="competition format only: share of episodes held out for validation (default: %(default)s)")
    t.add_argument("--out", default="weights/oped", help="folder for the checkpoints and fusion.json (default: weights/oped)")
    t.add_argument("--variants", default="avtnet_norm,avtnet_norm,avtnet_norm",
                   help="one checkpoint per entry, seeds 0, 1, 2, ... (default: %(default)s; also avtnet, yolt)")
    t.add_argument("--epochs", type=int, default=40)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto")
    t.add_argument("--cache-dir", default=None)
    t.set_defaults(func=cmd_train_oped)

    p = sub.add_parser("export-weights", help="copy the opening/ending checkpoint set into a folder ready to publish")
    p.add_argument("--src", default=None, help="checkpoint set (default: weights/oped)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_export_weights)

    p = sub.add_parser("push-weights", help="publish the checkpoint set to a Hugging Face Hub repo (needs network and a token)")
    p.add_argument("repo_id")
    p.add_argument("--src", default=None, help="checkpoint set (default: weights/oped)")
    p.add_argument("--private", action="store_true")
    p.set_defaults(func=cmd_push_weights)

    p = sub.add_parser("probe", help="print what a video file holds (duration, fps, size, audio streams)")
    p.add_argument("video")
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser("models", help="list the models vpos knows and where their weights come from")
    p.set_defaults(func=cmd_models)

    from .tags_cli import add_actions_parser, add_tags_parser

    add_tags_parser(sub)
    add_actions_parser(sub)
    for hook in _extension_parsers():
        hook(sub)
    return parser


def _extension_parsers():
    """Subcommands that live in their own modules (corpus building, evaluation, ...)."""
    hooks = []
    try:
        from .corpus import cli as corpus_cli
    except ImportError:
        return hooks
    for name in ("add_corpus_parser", "add_eval_parser"):
        fn = getattr(corpus_cli, name, None)
        if fn is not None:
            hooks.append(fn)
    return hooks


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except VposError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
