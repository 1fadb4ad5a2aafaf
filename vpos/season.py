"""Season mode: what repeats across episodes of one show marks its openings and endings.

Each episode gets a per-second fingerprint (the shape of its log-mel spectrum, plus its frame
embedding); for every pair of episodes, runs along the diagonals of their similarity matrix where
both agree for at least `min_run` seconds are repeated material (gaps up to `max_gap` seconds are
bridged, as Intro Skipper does). Repetition is then fused with the model's per-second
probabilities: a repeated block that the model calls an opening or ending gets the block's edges,
which are exact where the model is only roughly right; a block the model does not recognise is
kept only where its position and length fit an opening or ending. A single episode falls back to
the model alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .result import Segment


@dataclass
class Block:
    start: int  # first second
    end: int  # one past the last second
    partners: int  # how many other episodes share it


def audio_fingerprint(features: dict, n: int) -> np.ndarray | None:
    """Per second, the shape of the log-mel spectrum (unit length, independent of loudness); None
    without audio. The same song mixed into two episodes reads ~1.0 against itself."""
    if "audio" not in features or "logmel" not in features["audio"]:
        return None
    lm = features["audio"]["logmel"][:n].astype(np.float32)
    lm = lm - lm.mean(1, keepdims=True)
    return lm / (np.linalg.norm(lm, axis=1, keepdims=True) + 1e-6)


def fingerprint(features: dict, n: int) -> np.ndarray:
    parts = []
    audio = audio_fingerprint(features, n)
    if audio is not None:
        parts.append(audio)
    if "visual" in features and "embedding" in features["visual"]:
        e = features["visual"]["embedding"][:n].astype(np.float32)
        e = e - e.mean(0, keepdims=True)
        parts.append(0.7 * e / (np.linalg.norm(e, axis=1, keepdims=True) + 1e-6))
    if not parts:
        return np.zeros((n, 1), np.float32)
    f = np.concatenate(parts, 1)
    return f / (np.linalg.norm(f, axis=1, keepdims=True) + 1e-6)


def _runs(mask: np.ndarray, max_gap: int, min_run: int) -> list[tuple[int, int]]:
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return []
    runs, a, prev = [], idx[0], idx[0]
    for i in idx[1:]:
        if i - prev > max_gap + 1:
            if prev + 1 - a >= min_run:
                runs.append((a, prev + 1))
            a = i
        prev = i
    if prev + 1 - a >= min_run:
        runs.append((a, prev + 1))
    return runs


def repeated_runs(fa: np.ndarray, fb: np.ndarray, threshold: float = 0.8, min_run: int = 12, max_gap: int = 3,
                  core_threshold: float = 0.9, min_core: int = 10):
    """Runs (a0, a1, b0) of seconds where A[a0:a1] matches B[b0:b0 + a1 - a0].

    Two thresholds, as in hysteresis: a run is traced where the similarity stays above
    `threshold` (so its edges are where the shared material really starts and stops), but kept only
    when at least `min_core` of its seconds match above `core_threshold`. A re-used background
    under the same background music with different dialogue reaches the loose threshold for long
    stretches; only material that is really the same (a song with its animation) reaches the
    strict one for many seconds."""
    sim = fa @ fb.T
    na, nb = sim.shape
    out = []
    for d in range(-(na - 1), nb):
        diag = np.diagonal(sim, offset=d)
        if len(diag) < min_run:
            continue
        for r0, r1 in _runs(diag > threshold, max_gap, min_run):
            if int((diag[r0:r1] > core_threshold).sum()) < min_core:
                continue
            a0 = r0 if d >= 0 else r0 - d
            b0 = r0 + d if d >= 0 else r0
            out.append((a0, a0 + (r1 - r0), b0))
    return out


@dataclass
class SeasonMatch:
    """What repeats across a season's episodes: per episode, per second, how many other episodes
    repeat that second (`reps`); the runs behind it (`runs[i]`: (j, a0, a1, b0), episode i's seconds
    [a0, a1) match episode j's from b0); and each episode's audio fingerprint (or None)."""

    reps: list
    runs: list
    audio: list


def match_season(fps: list[np.ndarray], audio_fps: list | None = None, **kw) -> SeasonMatch:
    reps = [np.zeros(len(f), np.int32) for f in fps]
    runs = [[] for _ in fps]
    for i in range(len(fps)):
        for j in range(i + 1, len(fps)):
            cover_i = np.zeros(len(fps[i]), bool)
            cover_j = np.zeros(len(fps[j]), bool)
            for a0, a1, b0 in repeated_runs(fps[i], fps[j], **kw):
                cover_i[a0:a1] = True
                cover_j[b0 : b0 + (a1 - a0)] = True
                runs[i].append((j, a0, a1, b0))
                runs[j].append((i, b0, b0 + (a1 - a0), a0))
            reps[i] += cover_i
            reps[j] += cover_j
    return SeasonMatch(reps, runs, list(audio_fps) if audio_fps is not None else [None] * len(fps))


def repetition(fps: list[np.ndarray], **kw) -> list[np.ndarray]:
    """Per episode, per second: how many other episodes repeat that second."""
    return match_season(fps, **kw).reps


# The end of the repeated MUSIC, not of the repeated picture: along each partner's diagonal the song
# goes on while the two episodes' spectra stay this similar (an identical song reads ~1.0; the next
# scene's dialogue or music reads 0.5-0.85). The picture can differ in a song's last seconds (an
# episode's own last shot, a title over it) and a re-used card can follow it: neither moves where
# the song stops.
AUDIO_SAME = 0.9
MUSIC_SEARCH_S = 12  # how far either way of the block's end the music's end is looked for


def music_end(match: SeasonMatch, i: int, a: int, b: int) -> int | None:
    """Where the song of episode i's repeated block [a, b) stops. Per partner episode, its run that
    best matches the block's last MUSIC_SEARCH_S seconds in sound (a song's verses and choruses also
    match each other at other offsets; the true alignment reads ~1.0) is walked on from the last
    second both still share to the first second whose spectra differ; the median over partners.
    None without audio or partners."""
    fa = match.audio[i]
    if fa is None:
        return None
    best: dict[int, tuple[float, int, int]] = {}  # partner -> (mean similarity, a second in the song, offset)
    for j, a0, a1, b0 in match.runs[i]:
        fb = match.audio[j]
        lo, hi = max(a0, a, b - MUSIC_SEARCH_S), min(a1, b)
        if fb is None or hi - lo < 2:
            continue
        off = b0 - a0
        ks = np.arange(lo, hi)
        ks = ks[(ks + off >= 0) & (ks + off < len(fb))]
        if len(ks) < 2:
            continue
        sims = np.einsum("ij,ij->i", fa[ks], fb[ks + off])
        same = ks[sims >= AUDIO_SAME]
        if len(same) and (j not in best or float(sims.mean()) > best[j][0]):
            best[j] = (float(sims.mean()), int(same[-1]), off)
    ends = []
    for j, (_, k, off) in best.items():
        fb = match.audio[j]
        limit = min(len(fa), len(fb) - off, b + MUSIC_SEARCH_S)
        while k + 1 < limit and float(fa[k + 1] @ fb[k + 1 + off]) >= AUDIO_SAME:
            k += 1
        ends.append(k + 1)
    if not ends:
        return None
    return int(np.ceil(np.median(ends)))


def blocks(rep: np.ndarray, min_len: int = 15, max_gap: int = 3) -> list[Block]:
    return [Block(a, b, int(rep[a:b].max())) for a, b in _runs(rep > 0, max_gap, min_len)]


# An opening or ending the model missed is still a song: a repeated block the model does not
# recognise is taken only where the speech cue says music rather than dialogue (a recap or re-used
# scene repeats too, but people talk in it).
UNRECOGNISED_MAX_SPEECH = 0.35
EDGE_SPEECH = 0.5
EDGE_SILENCE = 0.5
SEEN_P = 0.1


EDGE_SPEECH_RUN = 3  # seconds: an announcer's line, not a sung or spoken-like second of a song
EDGE_SPEECH_MARGIN = 0.2


def _trim_spoken_edges(speech: np.ndarray, a: int, b: int, min_len: float) -> tuple[int, int]:
    """Drop a sustained spoken stretch at either edge of [a, b): at least EDGE_SPEECH_RUN seconds
    whose speech cue is above EDGE_SPEECH and clearly above the block's own typical level (the cue
    reads 0.5 all through some songs, and a song's first second can read like a word)."""
    typical = float(np.median(speech[a:b])) if b > a else 0.0

    def edge_run(indices) -> int:
        k = 0
        for i in indices:
            if speech[i] < EDGE_SPEECH:
                break
            k += 1
        return k

    k = edge_run(range(a, b))
    if k >= EDGE_SPEECH_RUN and float(speech[a : a + k].mean()) >= typical + EDGE_SPEECH_MARGIN and b - (a + k) >= min_len:
        a += k
    k = edge_run(range(b - 1, a - 1, -1))
    if k >= EDGE_SPEECH_RUN and float(speech[b - k : b].mean()) >= typical + EDGE_SPEECH_MARGIN and (b - k) - a >= min_len:
        b -= k
    return a, b


