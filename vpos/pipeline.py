"""The analysis pipeline: probe -> hash -> (cached features | one decode pass feeding every
extractor) -> typed result.

Progress goes through one callback `progress(stage, done, total)`; the CLI turns it into a progress
bar and the app into a Gradio progress bar.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable

import numpy as np

from .cache import FeatureCache, content_hash
from .errors import ModelLoadError, OptionsError
from .extractors.base import AUDIO, FRAMES, MOTION, SAMPLES, Extractor, FeatureSet, RunContext
from .media import DecodePlan, DecodeReport, Limits, VideoInfo, decode, probe
from .result import Analysis, Shot
from .scenes import SceneOptions

ProgressCallback = Callable[[str, float, float], None]

ALL_EXTRACTORS = ("visual", "audio", "text", "shots", "colour", "picture", "motion")
OPTIONAL_EXTRACTORS = ("characters",)  # run when asked for (or when character references are given)


@dataclass
class AnalysisOptions:
    """Everything that changes how a video is analysed. Defaults are the 'default' profile."""

    sample_rate: float = 1.0  # analysis samples per second
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...
    batch_size: int = 0  # 0: 16 on CPU, 64 on GPU
    extractors: tuple[str, ...] = ALL_EXTRACTORS
    shot_threshold: float = 0.45  # 0.45 and 0.5 tie on the tuning shows (bench/scenes_eval.py); 0.45 keeps more weak fades and dissolves
    shot_min_seconds: float = 0.3  # a weak transition closer than this to the previous one is a flash (see shots_from_predictions)
    shot_hard_cuts: bool = True  # also cut where the pixel changes alone show a hard cut (see extractors/shots.hard_cut_frames)
    shot_gate: bool = True  # skip TransNetV2 on windows where no pixel changes (see extractors/shots.py)
    shot_precision: str = "auto"  # "auto" (bf16 on CPUs with native bf16, fp16 on CUDA), "fp32", "bf16", "fp16"
    text_detect_width: int = 0  # 0: the text extractor's default
    text_recognize: bool = False
    silence_db: float = -45.0
    use_cache: bool = True
    cache_dir: str | None = None
    chunk_seconds: float = 10.0
    limits: Limits = field(default_factory=Limits)
    oped: bool = True  # openings/endings (needs the visual, audio and text features)
    oped_weights: str | None = None  # folder or Hub "repo_id@revision"; None: $VPOS_OPED_WEIGHTS or weights/oped
    characters: object = None  # references: folder DIR/<name>/*.png, mapping.csv folder, or {name: [images]}
    character_weights: str | None = None  # folder or Hub id; None: $VPOS_CHARACTER_WEIGHTS or weights/characters
    discover_characters: bool = False  # without references: cluster the recurring characters (cluster_1, ...)
    tags: bool = True  # per-second/scene/video tags (needs the visual and audio features; text when present)
    tagger: str | None = None  # folder or Hub "repo_id@revision"; None: $VPOS_TAGS_WEIGHTS or weights/tags
    scenes: bool = True  # group shots into scenes (needs the shots extractor; see vpos/scenes.py)
    motion: bool = True  # camera motion + transitions per second (vpos/motion.py; when "motion" is among the extractors)
    motion_weights: str | None = None  # folder or Hub "repo_id@revision"; None: $VPOS_MOTION_WEIGHTS or weights/motion
    tsm_weights: str | None = None  # official TSM Kinetics-400 checkpoint; None: $VPOS_TSM_WEIGHTS; neither: no actions
    scene_options: SceneOptions = field(default_factory=SceneOptions)

    def validate(self) -> None:
        if not (0.05 <= self.sample_rate <= 30):
            raise OptionsError(f"sample_rate must be between 0.05 and 30 samples per second, got {self.sample_rate}")
        unknown = set(self.extractors) - set(ALL_EXTRACTORS) - set(OPTIONAL_EXTRACTORS)
        if unknown:
            raise OptionsError(f"unknown extractor(s) {sorted(unknown)}; choose from {', '.join(ALL_EXTRACTORS + OPTIONAL_EXTRACTORS)}")
        if not (0.0 < self.shot_threshold < 1.0):
            raise OptionsError(f"shot_threshold must be between 0 and 1, got {self.shot_threshold}")
        if self.batch_size < 0:
            raise OptionsError("batch_size must be >= 0")
        if self.device not in ("auto", "cpu") and not self.device.startswith("cuda"):
            raise OptionsError(f"device must be auto, cpu or cuda[:N], got '{self.device}'")
        if self.shot_min_seconds < 0:
            raise OptionsError(f"shot_min_seconds must be >= 0, got {self.shot_min_seconds}")
        self.scene_options.validate()

    def resolved_device(self) -> str:
        import torch

        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise OptionsError("device 'cuda' was asked for but torch sees no CUDA GPU; use --device cpu")
        return self.device

    def to_dict(self) -> dict:
        d = asdict(self)
        d["extractors"] = list(self.extractors)
        if self.characters is not None:  # arrays in a mapping are not JSON: keep what identifies them
            d["characters"] = str(self.characters) if not isinstance(self.characters, dict) else sorted(map(str, self.characters))
        return d


def build_extractor(name: str, options: AnalysisOptions) -> Extractor:
    if name == "visual":
        from .extractors.visual import VisualExtractor

        return VisualExtractor()
    if name == "audio":
        from .extractors.audio import AudioExtractor

        return AudioExtractor(silence_db=options.silence_db)
    if name == "text":
        from .extractors.text import TextExtractor

        kwargs = {"recognize": options.text_recognize}
        if options.text_detect_width:
            kwargs["detect_width"] = options.text_detect_width
        return TextExtractor(**kwargs)
    if name == "shots":
        from .extractors.shots import ShotExtractor

        return ShotExtractor(gate=options.shot_gate, precision=options.shot_precision)
    if name == "characters":
        from .extractors.characters import CharacterExtractor

        return CharacterExtractor(weights=options.character_weights)
    if name == "picture":
        from .extractors.picture import PictureExtractor

        return PictureExtractor()
    if name == "colour":
        from .extractors.colour import ColourExtractor

        return ColourExtractor()
    if name == "motion":
        from .extractors.motion import MotionExtractor

        return MotionExtractor(weights=options.motion_weights)
    raise OptionsError(f"unknown extractor '{name}'")


def _noop(stage: str, done: float, total: float) -> None:
    pass


def extract_features(
    info: VideoInfo,
    video_hash: str,
    options: AnalysisOptions,
    progress: ProgressCallback = _noop,
    extractors: Iterable[Extractor] | None = None,
) -> tuple[dict[str, FeatureSet], dict[str, float], list[str], dict]:
    """Features of every requested extractor: from the cache, or from one decode pass."""
    cache = FeatureCache(options.cache_dir, enabled=options.use_cache)
    device = options.resolved_device()
    exts = list(extractors) if extractors is not None else [build_extractor(n, options) for n in options.extractors]
    warnings: list[str] = []
    timings: dict[str, float] = {}
    if not info.has_audio:
        if any(AUDIO in e.needs for e in exts):
            warnings.append("the video has no audio track: audio signals are omitted and analysis continues without them")
        exts = [e for e in exts if AUDIO not in e.needs]

    features: dict[str, FeatureSet] = {}
    todo: list[Extractor] = []
    for e in exts:
        keyparts = dict(e.cache_key_parts(), sample_rate=options.sample_rate)
        fs = cache.get(video_hash, keyparts)
        if fs is not None:
            features[e.name] = fs
        else:
            todo.append(e)

    if todo:
        t0 = time.perf_counter()
        for i, e in enumerate(todo):
            progress("load models", i, len(todo))
            e.load(device)
        progress("load models", len(todo), len(todo))
        timings["load_models"] = time.perf_counter() - t0

        widths = [e.sample_width for e in todo if SAMPLES in e.needs]
        plan = DecodePlan(
            sample_rate=options.sample_rate,
            sample_width=max(widths) if widths else 0,
            small_frames=any(FRAMES in e.needs for e in todo),
            audio=any(AUDIO in e.needs for e in todo),
            chunk_seconds=options.chunk_seconds,
            motion_rate=max([e.motion_rate for e in todo if MOTION in e.needs] or [0.0]),
            shot_samples=any(e.shot_samples for e in todo if SAMPLES in e.needs),
        )
        batch = options.batch_size or (16 if device == "cpu" else 64)
        ctx = RunContext(info=info, sample_rate=options.sample_rate, device=device, batch_size=batch)
        for e in todo:
            e.begin(ctx)
            timings[e.name] = 0.0
        report = DecodeReport()
        t_dec = time.perf_counter()
        wait = 0.0
        progress("extract", 0, info.duration)
        t_wait = time.perf_counter()
        for chunk in decode(info, plan, report):
            wait += time.perf_counter() - t_wait
            for e in todo:
                t = time.perf_counter()
                e.update(chunk)
                timings[e.name] += time.perf_counter() - t
            progress("extract", min(chunk.video_end, info.duration), info.duration)
            t_wait = time.perf_counter()
        for e in todo:
            t = time.perf_counter()
            fs = e.finish()
            timings[e.name] += time.perf_counter() - t
            features[e.name] = fs
        timings["decode_wait"] = wait
        timings["extract_total"] = time.perf_counter() - t_dec
        progress("extract", info.duration, info.duration)
        warnings.extend(report.warnings)
        n_samples = report.samples
        n_frames = report.frames
        for e in todo:
            fs = features[e.name]
            if SAMPLES in e.needs or "per_sample" in fs.meta:
                _fit_samples(fs, n_samples)
            fs.meta["n_samples"] = n_samples
            fs.meta["n_frames"] = n_frames
            fs.meta["duration_decoded"] = report.last_time
            fs.meta["warnings"] = report.warnings
            cache.put(video_hash, dict(e.cache_key_parts(), sample_rate=options.sample_rate), fs)
        # Features that came from the cache were computed over the same file; their counts agree.
    else:
        for fs in features.values():
            for w in fs.meta.get("warnings", []):
                if w not in warnings:
                    warnings.append(w)
    cache_info = {"dir": str(cache.root), "enabled": cache.enabled, "hits": cache.hits, "misses": cache.misses, "rebuilt": cache.rebuilt}
    return features, timings, warnings, cache_info


def shot_samples_of(cf: FeatureSet) -> dict | None:
    """The characters extractor's samples of shots the grid misses, as `detect_characters` takes them."""
    if "shot_times" not in cf:
        return None
    return {"times": cf["shot_times"], **{k: cf["shot_" + k] for k in ("cell_obj", "cell_emb", "cell_hist", "cell_pos")}}


