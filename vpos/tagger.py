"""The multimodal tagger (source system: REFERENCE.md 2.), in PyTorch, loadable from the Hub.

Source layout: a visual sequence (per-sample embeddings), an audio sequence (per-second audio
features) and text (title + on-screen text, MiniLM sentence embedding); one LSTM per modality;
text-guided attention pooling of the visual and audio sequences (plain self-attention as the
ablation); concatenation; a sigmoid multi-label head with per-label thresholds chosen on validation
data (stored in config.json).

Beyond the source, tags over time: the model reads a sliding window of `window` seconds centred on
each second and outputs that second's tags; each modality contributes its centre step and its
attention-pooled window. Per-video tags are pooled from the per-second ones (vpos/tags.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin

from .extractors.picture import PICTURE_DIM  # the picture statistics per second

EMBED_DIM = 1280  # EfficientNet-Lite0 embedding per sample
N_MELS = 64
AUDIO_DESCRIPTORS = ("loudness_db", "silence", "speech_cue", "spectral_flux", "low_energy_ratio", "modulation_4hz")
AUDIO_DIM = N_MELS + len(AUDIO_DESCRIPTORS) + 1  # + has_audio
MASK_SHAPE = (27, 36)
MASK_SIZE = MASK_SHAPE[0] * MASK_SHAPE[1]
TEXT_MOTION = 4  # overlap with the previous second's mask, gain of the best vertical / horizontal shift, |area change|
TEXT_DIM = MASK_SIZE + TEXT_MOTION + 3  # mask + motion + area + box count + has_text
SENTENCE_DIM = 384  # all-MiniLM-L6-v2

# Per-second descriptors (checkpoints with `descriptors: true`): the picture statistics + has_picture,
# and plain text summaries that the 9x12-pooled mask and the LSTM blur: any text box, log text area,
# best text shift gain, the tallest box's height and how centred the text is (a title card: big
# text on the frame's vertical axis; credits and captions: smaller, often to one side).
TEXT_SUMMARIES = 5
DESCRIPTOR_DIM = PICTURE_DIM + 1 + TEXT_SUMMARIES
# Checkpoints from before picture statistics 13-16 (whole-second frame statistics and cut shares)
# and text summaries 4-5 read the first 13 and 3; their config.json has neither key.
LEGACY_PICTURE_DIM = 13
LEGACY_TEXT_SUMMARIES = 3
OWN_SHARE = 15  # picture statistic: share of the second before its first cut (16: after its last)


class TaggerNet(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="vpos",
    tags=["video", "anime", "video-tagging", "multimodal", "multi-label"],
    license="mit",
):
    """All sizes and the label vocabulary + thresholds are constructor arguments (config.json)."""

    def __init__(
        self,
        labels: tuple | list = (),
        thresholds: tuple | list | None = None,
        window: int = 11,
        hidden: int = 64,
        proj: int = 96,
        pooling: str = "text_guided",  # or "self"
        use_visual: bool = True,
        use_audio: bool = True,
        use_text: bool = True,
        use_sentence: bool = True,
        dropout: float = 0.3,
        modality_dropout: float = 0.35,
        descriptors: bool = False,
        picture_dim: int = LEGACY_PICTURE_DIM,
        text_summaries: int = LEGACY_TEXT_SUMMARIES,
        align_visual: bool = False,
        mix_labels: tuple | list = (),
        descriptor_skip: bool = False,
        picture_dropout_apart: bool = False,
        camera_share_labels: tuple | list = (),
    ):
        super().__init__()
        if pooling not in ("text_guided", "self"):
            raise ValueError(f"pooling must be 'text_guided' or 'self', got {pooling!r}")
        if not labels:
            raise ValueError("a tagger needs at least one label")
        self.labels = list(labels)
        self.thresholds = list(thresholds) if thresholds is not None else [0.5] * len(self.labels)
        self.window = int(window)
        self.pooling = pooling
        self.use_visual, self.use_audio, self.use_text, self.use_sentence = use_visual, use_audio, use_text, use_sentence
        self.modality_dropout = modality_dropout
        self.descriptors = bool(descriptors)
        if not 0 < int(picture_dim) <= PICTURE_DIM:
            raise ValueError(f"picture_dim must be in 1..{PICTURE_DIM}, got {picture_dim}")
        if not 0 < int(text_summaries) <= TEXT_SUMMARIES:
            raise ValueError(f"text_summaries must be in 1..{TEXT_SUMMARIES}, got {text_summaries}")
        self.picture_dim, self.text_summaries = int(picture_dim), int(text_summaries)
        self.align_visual = bool(align_visual)
        if self.align_visual and not (self.descriptors and self.picture_dim > OWN_SHARE + 1):
            raise ValueError("align_visual reads the cut shares: it needs descriptors=True and picture_dim >= 17")
        self.mix_labels = [str(x) for x in mix_labels]
        unknown = [x for x in self.mix_labels if x not in self.labels]
        if unknown:
            raise ValueError(f"mix_labels {unknown} are not in the labels")
        if self.mix_labels and not (self.descriptors and self.picture_dim > OWN_SHARE + 1):
            raise ValueError("mix_labels reads the cut shares: it needs descriptors=True and picture_dim >= 17")
        self._mix_index = [self.labels.index(x) for x in self.mix_labels]
        self.camera_share_labels = [str(x) for x in camera_share_labels]
        unknown = [x for x in self.camera_share_labels if x not in self.labels]
        if unknown:
            raise ValueError(f"camera_share_labels {unknown} are not in the labels")
        self.hidden = hidden
        h2 = 2 * hidden
        self.in_v = nn.Sequential(nn.LayerNorm(EMBED_DIM), nn.Dropout(dropout), nn.Linear(EMBED_DIM, proj), nn.ReLU())
        self.in_a = nn.Sequential(nn.LayerNorm(AUDIO_DIM), nn.Linear(AUDIO_DIM, proj), nn.ReLU())
        # The 27x36 mask is read at 9x12 (3x3 cells averaged): where text sits, not its glyphs, so
        # the motion/area/count descriptors are not drowned by 972 mask cells.
        self.in_t = nn.Sequential(nn.Linear(TEXT_DIM - MASK_SIZE + MASK_SIZE // 9, proj), nn.ReLU())
        self.lstm_v = nn.LSTM(proj, hidden, batch_first=True, bidirectional=True)
        self.lstm_a = nn.LSTM(proj, hidden, batch_first=True, bidirectional=True)
        self.lstm_t = nn.LSTM(proj, hidden, batch_first=True, bidirectional=True)
        self.in_s = nn.Sequential(nn.Linear(SENTENCE_DIM, h2), nn.ReLU())
        # Text-guided pooling: the text summary is the attention query over visual/audio steps.
        self.query = nn.Linear(h2, h2)
        self.key_v = nn.Linear(h2, h2)
        self.key_a = nn.Linear(h2, h2)
        # Self-attention pooling (ablation): a learned scorer on each step alone.
        self.self_v = nn.Linear(h2, 1)
        self.self_a = nn.Linear(h2, 1)
        fused = 3 * 2 * h2 + h2 + proj  # (centre + pooled) x 3 modalities + sentence + this second's frame
        if self.descriptors:
            # What kind of picture a second is (footage, a held still) and whether it carries text:
            # small per-second descriptors go to the head directly and, as a sequence, through an LSTM
            # so a window sees how they change.
            self.in_d = nn.Sequential(nn.Linear(self.picture_dim + 1 + self.text_summaries, 32), nn.ReLU())
            self.lstm_d = nn.LSTM(32, 32, batch_first=True, bidirectional=True)
            fused += 32 + 64
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(fused, 128), nn.ReLU(), nn.Linear(128, len(self.labels)))
        # Training only: the picture statistics dropped on their own draw rather than with the
        # visual embeddings, so the model also learns to tag from them alone (the embeddings can
        # tell the training clips apart by themselves and leave the statistics unused).
        self.picture_dropout_apart = bool(picture_dropout_apart)
        # A linear path from this second's descriptors straight to the logits: evidence that is a
        # threshold on one number (the share of the second's frames that look like camera pictures
        # against a half) is easier to learn than through the dropout and ReLUs of the head.
        self.descriptor_skip = bool(descriptor_skip)
        if self.descriptor_skip:
            if not self.descriptors:
                raise ValueError("descriptor_skip needs descriptors=True")
            self.skip_d = nn.Linear(self.picture_dim + 1 + self.text_summaries, len(self.labels))

    def _local_pool(self, seq, score):
        """Attention pooling of `seq` (B, T, H) over the window centred on each step, given
        per-(centre, offset) scores (B, T, W); steps beyond the ends are masked."""
        w = torch.softmax(score, -1)
        return torch.einsum("btw,bthw->bth", w, _unfold(seq, self.window))

    def forward(self, visual, audio, text, sentence, descriptors=None):
        """visual (B, T, 1280), audio (B, T, AUDIO_DIM), text (B, T, TEXT_DIM), sentence (B, 384),
        descriptors (B, T, DESCRIPTOR_DIM; read when the checkpoint has `descriptors`)
        -> logits (B, T, L): each step's tags from its `window`-second neighbourhood."""
        b, t = visual.shape[:2]
        if self.align_visual:
            visual = self.aligned_visual(visual, descriptors)
        keep = torch.ones(b, 4, device=visual.device)
        if self.training and self.modality_dropout > 0:
            keep = (torch.rand(b, 4, device=visual.device) > self.modality_dropout).float()
        flags = torch.tensor([self.use_visual, self.use_audio, self.use_text, self.use_sentence], device=visual.device).float()
        keep = keep * flags[None]
        fv = self.in_v(visual) * keep[:, 0, None, None]
        hv, _ = self.lstm_v(fv)
        ha, _ = self.lstm_a(self.in_a(audio) * keep[:, 1, None, None])
        mask = F.avg_pool2d(text[..., :MASK_SIZE].reshape(b * t, 1, *MASK_SHAPE), 3).reshape(b, t, -1)
        ht, _ = self.lstm_t(self.in_t(torch.cat([mask, text[..., MASK_SIZE:]], -1)) * keep[:, 2, None, None])
        s = self.in_s(sentence) * keep[:, 3, None]
        valid = _unfold(torch.ones(b, t, 1, device=visual.device), self.window)[:, :, 0] > 0  # (B, T, W)
        neg = torch.finfo(hv.dtype).min

        def scores(seq, key, scorer):
            if self.pooling == "text_guided":
                # The text (on-screen text around this second + the title/recognised-text sentence)
                # is the query over the visual/audio steps of the window.
                q = self.query(ht + s[:, None, :])
                sc = torch.einsum("bth,bthw->btw", q, _unfold(key(seq), self.window)) / np.sqrt(seq.shape[-1])
            else:
                sc = _unfold(scorer(seq), self.window)[:, :, 0]
            return sc.masked_fill(~valid, neg)

        pv = self._local_pool(hv, scores(hv, self.key_v, self.self_v))
        pa = self._local_pool(ha, scores(ha, self.key_a, self.self_a))
        pt = (_unfold(ht, self.window) * valid[:, :, None]).sum(-1) / valid.sum(-1, keepdim=True)
        # The frame itself goes straight to the head too: what a second shows (live action, a card)
        # is in its own picture, and the skip keeps it from being mixed away by the LSTM.
        parts = [hv, pv, ha, pa, ht, pt, s[:, None, :].expand(b, t, s.shape[-1]), fv]
        if self.descriptors:
            d = self._descriptor_columns(descriptors, b, t, visual.device)
            # the picture part drops out with the visual stream, the text part with the text stream
            keep_pic = keep[:, 0, None]
            if self.picture_dropout_apart and self.training and self.modality_dropout > 0:
                keep_pic = (torch.rand(b, 1, device=visual.device) > self.modality_dropout).float() * flags[0]
            keep_d = torch.cat([keep_pic.expand(b, self.picture_dim + 1), keep[:, 2, None].expand(b, self.text_summaries)], 1)
            fd = self.in_d(d * keep_d[:, None, :])
            hd, _ = self.lstm_d(fd)
            parts += [fd, hd]
        logits = self.head(torch.cat(parts, 2))
        if self.descriptor_skip:
            logits = logits + self.skip_d(d * keep_d[:, None, :])
        if self._mix_index:
            logits = self.mixed_parts(logits, descriptors)
        return logits

    def mixed_parts(self, logits: torch.Tensor, descriptors: torch.Tensor | None) -> torch.Tensor:
        """The `mix_labels` (what kind of picture a shot is: footage, animation, a still) as the
        share-weighted mixture over the second's parts.

        A second's truth is what most of its frames show. When a cut splits second k, the head's
        output at step k reads as "the shot of sample k" (its frames before the first cut) and at
        step k + 1 as "the shot after the last cut": the second's probability is
        (own share * p_k + next share * p_{k+1}) / (own + next) -- a second that is 40% footage
        before the cut and 60% animation after is not footage, whatever each part looks like.
        Without a cut it is p_k. Computed in log space and returned as a logit."""
        if descriptors is None or descriptors.shape[-1] != DESCRIPTOR_DIM:
            return logits
        idx = self._mix_index
        z = logits[..., idx]
        z_next = torch.cat([z[:, 1:], z[:, -1:]], 1)
        w_own, w_next = self.part_weights(descriptors)
        lw_own, lw_next = torch.log(w_own.clamp_min(1e-6)), torch.log(w_next.clamp_min(1e-6))
        log_p = torch.logaddexp(lw_own + F.logsigmoid(z), lw_next + F.logsigmoid(z_next))
        log_q = torch.logaddexp(lw_own + F.logsigmoid(-z), lw_next + F.logsigmoid(-z_next))
        out = logits.clone()
        out[..., idx] = torch.where(w_next > 0, log_p - log_q, z)  # no cut: p_k exactly
        return out

    @staticmethod
    def part_weights(descriptors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, 1) each: the weights of sample k and sample k + 1 in second k (picture statistics
        15-16, normalised to sum 1): (1, 0) without a cut or without picture features."""
        has_pic = descriptors[..., PICTURE_DIM : PICTURE_DIM + 1] > 0.5
        own = descriptors[..., OWN_SHARE : OWN_SHARE + 1]
        nxt = descriptors[..., OWN_SHARE + 1 : OWN_SHARE + 2]
        cut = has_pic & (own < 1)
        w_own = torch.where(cut, own, torch.ones_like(own))
        w_next = torch.where(cut, nxt, torch.zeros_like(nxt))
        total = (w_own + w_next).clamp_min(1e-3)
        return w_own / total, w_next / total


    @staticmethod
    def aligned_visual(visual: torch.Tensor, descriptors: torch.Tensor | None) -> torch.Tensor:
        """Per second, the embedding of what most of the second shows rather than of its first frame.

        The sample of second k is its first frame; a tag is about the whole second. When a cut
        falls inside the second (picture statistics 15-16: the share of its frames before the
        first cut, after the last), its frames before the cut look like sample k and those after
        the last cut like sample k + 1: the second's embedding is their share-weighted mean (a
        shot that starts and ends inside the second is seen by neither sample and left out).
        Without a cut or without picture features it is sample k's."""
        if descriptors is None or descriptors.shape[-1] != DESCRIPTOR_DIM:
            return visual
        w_own, w_next = TaggerNet.part_weights(descriptors)
        following = torch.cat([visual[:, 1:], visual[:, -1:]], 1)
        return w_own * visual + w_next * following

    def _descriptor_columns(self, descriptors, b: int, t: int, device) -> torch.Tensor:
        """The checkpoint's descriptor columns from a (B, T, DESCRIPTOR_DIM) array (tag_inputs): its
        first `picture_dim` picture statistics, the has_picture flag, its first `text_summaries`."""
        if descriptors is None:
            return torch.zeros(b, t, self.picture_dim + 1 + self.text_summaries, device=device)
        if descriptors.shape[-1] != DESCRIPTOR_DIM:
            raise ValueError(f"descriptors have {descriptors.shape[-1]} columns, this vpos makes {DESCRIPTOR_DIM}: "
                             "rebuild them with tag_inputs (bench/tags_dataset.py for episode files)")
        pic = descriptors[..., : self.picture_dim]
        flag = descriptors[..., PICTURE_DIM : PICTURE_DIM + 1]
        txt = descriptors[..., PICTURE_DIM + 1 : PICTURE_DIM + 1 + self.text_summaries]
        return torch.cat([pic, flag, txt], -1)