# Repetition marks where a song starts to the second (what comes before it, a cold open or the last
# scene, is the episode's own), but often runs on after it ends: a sponsor card, a title card or the
# preview's jingle follows the song in every episode. Where the model alone ends the same segment up
# to this many seconds earlier, its end is taken.
END_FROM_MODEL_S = 6.0
LEAD_S = 10
# ... and the other way round: the model's probability decays over a few seconds after a song ends
# (its temporal context still holds the song), so its 0.5 crossing lands 1-3 s past the song. Where
# the repeated block ends earlier than that, the song ended with the repetition: the block's end is
# taken when it lies at most this many seconds before the fused end.
TAIL_S = 6.0


def fuse(op_prob: np.ndarray, ed_prob: np.ndarray, rep: np.ndarray, duration: float, cut_times=None,
         speech: np.ndarray | None = None, silence: np.ndarray | None = None, model_segments: dict | None = None,
         song_end=None):
    """Fused per-second probabilities and segments of one episode of a season.

    `model_segments`: the model-alone segments of the episode ({"opening": (start, end) or None, ...}).
    `song_end(a, b)`: where the music of the repeated block [a, b) stops (see `music_end`), or None."""
    from .oped import LIMITS, segments_from_probs

    n = len(op_prob)
    speech = None if speech is None else np.nan_to_num(np.asarray(speech, np.float32), nan=0.0)
    silence = None if silence is None else np.nan_to_num(np.asarray(silence, np.float32), nan=0.0)
    op, ed = op_prob.astype(np.float32).copy(), ed_prob.astype(np.float32).copy()
    labelled = []
    song_spans = {"opening": [], "ending": []}  # each labelled block's [a, b) after its edge trims
    for blk in blocks(rep[:n]):
        length = blk.end - blk.start
        mo, me = float(op_prob[blk.start : blk.end].mean()), float(ed_prob[blk.start : blk.end].mean())
        centre = (blk.start + blk.end) / 2 / max(n, 1)
        label = None
        if max(mo, me) >= 0.25:
            label = "opening" if mo >= me else "ending"
        elif LIMITS["opening"][0] <= length <= LIMITS["opening"][1] and (
                speech is None or float(speech[blk.start : blk.end].mean()) < UNRECOGNISED_MAX_SPEECH):
            # Unrecognised by the model: only a song-length block near either end of the episode.
            label = "opening" if centre < 0.35 else ("ending" if centre > 0.65 else None)
        if label is not None:
            labelled.append((blk, label, centre))
    # The opening's song played again at the end of an episode (a finale using the OP as its ED)
    # sounds and looks like the opening, but it is that episode's ending; and the other way round.
    for i, (blk, label, centre) in enumerate(labelled):
        others = [c for b2, l2, c in labelled if b2 is not blk and l2 == label]
        if label == "opening" and centre > 0.65 and any(c < 0.35 for c in others):
            labelled[i] = (blk, "ending", centre)
        elif label == "ending" and centre < 0.35 and any(c > 0.65 for c in others):
            labelled[i] = (blk, "opening", centre)
    for blk, label, centre in labelled:
        target = op if label == "opening" else ed
        other = ed if label == "opening" else op
        a, b = blk.start, blk.end
        # Seconds shared with fewer than half of the episodes that share the block's core are a
        # chance match at its edge (a pause, a line of dialogue, a re-used BGM cue), not the song.
        strong = np.flatnonzero(rep[a:b] >= max(1, int(np.ceil(blk.partners / 2))))
        a, b = a + int(strong[0]), a + int(strong[-1]) + 1
        if song_end is not None:
            # The block ends where the picture stops repeating; the song ends where its sound does.
            # Past the picture's end, only music extends it: a sponsor card's announcer or a silent
            # pause can repeat word for word in every episode too.
            e = song_end(a, b)
            if e is not None and e - a >= LIMITS["opening"][0]:
                if e <= b:
                    b = e
                else:
                    spoken = max(EDGE_SPEECH, float(np.median(speech[a:b])) + EDGE_SPEECH_MARGIN) if speech is not None else None
                    while b < e and not (spoken is not None and speech[b] >= spoken) and not (
                            silence is not None and silence[b] >= EDGE_SILENCE):
                        b += 1
        # Repeated material can run on past the song (a recurring eyecatch or BGM cue next to it):
        # where the model sees the segment inside the block, keep the block only around what it sees.
        seen = np.flatnonzero((op_prob if label == "opening" else ed_prob)[a:b] >= SEEN_P)
        # ... but only where the model sees a song's length of it: a stray second above SEEN_P in a
        # block the model does not recognise must not shrink the block to that second.
        if len(seen) and seen[-1] + 1 - seen[0] >= LIMITS["opening"][0]:
            a, b = a + int(seen[0]), a + int(seen[-1]) + 1
        if speech is not None:
            # A sponsor card or a "next time" announcement repeats every episode right beside the
            # song; people talk in it, so a spoken stretch at either edge of the block is not the song.
            a, b = _trim_spoken_edges(speech, a, b, LIMITS["opening"][0])
        if silence is not None:
            # Silence repeats too (every episode pauses before its ending): a song is not silent.
            while b - a > LIMITS["opening"][0] and silence[a] >= EDGE_SILENCE:
                a += 1
            while b - a > LIMITS["opening"][0] and silence[b - 1] >= EDGE_SILENCE:
                b -= 1
        target[a:b] = np.maximum(target[a:b], 0.9)
        other[a:b] = np.minimum(other[a:b], 0.1)
        song_spans[label].append((a, b))
        # What comes right before the repeated song is the episode's own (a cold open, the last
        # scene): the model's belief that the segment already started there is overruled.
        lead = slice(max(0, a - LEAD_S), a)
        target[lead] = np.minimum(target[lead], 0.45)
    segs = segments_from_probs({"opening": op, "ending": ed}, duration, cut_times)
    for label, p_fused, p_model in (("opening", op, op_prob), ("ending", ed, ed_prob)):
        span, alone = segs.get(label), (model_segments or {}).get(label)
        if span and alone and span[0] < alone[1] < span[1] and span[1] - alone[1] <= END_FROM_MODEL_S:
            segs[label] = (span[0], float(alone[1]))
            k0, k1 = int(np.ceil(alone[1])), int(np.ceil(span[1]))
            p_fused[k0:k1] = np.minimum(p_fused[k0:k1], p_model[k0:k1])
        span = segs.get(label)
        if span:
            # The repeated block the segment ends in: the model's slow decay past its end is not the song.
            inside = [b for a, b in song_spans[label] if a < span[1] and b < span[1] <= b + TAIL_S and b > span[0]]
            if inside:
                b = max(inside)
                segs[label] = (span[0], float(b))
                k1 = int(np.ceil(span[1]))
                p_fused[b:k1] = np.minimum(p_fused[b:k1], 0.45)
    return op, ed, segs