def _fit_samples(fs: FeatureSet, n: int) -> None:
    """Trim or pad per-sample arrays to exactly n rows (audio can run past or stop short of the
    video), padding with each array's declared fill value."""
    keys = fs.meta.get("per_sample")
    if keys is None:
        keys = [k for k, a in fs.arrays.items() if a.ndim >= 1]
    fill = fs.meta.get("fill", {})
    for k in keys:
        a = fs.arrays[k]
        if len(a) == n:
            continue
        if len(a) > n:
            fs.arrays[k] = a[:n]
        else:
            pad = np.full((n - len(a),) + a.shape[1:], fill.get(k, 0), dtype=a.dtype)
            fs.arrays[k] = np.concatenate([a, pad])


def build_shots(shot_fs: FeatureSet, fps: float, threshold: float, min_seconds: float = 0.0, hard_cuts: bool = False) -> list[Shot]:
    from .extractors.shots import hard_cut_frames, shots_from_predictions

    prob = shot_fs["single"]
    times = shot_fs["frame_times"]
    if hard_cuts and "change_short" in shot_fs and len(prob):
        # A hard cut at frame c is a transition frame c - 1 (the boundary goes after the peak).
        idx = hard_cut_frames(shot_fs["change_short"], shot_fs["change_long"])
        idx = idx[idx - 1 < len(prob)]
        prob = prob.copy()
        prob[idx - 1] = np.maximum(prob[idx - 1], min(threshold + 0.01, 0.99))
    spans = shots_from_predictions(prob, threshold, min_shot=max(1, int(round(min_seconds * fps))))
    shots = []
    n = len(times)
    for i, (a, b) in enumerate(spans):
        start_t = float(times[a]) if a < n else a / fps
        end_t = float(times[b + 1]) if b + 1 < n else (float(times[b]) + 1.0 / fps if b < n else (b + 1) / fps)
        shots.append(Shot(index=i, start_frame=int(a), end_frame=int(b), start_time=round(start_t, 4), end_time=round(end_t, 4)))
    return shots