def _unfold(x: torch.Tensor, window: int) -> torch.Tensor:
    """(B, T, H) -> (B, T, H, W): the window centred on each step, zero beyond the ends."""
    half = window // 2
    x = F.pad(x, (0, 0, half, window - 1 - half))
    return x.unfold(1, window, 1)


@dataclass
class TagInputs:
    """Model inputs of one video, one row per analysis second."""

    visual: np.ndarray  # (T, 1280) float32
    audio: np.ndarray  # (T, AUDIO_DIM) float32
    text: np.ndarray  # (T, TEXT_DIM) float32
    sentence: np.ndarray  # (384,) float32
    descriptors: np.ndarray | None = None  # (T, DESCRIPTOR_DIM) float32

    @property
    def steps(self) -> int:
        return self.visual.shape[0]


def tag_inputs(features: dict, n: int, sentence: np.ndarray | None = None) -> TagInputs:
    """Assemble per-second inputs from the pipeline's features (a missing modality: zeros, flag 0)."""
    if "visual" in features and "embedding" in features["visual"]:
        vis = _fit(features["visual"]["embedding"].astype(np.float32), n)
    else:
        vis = np.zeros((n, EMBED_DIM), np.float32)
    aud = np.zeros((n, AUDIO_DIM), np.float32)
    if "audio" in features and "logmel" in features["audio"]:
        a = features["audio"]
        # log-mel in natural-log power: shift/scale to near unit range.
        aud[:, :N_MELS] = (np.maximum(_fit(a["logmel"].astype(np.float32), n), -23.0) + 8.0) / 6.0
        scale = {"loudness_db": (50.0, 50.0), "spectral_flux": (0.0, 0.2)}
        for i, k in enumerate(AUDIO_DESCRIPTORS):
            if k in a:
                v = _fit(np.nan_to_num(a[k].astype(np.float32), nan=0.0), n)
                off, sc = scale.get(k, (0.0, 1.0))
                aud[:, N_MELS + i] = np.clip((v + off) / sc, -3, 5)
        aud[:, -1] = 1.0
    txt = np.zeros((n, TEXT_DIM), np.float32)
    if "text" in features and "mask" in features["text"]:
        t = features["text"]
        masks = _fit(t["mask"].astype(np.float32), n)
        txt[:, :MASK_SIZE] = masks.reshape(n, -1)
        txt[:, MASK_SIZE : MASK_SIZE + TEXT_MOTION] = text_motion(masks)
        if "area" in t:
            txt[:, -3] = np.clip(_fit(t["area"].astype(np.float32), n) * 10, 0, 5)
        if "count" in t:
            txt[:, -2] = np.clip(_fit(t["count"].astype(np.float32), n) / 10, 0, 3)
        txt[:, -1] = 1.0
    sent = np.zeros(SENTENCE_DIM, np.float32) if sentence is None else np.asarray(sentence, np.float32)
    desc = np.zeros((n, DESCRIPTOR_DIM), np.float32)
    if "picture" in features and "stats" in features["picture"]:
        stats = features["picture"]["stats"].astype(np.float32)[:, :PICTURE_DIM]
        desc[:, : stats.shape[1]] = _fit(stats, n)
        desc[:, PICTURE_DIM] = 1.0
    if txt[:, -1].max() > 0:
        area = txt[:, -3] / 10  # back to the covered share of the frame
        desc[:, PICTURE_DIM + 1] = (area > 0).astype(np.float32)
        desc[:, PICTURE_DIM + 2] = np.log10(np.maximum(area, 1e-4)) / 4 + 1  # 0 at 1e-4, 1 at the full frame
        desc[:, PICTURE_DIM + 3] = np.clip(txt[:, MASK_SIZE + 1 : MASK_SIZE + 3].max(1) * 3, 0, 1)
        if "boxes" in features["text"]:
            desc[:, PICTURE_DIM + 4 : PICTURE_DIM + 6] = text_layout(features["text"]["boxes"], n)
    return TagInputs(visual=vis, audio=aud, text=txt, sentence=sent, descriptors=desc)