def apply_season(analyses: list, reps: list[np.ndarray], match: SeasonMatch | None = None) -> None:
    """Rewrite each analysis's opening/ending from the fused season evidence (in place). With the
    `match` that gave `reps`, a song's end is where its repeated sound stops (`music_end`)."""
    from .oped import evidence

    for idx, (a, rep) in enumerate(zip(analyses, reps)):
        ps = a.per_second
        if "op_prob" not in ps:
            continue
        op0, ed0 = np.asarray(ps["op_prob"], np.float32), np.asarray(ps["ed_prob"], np.float32)
        cut_times = np.array([s.start_time for s in a.shots[1:]]) if a.shots else None
        speech = ps.get("speech_cue")
        speech = np.array([np.nan if v is None else v for v in speech], np.float32) if speech is not None else None
        silence = ps.get("silence")
        silence = np.array([np.nan if v is None else v for v in silence], np.float32) if silence is not None else None
        alone = {s.label: (s.start, s.end) for s in (a.opening, a.ending) if s is not None}
        song_end = None if match is None else (lambda s0, s1, _i=idx: music_end(match, _i, s0, s1))
        op, ed, segs = fuse(op0, ed0, rep, a.video.duration, cut_times, speech, silence, alone, song_end)
        ps["op_prob"] = op.tolist()
        ps["ed_prob"] = ed.tolist()
        ps["repetition"] = np.minimum(rep[: len(op)], 9).astype(int).tolist()
        for label in ("opening", "ending"):
            span = segs[label]
            if span is None:
                setattr(a, label, None)
                continue
            p = op if label == "opening" else ed
            i0, i1 = int(np.floor(span[0])), int(np.ceil(span[1]))
            ev = evidence(label, span[0], span[1], ps, (rep > 0).astype(np.float32))
            setattr(a, label, Segment(label, round(span[0], 3), round(span[1], 3), round(float(p[i0:i1].mean()), 4), ev))
        others = [s for s in (a.segments or []) if s.label not in ("opening", "ending")]
        a.segments = sorted([s for s in (a.opening, a.ending) if s] + others, key=lambda s: s.start)
        a.warnings = [w for w in a.warnings if "season" not in w]