def per_second_signals(features: dict[str, FeatureSet], n: int, sample_rate: float) -> dict[str, list]:
    step = 1.0 / sample_rate
    out: dict[str, list] = {"t": [round(k * step, 4) for k in range(n)]}
    if "audio" in features:
        a = features["audio"].arrays
        for key in ("loudness_db", "silence", "speech_cue", "spectral_flux", "low_energy_ratio", "modulation_4hz"):
            if key in a:
                out[key] = a[key][:n].tolist()
    if "text" in features:
        a = features["text"].arrays
        if "area" in a:
            out["text_area"] = a["area"][:n].tolist()
        if "count" in a:
            out["text_boxes"] = a["count"][:n].tolist()
    if "visual" in features and "embedding" in features["visual"]:
        emb = features["visual"]["embedding"][:n].astype(np.float32)
        norm = emb / (np.linalg.norm(emb, axis=1, keepdims=True) + 1e-8)
        change = np.zeros(len(emb), np.float32)
        if len(emb) > 1:
            change[1:] = 1.0 - (norm[1:] * norm[:-1]).sum(1)
        out["visual_change"] = change.tolist()
    if "shots" in features:
        s = features["shots"]
        prob, times = s["single"], s["frame_times"]
        if len(times):
            bins = np.minimum((times / step).astype(np.int64), n - 1) if n else np.zeros(0, np.int64)
            shot_change = np.zeros(n, np.float32)
            if n:
                np.maximum.at(shot_change, bins, prob.astype(np.float32))
            out["shot_change"] = shot_change.tolist()
    return out