def text_layout(boxes: np.ndarray, n: int) -> np.ndarray:
    """(n, 2) per sample from the text extractor's boxes (rows: sample, x0, y0, x1, y1, normalised):
    the tallest box's height (x 5, at most 1: a box a fifth of the frame high or taller reads 1) and
    how centred the text is (1 - 2 |area-weighted mean box centre x - 0.5|; 0 without text)."""
    out = np.zeros((n, 2), np.float32)
    boxes = np.asarray(boxes, np.float32).reshape(-1, 5)
    for k in np.unique(boxes[:, 0].astype(int)):
        if not 0 <= k < n:
            continue
        b = boxes[boxes[:, 0].astype(int) == k, 1:]
        w, h = np.clip(b[:, 2] - b[:, 0], 0, 1), np.clip(b[:, 3] - b[:, 1], 0, 1)
        area = w * h
        cx = float(((b[:, 0] + b[:, 2]) / 2 * area).sum() / max(float(area.sum()), 1e-9))
        out[k] = (min(1.0, float(h.max()) * 5), max(0.0, 1.0 - 2 * abs(cx - 0.5)))
    return out


def text_motion(masks: np.ndarray, max_shift: int = 6) -> np.ndarray:
    """(T, 4) per second: IoU of the text mask with the previous second's, how much a vertical /
    horizontal shift of up to `max_shift` cells raises it (scrolling credits move as a block), and
    the change of the covered area. Text that stays put, text that scrolls and cuts between cards
    differ here, whatever the font or the background."""
    n = len(masks)
    out = np.zeros((n, TEXT_MOTION), np.float32)
    m = masks > 0.5
    for k in range(1, n):
        a, b = m[k - 1], m[k]
        if not a.any() and not b.any():
            continue
        base = _iou(a, b)
        best_v = max(_iou(_shift(a, d, 0), b) for d in range(-max_shift, max_shift + 1) if d)
        best_h = max(_iou(_shift(a, d, 1), b) for d in range(-max_shift, max_shift + 1) if d)
        out[k] = (base, max(0.0, best_v - base), max(0.0, best_h - base), abs(float(b.mean()) - float(a.mean())) * 10)
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    u = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum()) / float(u) if u else 0.0