VIDEO_SUFFIXES = {".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".m2ts", ".ts", ".mpg", ".mpeg", ".wmv", ".flv", ".ogv"}


def find_videos(inputs) -> list:
    """Video files named directly, or found (sorted, recursively) under the folders named."""
    from pathlib import Path

    from .errors import OptionsError

    out = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.suffix.lower() in VIDEO_SUFFIXES and q.is_file())
        elif p.exists():
            out.append(p)
        else:
            raise OptionsError(f"{p}: no such file or folder")
    if not out:
        raise OptionsError("no video files found in " + ", ".join(map(str, inputs)))
    return out


def analyze_season(videos, options=None, progress=None) -> list:
    """Analyse every episode (features cached), then fuse repetition across them."""
    from .pipeline import AnalysisOptions, analyze

    options = options or AnalysisOptions()
    progress = progress or (lambda *a: None)
    results = []
    for i, v in enumerate(videos):
        def sub(stage, done, total, _i=i):
            progress(f"episode {_i + 1}/{len(videos)}: {stage}", done, total)

        results.append(analyze(v, options, progress=sub))
    if len(results) < 2:
        for r in results:
            r.warnings.append("season mode needs two or more episodes; this result uses the model alone")
        return results
    progress("season matching", 0, 1)
    fps = [fingerprint(r.features, len(r.per_second["t"])) for r in results]
    match = match_season(fps, [audio_fingerprint(r.features, len(r.per_second["t"])) for r in results])
    apply_season(results, match.reps, match)
    progress("season matching", 1, 1)
    return results