def detect_openings_endings(features, per_second, info: VideoInfo, shots, options: AnalysisOptions, warnings: list[str]):
    """The fused opening/ending checkpoints over this episode, or None with a warning that says why."""
    from . import oped

    if len(per_second.get("t", [])) == 0:
        return None
    try:
        models = oped.load_checkpoints(options.oped_weights, device=options.resolved_device())
    except ModelLoadError as e:
        warnings.append(f"openings/endings not detected: {e}")
        return None
    needed = {"visual"} | ({"audio"} if info.has_audio else set())
    if any(m.use_text for m in models):
        needed.add("text")
    missing = needed - set(features)
    if missing:
        warnings.append(f"openings/endings not detected: they need the {', '.join(sorted(missing))} extractor(s)")
        return None
    cut_times = np.array([s.start_time for s in shots[1:]]) if shots else None
    return oped.detect(features, per_second, info.duration, cut_times, models, options.resolved_device(), sample_rate=options.sample_rate)


def tag_video_stage(features, n: int, path, options: AnalysisOptions, warnings: list[str], scenes=None):
    """The tags block for this video, or None with a warning that says why."""
    from . import tags

    if n == 0:
        return None
    missing = {"visual"} - set(features)
    if missing:
        warnings.append(f"tags not computed: they need the {', '.join(sorted(missing))} extractor(s)")
        return None
    try:
        return tags.tag_video(features, n, title=os.path.splitext(os.path.basename(str(path)))[0], sample_rate=options.sample_rate,
                              scenes=scenes, source=options.tagger, device=options.resolved_device())
    except ModelLoadError as e:
        warnings.append(f"tags not computed: {e}")
        return None

def prepare_motion(options: AnalysisOptions) -> str | None:
    """Keep the motion extractor only when motion is on and its weights load; else say why not."""
    if not options.motion or "motion" not in options.extractors:
        options.extractors = tuple(x for x in options.extractors if x != "motion")
        return None
    from .errors import ModelLoadError
    from .motion import load_motion_model

    try:
        load_motion_model(options.motion_weights)
    except ModelLoadError as e:
        options.extractors = tuple(x for x in options.extractors if x != "motion")
        return f"motion not computed: {e}"
    return None