def _shift(a: np.ndarray, d: int, axis: int) -> np.ndarray:
    out = np.zeros_like(a)
    if axis == 0:
        if d > 0:
            out[d:] = a[:-d]
        else:
            out[:d] = a[-d:]
    else:
        if d > 0:
            out[:, d:] = a[:, :-d]
        else:
            out[:, :d] = a[:, -d:]
    return out


def _fit(a: np.ndarray, n: int) -> np.ndarray:
    if len(a) >= n:
        return a[:n]
    pad = np.zeros((n - len(a),) + a.shape[1:], a.dtype)
    return np.concatenate([a, pad])


def chunk_tensors(inp: TagInputs, a: int, b: int):
    desc = inp.descriptors if inp.descriptors is not None else np.zeros((inp.steps, DESCRIPTOR_DIM), np.float32)
    return (
        torch.from_numpy(inp.visual[a:b])[None],
        torch.from_numpy(inp.audio[a:b])[None],
        torch.from_numpy(inp.text[a:b])[None],
        torch.from_numpy(inp.sentence)[None],
        torch.from_numpy(np.ascontiguousarray(desc[a:b]))[None],
    )


@torch.inference_mode()
def predict_per_second(model: TaggerNet, inp: TagInputs, chunk: int = 64, device: str = "cpu") -> np.ndarray:
    """(T, L) probabilities, one row per second. The video is read in overlapping chunks of the
    training length; each second's probability is a weighted mean favouring chunk centres."""
    model.eval()
    n = inp.steps
    out = np.zeros((n, len(model.labels)), np.float64)
    wsum = np.zeros((n, 1), np.float64)
    if n == 0:
        return out.astype(np.float32)
    starts = list(range(0, max(1, n - chunk) + 1, max(1, chunk // 2)))
    if starts[-1] + chunk < n:
        starts.append(n - chunk)
    for a in starts:
        b = min(n, a + chunk)
        xs = [x.to(device) for x in chunk_tensors(inp, a, b)]
        p = torch.sigmoid(model(*xs)[0]).float().cpu().numpy()
        w = np.hanning(b - a + 2)[1:-1, None] + 1e-3
        out[a:b] += p * w
        wsum[a:b] += w
    probs = (out / wsum).astype(np.float32)
    return camera_share_decision(model, probs, inp.descriptors)


CAMERA_FRAMES = 17  # picture statistic: share of the second's frames that look like camera pictures


def camera_share_decision(model: TaggerNet, probs: np.ndarray, descriptors: np.ndarray | None) -> np.ndarray:
    """The checkpoint's `camera_share_labels` (footage) in seconds a cut splits, from the frames.

    A second's truth is what most of its frames show. In a second a cut splits, the camera-picture
    share of its frames (picture statistic 17: per-frame camera score >= 0.5) measures exactly
    that, while the network reads the samples on either side and its window (it tags the seconds
    next to footage as footage). There the label is 1 when at least half the frames look like
    camera pictures, else 0; seconds without a cut keep the network's probability."""
    if not getattr(model, "camera_share_labels", None) or descriptors is None or descriptors.shape[-1] != DESCRIPTOR_DIM:
        return probs
    d = descriptors[: len(probs)]
    cut = (d[:, PICTURE_DIM] > 0.5) & (d[:, OWN_SHARE] < 1)
    decided = (d[:, CAMERA_FRAMES] >= 0.5).astype(np.float32)
    out = probs.copy()
    for lab in model.camera_share_labels:
        j = model.labels.index(lab)
        out[cut, j] = decided[cut]
    return out