def motion_stage(fs: FeatureSet, per_second: dict, scene_result=None) -> dict:
    """The result's `motion` block from the motion extractor's per-second outputs."""
    from .motion import motion_block

    scenes = scene_result.to_list() if scene_result is not None else None
    m = fs.meta
    return motion_block(fs["camera"], fs["transitions"], list(per_second.get("t", [])), m["camera_labels"],
                        m["transition_labels"], m["transition_thresholds"], scenes)


def detect_scenes(features, shots: list[Shot], options: AnalysisOptions, oped_result=None):
    """Shots grouped into scenes; a detected opening or ending stays one scene."""
    from .scenes import segment_scenes

    spans = None
    if oped_result is not None:
        spans = [(s.start, s.end) for s in (oped_result.opening, oped_result.ending) if s is not None]
    return segment_scenes(features, shots, options.sample_rate, options.scene_options, spans)


def analyze(
    path: str | os.PathLike,
    options: AnalysisOptions | None = None,
    progress: ProgressCallback | None = None,
) -> Analysis:
    """Analyse one video file and return its typed `Analysis` (see `Analysis.to_json`)."""
    options = options or AnalysisOptions()
    options.validate()
    progress = progress or _noop
    timings: dict[str, float] = {}
    t_all = time.perf_counter()

    t = time.perf_counter()
    progress("probe", 0, 1)
    info = probe(path, options.limits)
    progress("probe", 1, 1)
    timings["probe"] = time.perf_counter() - t

    t = time.perf_counter()
    progress("hash", 0, 1)
    video_hash = content_hash(path)
    progress("hash", 1, 1)
    timings["hash"] = time.perf_counter() - t

    references = None
    if options.characters is not None:  # bad references fail here, before the long decode
        from .characters import build_references

        t = time.perf_counter()
        progress("character references", 0, 1)
        references = build_references(options.characters, options.character_weights, options.resolved_device())
        progress("character references", 1, 1)
        timings["character_references"] = time.perf_counter() - t
        if "characters" not in options.extractors:
            options.extractors = tuple(options.extractors) + ("characters",)
    elif options.discover_characters and "characters" not in options.extractors:
        options.extractors = tuple(options.extractors) + ("characters",)

    motion_warning = prepare_motion(options)
    features, ext_timings, warnings, cache_info = extract_features(info, video_hash, options, progress)
    timings.update(ext_timings)
    if motion_warning:
        warnings.append(motion_warning)
    if references is not None:
        from .characters import reference_notes

        warnings.extend(reference_notes(references.regions))

    any_fs = next(iter(features.values()), None)
    n_samples = int(any_fs.meta.get("n_samples", 0)) if any_fs else 0
    n_frames = int(any_fs.meta.get("n_frames", 0)) if any_fs else 0
    if n_frames:
        info.frame_count = n_frames
        # The decoded frames are the truth: headers can be off (Matroska reports the longest
        # stream, a truncated file its intended length).
        decoded = float(any_fs.meta.get("duration_decoded", 0) or 0)
        if decoded:
            info.duration = round(decoded, 4)

    t = time.perf_counter()
    shots = build_shots(features["shots"], info.fps, options.shot_threshold, options.shot_min_seconds, options.shot_hard_cuts) if "shots" in features else None
    per_second = per_second_signals(features, n_samples, options.sample_rate)
    timings["assemble"] = time.perf_counter() - t

    oped_result = None
    if options.oped:
        t = time.perf_counter()
        progress("openings/endings", 0, 1)
        oped_result = detect_openings_endings(features, per_second, info, shots, options, warnings)
        progress("openings/endings", 1, 1)
        timings["oped"] = time.perf_counter() - t
    characters_result = None
    if references is not None and "characters" in features:
        from .characters import detect_characters

        t = time.perf_counter()
        progress("characters", 0, 1)
        cf = features["characters"]
        cuts = [s.start_time for s in shots[1:]] if shots else []
        characters_result = detect_characters(cf["cell_obj"][:n_samples], cf["cell_emb"][:n_samples], references,
                                              info.duration, cuts, options.sample_rate, options.character_weights,
                                              device=options.resolved_device(),
                                              cell_hist=cf["cell_hist"][:n_samples] if "cell_hist" in cf else None,
                                              cell_pos=cf["cell_pos"][:n_samples] if "cell_pos" in cf else None,
                                              shot_samples=shot_samples_of(cf))
        progress("characters", 1, 1)
        timings["characters_match"] = time.perf_counter() - t
    discovered = None
    if references is None and options.discover_characters and "characters" in features:
        from .characters import discover_characters

        t = time.perf_counter()
        progress("character discovery", 0, 1)
        cf = features["characters"]
        cuts = [s.start_time for s in shots[1:]] if shots else []
        discovered = discover_characters(cf["cell_obj"][:n_samples], cf["cell_emb"][:n_samples], cf["cell_pos"][:n_samples],
                                         info.duration, cuts, options.sample_rate, options.character_weights,
                                         device=options.resolved_device(), shot_samples=shot_samples_of(cf))
        progress("character discovery", 1, 1)
        timings["characters_discovery"] = time.perf_counter() - t
    tags_result = None
    if options.tags:
        t = time.perf_counter()
        progress("tags", 0, 1)
        tags_result = tag_video_stage(features, n_samples, path, options, warnings)
        progress("tags", 1, 1)
        timings["tags"] = time.perf_counter() - t
    scene_result = None
    if options.scenes and shots and not ({"visual", "colour"} & set(features)):
        warnings.append("scenes not computed: they need the visual or colour extractor besides shots")
    elif options.scenes and shots:
        t = time.perf_counter()
        progress("scenes", 0, 1)
        scene_result = detect_scenes(features, shots, options, oped_result)
        progress("scenes", 1, 1)
        timings["scenes"] = time.perf_counter() - t
    motion_result = None
    if options.motion and "motion" in features:
        t = time.perf_counter()
        motion_result = motion_stage(features["motion"], per_second, scene_result)
        timings["motion_block"] = time.perf_counter() - t  # "motion" is the extractor's own time
    actions_result = None
    from .tsm import configured_weights

    if configured_weights(options.tsm_weights):
        # Kinetics actions need 224-px RGB frames of their own: a second decode, only when asked for.
        from .errors import VposError
        from .tsm import actions

        t = time.perf_counter()
        progress("actions", 0, 1)
        try:
            actions_result = actions(path, options.tsm_weights)
        except VposError as e:
            warnings.append(f"actions not computed: {e}")
        progress("actions", 1, 1)
        timings["actions"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t_all

    opts = options.to_dict()
    opts["device"] = options.resolved_device()
    opts.pop("cache_dir", None)
    opts.pop("limits", None)
    result = Analysis(
        video=info,
        per_second=per_second,
        shots=shots,
        timings=timings,
        warnings=warnings,
        options=opts,
        cache={**cache_info, "video_hash": video_hash},
        features=features,
    )
    if oped_result is not None:
        per_second["op_prob"] = oped_result.op_prob.tolist()
        per_second["ed_prob"] = oped_result.ed_prob.tolist()
        for label, p in oped_result.extra_probs.items():
            per_second[f"{label}_prob"] = p.tolist()
        result.opening = oped_result.opening
        result.ending = oped_result.ending
        result.segments = oped_result.segments
    if scene_result is not None:
        result.scenes = scene_result.to_list()
        result.per_shot = {"scene_boundary_prob": [round(float(p), 4) for p in scene_result.boundary_prob]}
    if characters_result is not None:
        result.characters = characters_result.to_dict()
    elif discovered is not None:
        result.characters = {**discovered.result.to_dict(), "clusters": discovered.representatives}
    if tags_result is not None:
        if characters_result is not None:  # character:<name> tags when references were given
            from .tags import add_character_tags

            add_character_tags(tags_result, result.characters, n_samples, options.sample_rate)
        if result.scenes:
            from .tags import add_scene_tags

            add_scene_tags(tags_result, result.scenes, options.sample_rate)
        result.tags = tags_result
    result.motion = motion_result
    result.actions = actions_result
    progress("done", 1, 1)
    return result
