"""Season mode: what repeats across episodes of one show marks its openings and endings.

Each episode gets a per-second fingerprint (the shape of its log-mel spectrum, plus its frame
embedding); for every pair of episodes, runs along the diagonals of their similarity matrix where
both agree for at least `min_run` seconds are repeated material (gaps up to `max_gap` seconds are
bridged, as Intro Skipper does). Repetition is then fused with the model's per-second
probabilities: a repeated block that the model calls an opening or ending gets the block's edges,
which are exact where the model is only roughly right; a block the model does not recognise is
kept only where its position and length fit an opening or ending. A song's edges are then taken
from its sound rather than from the picture: where the partners' spectra stop (or start) matching
along the run's diagonal, refined to the frame from the full-rate MFCC (`music_end`,
`music_start`). A single episode falls back to the model alone.
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


def audio_frames(features: dict) -> np.ndarray | None:
    """The full-rate MFCC frames (100 a second) without the loudness coefficient, each coefficient
    standardised over the episode and each frame unit length (float16 to keep a season's worth
    small); None without them."""
    if "audio" not in features or "mfcc" not in features["audio"]:
        return None
    m = np.asarray(features["audio"]["mfcc"], np.float32)
    if m.ndim != 2 or len(m) == 0 or m.shape[1] < 2:
        return None
    m = m[:, 1:]  # without the first coefficient (loudness): a song faded out early is still the song
    m = (m - m.mean(0)) / (m.std(0) + 1e-6)
    return (m / (np.linalg.norm(m, axis=1, keepdims=True) + 1e-6)).astype(np.float16)


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
    [a0, a1) match episode j's from b0); each episode's audio fingerprint and full-rate audio frames
    (`audio_frames`; either may be None)."""

    reps: list
    runs: list
    audio: list
    frames: list | None = None


def match_season(fps: list[np.ndarray], audio_fps: list | None = None, frames: list | None = None, **kw) -> SeasonMatch:
    """Every pair of episodes' repeated runs (`repeated_runs` on the fingerprints `fps`), kept with
    the audio fingerprints and frames that place a song's edges (`music_end`, `music_start`)."""
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
    return SeasonMatch(reps, runs, list(audio_fps) if audio_fps is not None else [None] * len(fps),
                       list(frames) if frames is not None else [None] * len(fps))


def match_episodes(features: list[dict], lengths: list[int], **kw) -> SeasonMatch:
    """`match_season` on the episodes' cached features (`lengths`: seconds per episode): the
    fingerprints, the audio fingerprints and the full-rate audio frames, built the same way for the
    CLI, the library and the benchmarks."""
    return match_season([fingerprint(f, n) for f, n in zip(features, lengths)],
                        [audio_fingerprint(f, n) for f, n in zip(features, lengths)],
                        [audio_frames(f) for f in features], **kw)


def repetition(fps: list[np.ndarray], **kw) -> list[np.ndarray]:
    """Per episode, per second: how many other episodes repeat that second."""
    return match_season(fps, **kw).reps


# The end of the repeated MUSIC, not of the repeated picture: along each partner's diagonal the song
# goes on while the two episodes' spectra stay this similar (an identical song reads ~1.0; the next
# scene's dialogue or music reads 0.5-0.85). The picture can differ in a song's last seconds (an
# episode's own last shot, a title over it) and a re-used card can follow it: neither moves where
# the song stops.
AUDIO_SAME = 0.9
MUSIC_SEARCH_S = 12  # how far either way of a block's edge the music's edge is looked for
SOUND_HELD_S = 3  # a song's start: the first of this many seconds in a row that sound the same


# To a hundredth of a second: the same song in two episodes gives the same MFCC frames once aligned
# to the frame (~0.95-0.99 cosine), the next scene does not (~0.5). The song stops at the first frame
# whose next FRAME_RUN frames no longer match on average.
FRAME_RATE = 100
FRAME_SAME = 0.7
FRAME_RUN = 20
FRAME_ALIGNED = 0.85  # the aligned song must match at least this well, or the frames are not used
# A song's start: the per-second walk can take one chance second next to the song for it (quiet
# room tone, the last words before it); the frames may move the start up to this far past that
# second where more than this share of the frames in between do not match.
FRAME_START_REACH_S = 2.0
FRAME_START_UNMATCHED = 0.5


def _aligned_windows(fa: np.ndarray, fb: np.ndarray, off: int, song: tuple[int, int], span: tuple[int, int]):
    """Episode i's audio frames `fa` against a partner's `fb`, which repeats i's song at an offset
    of `off` seconds: align the frames over seconds [song[0], song[1]) (where both surely play the
    song) within +-1 s of the offset, then compare them over seconds [span[0], span[1]). Returns
    (f0, window) with window[k] the mean similarity of the aligned frames f0 + k .. f0 + k +
    FRAME_RUN, or None where the frames cannot be aligned or the span is too short."""
    r = FRAME_RATE
    lo, hi = song[0] * r, song[1] * r
    if lo < 0 or hi > len(fa):
        return None
    lag = _align(fa[lo:hi], fb, lo, off)
    if lag is None:
        return None
    f0, f1 = max(0, span[0] * r, -lag), min(len(fa), len(fb) - lag, span[1] * r)
    if f1 - f0 < 2 * FRAME_RUN:
        return None
    sim = np.einsum("ij,ij->i", fa[f0:f1].astype(np.float32), fb[f0 + lag : f1 + lag].astype(np.float32))
    return f0, np.convolve(sim, np.ones(FRAME_RUN) / FRAME_RUN, "valid")


def _frame_end(fa: np.ndarray, fb: np.ndarray, off: int, s: int, e: int) -> float | None:
    """Sub-second end of a song that episode i (frames fa) shares with a partner (fb) at an offset
    of `off` seconds, still sounding at second s and no longer at second e: align the frames over
    [s - 8, s - 2) within +-1 s of the offset, then find where the aligned frames stop matching in
    [s - 3, e + 1)."""
    found = _aligned_windows(fa, fb, off, (s - 8, s - 2), (s - 3, e + 1))
    if found is None:
        return None
    f0, ahead = found  # ahead[k] = mean of the similarities of frames f0 + k .. f0 + k + FRAME_RUN
    below = np.flatnonzero(ahead < FRAME_SAME)
    if len(below) == 0:
        return None
    # The window first falls below FRAME_SAME about half-way through the change: the song stopped
    # about FRAME_RUN / 2 frames later.
    return (f0 + int(below[0]) + FRAME_RUN // 2) / FRAME_RATE


def _frame_start(fa: np.ndarray, fb: np.ndarray, off: int, s: int, e: int) -> float | None:
    """The mirror of `_frame_end`: a song that sounds the same in both episodes from second s on
    and not at second e - 1 starts at the last frame before which the aligned frames do not match."""
    found = _frame_start_detail(fa, fb, off, s, e)
    return None if found is None else found[0]


def _frame_start_detail(fa: np.ndarray, fb: np.ndarray, off: int, s: int, e: int) -> tuple[float, float] | None:
    """`_frame_start`, with the share of the frame windows from second e up to that start that do
    not match (how little of what the per-second walk took for the song sounds the same frame by
    frame)."""
    found = _aligned_windows(fa, fb, off, (s + 2, s + 8), (e - 1, s + 3))
    if found is None:
        return None
    f0, window = found
    below = np.flatnonzero(window < FRAME_SAME)
    if len(below) == 0:
        return None
    before = window[max(0, e * FRAME_RATE - f0) : int(below[-1]) + 1]
    return (f0 + int(below[-1]) + FRAME_RUN // 2) / FRAME_RATE, float((before < FRAME_SAME).mean()) if len(before) else 0.0


def _align(a_song: np.ndarray, fb: np.ndarray, lo: int, off: int) -> int | None:
    """The frame lag (within +-1 s of `off` seconds) at which the partner's frames match the song
    frames `a_song` (starting at frame lo) best; None where even the best match is weak."""
    r = FRAME_RATE
    a_song = a_song.astype(np.float32)
    best, lag = -1.0, None
    for lag_try in range(off * r - r, off * r + r + 1):
        if lo + lag_try < 0 or lo + lag_try + len(a_song) > len(fb):
            continue
        v = float(np.einsum("ij,ij->i", a_song, fb[lo + lag_try : lo + lag_try + len(a_song)].astype(np.float32)).mean())
        if v > best:
            best, lag = v, lag_try
    return lag if lag is not None and best >= FRAME_ALIGNED else None


def _run_sound(match: SeasonMatch, i: int, span):
    """Per repeated run (j, a0, a1, b0) of episode i: its partner j, the offset, the seconds ks of
    `span(a0, a1)` -> [lo, hi) that both episodes have, and how alike their per-second spectra are
    there. Runs with fewer than 2 such seconds or a partner without audio are left out."""
    fa = match.audio[i]
    for j, a0, a1, b0 in match.runs[i]:
        fb = match.audio[j]
        lo, hi = span(a0, a1)
        if fb is None or hi - lo < 2:
            continue
        off = b0 - a0
        ks = np.arange(lo, hi)
        ks = ks[(ks + off >= 0) & (ks + off < len(fb))]
        if len(ks) < 2:
            continue
        yield j, off, ks, np.einsum("ij,ij->i", fa[ks], fb[ks + off])


def music_start(match: SeasonMatch, i: int, a: int, b: int) -> float | None:
    """The mirror of `music_end`: where the song of episode i's repeated block [a, b) starts to
    sound the same as in its partners (from the first of SOUND_HELD_S seconds in a row that sound
    the same, walking back while they still do), refined to the frame; the median over partners.
    None without audio or partners."""
    fa = match.audio[i]
    if fa is None:
        return None
    frames = match.frames or [None] * len(match.audio)
    best: dict[int, tuple[float, int, int]] = {}
    for j, off, ks, sims in _run_sound(match, i, lambda a0, a1: (max(a0, a), min(a1, b, a + MUSIC_SEARCH_S))):
        same = ks[sims >= AUDIO_SAME]
        # The song starts where the sound stays the same: a lone second before it that reads alike
        # (a repeated word of the cold open, a pause) is not its start.
        held = np.flatnonzero(np.convolve(sims >= AUDIO_SAME, np.ones(SOUND_HELD_S, int), "valid") == SOUND_HELD_S)
        first = int(ks[held[0]]) if len(held) else (int(same[0]) if len(same) else None)
        if first is not None and (j not in best or float(sims.mean()) > best[j][0]):
            best[j] = (float(sims.mean()), first, off)
    starts = []
    for j, (_, k, off) in best.items():
        fb = match.audio[j]
        limit = max(0, -off, a - MUSIC_SEARCH_S)
        while k - 1 >= limit and float(fa[k - 1] @ fb[k - 1 + off]) >= AUDIO_SAME:
            k -= 1
        start = float(k)
        if frames[i] is not None and frames[j] is not None:
            found = _frame_start_detail(frames[i], frames[j], off, max(a, k), k)
            # The frames refine the first second of the per-second evidence; they move the start
            # further (up to FRAME_START_REACH_S) only where most of what lies between does not
            # sound the same frame by frame: the per-second test then took a chance match for the
            # song (two quiet stretches, or the last words before it, have alike spectra by the
            # second). A partner that matches frame by frame there too keeps the per-second start.
            if found is not None and (found[0] <= max(a, k) + 1 or (
                    found[0] <= max(a, k) + FRAME_START_REACH_S and found[1] > FRAME_START_UNMATCHED)):
                start = found[0]
        starts.append(start)
    if not starts:
        return None
    return float(np.median(starts))


def music_end(match: SeasonMatch, i: int, a: int, b: int) -> float | None:
    """Where the song of episode i's repeated block [a, b) stops, in seconds. Per partner episode,
    its run that best matches the block's last MUSIC_SEARCH_S seconds in sound (a song's verses and
    choruses also match each other at other offsets; the true alignment reads ~1.0) is walked on
    from the last second both still share to the first second whose spectra differ; with full-rate
    frames that end is refined to the frame (`_frame_end`). The median over partners; None without
    audio or partners."""
    fa = match.audio[i]
    if fa is None:
        return None
    frames = match.frames or [None] * len(match.audio)
    best: dict[int, tuple[float, int, int]] = {}  # partner -> (mean similarity, a second in the song, offset)
    for j, off, ks, sims in _run_sound(match, i, lambda a0, a1: (max(a0, a, b - MUSIC_SEARCH_S), min(a1, b))):
        same = ks[sims >= AUDIO_SAME]
        if len(same) and (j not in best or float(sims.mean()) > best[j][0]):
            best[j] = (float(sims.mean()), int(same[-1]), off)
    ends = []
    for j, (_, k, off) in best.items():
        fb = match.audio[j]
        limit = min(len(fa), len(fb) - off, b + MUSIC_SEARCH_S)
        while k + 1 < limit and float(fa[k + 1] @ fb[k + 1 + off]) >= AUDIO_SAME:
            k += 1
        end = float(k + 1)
        if frames[i] is not None and frames[j] is not None:
            # From where the picture still repeats too (a repeated announcement can match second by
            # second but not frame by frame) to the first second that no longer sounds the same.
            # The frames refine the last second of that evidence; they do not overrule it (a song
            # faded out a little earlier in one episode stops matching frame by frame before its end).
            fine = _frame_end(frames[i], frames[j], off, min(b, k + 1), k + 1)
            if fine is not None and fine >= min(b, k + 1) - 1:
                end = fine
        ends.append(end)
    if not ends:
        return None
    return float(np.median(ends))


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
         song_end=None, song_start=None):
    """Fused per-second probabilities and segments of one episode of a season.

    `model_segments`: the model-alone segments of the episode ({"opening": (start, end) or None, ...}).
    `song_end(a, b)` / `song_start(a, b)`: where the music of the repeated block [a, b) stops / starts
    (see `music_end`, `music_start`), or None."""
    from .oped import LIMITS, segments_from_probs

    n = len(op_prob)
    speech = None if speech is None else np.nan_to_num(np.asarray(speech, np.float32), nan=0.0)
    silence = None if silence is None else np.nan_to_num(np.asarray(silence, np.float32), nan=0.0)
    op, ed = op_prob.astype(np.float32).copy(), ed_prob.astype(np.float32).copy()
    labelled = []
    song_spans = {"opening": [], "ending": []}  # each labelled block's [a, b) after its edge trims, exact end
    song_starts = {"opening": [], "ending": []}  # (a, exact start) of each labelled block
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
        exact_end = None  # the song's end to the hundredth of a second, where the sound gives it
        if song_end is not None:
            # The block ends where the picture stops repeating; the song ends where its sound does.
            # Past the picture's end, only music extends it: a sponsor card's announcer or a silent
            # pause can repeat word for word in every episode too.
            e = song_end(a, b)
            if e is not None and e - a >= LIMITS["opening"][0]:
                e_sec = int(np.ceil(e - 1e-6))  # one past the last second the song sounds in
                if e_sec <= b:
                    b = e_sec
                else:
                    spoken = max(EDGE_SPEECH, float(np.median(speech[a:b])) + EDGE_SPEECH_MARGIN) if speech is not None else None
                    while b < e_sec and not (spoken is not None and speech[b] >= spoken) and not (
                            silence is not None and silence[b] >= EDGE_SILENCE):
                        b += 1
                    if b < e <= b + 1:
                        b = e_sec  # the second where the talk starts still holds the song's last notes
                exact_end = float(e) if b == e_sec else None
        exact_start = None
        if song_start is not None:
            # The same for the song's start: the picture can start repeating a little after the song
            # (or a repeated BGM cue before it can make the block start early).
            s0 = song_start(a, b)
            if s0 is not None and b - s0 >= LIMITS["opening"][0]:
                s_sec = int(np.floor(s0 + 1e-6))  # the first second the song sounds in
                if s_sec >= a:
                    a = s_sec
                else:
                    spoken = max(EDGE_SPEECH, float(np.median(speech[a:b])) + EDGE_SPEECH_MARGIN) if speech is not None else None
                    while a > s_sec and not (spoken is not None and speech[a - 1] >= spoken) and not (
                            silence is not None and silence[a - 1] >= EDGE_SILENCE):
                        a -= 1
                    if a - 1 <= s0 < a:
                        a = s_sec  # the second where the talk stops already holds the song's first notes
                exact_start = float(s0) if a == s_sec else None
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
            # A second the song only partly fills (its exact start or end inside it) carries the
            # talk next to the song: it is left out of the spoken-stretch test, which would take the
            # talk plus the first sung seconds for an announcement.
            lo = a + 1 if exact_start is not None and a < exact_start < a + 1 else a
            hi = b - 1 if exact_end is not None and b - 1 < exact_end < b else b
            a2, b2 = _trim_spoken_edges(speech, lo, hi, LIMITS["opening"][0])
            a, b = (a if a2 == lo else a2), (b if b2 == hi else b2)
        if silence is not None:
            # Silence repeats too (every episode pauses before its ending): a song is not silent.
            while b - a > LIMITS["opening"][0] and silence[a] >= EDGE_SILENCE:
                a += 1
            while b - a > LIMITS["opening"][0] and silence[b - 1] >= EDGE_SILENCE:
                b -= 1
        target[a:b] = np.maximum(target[a:b], 0.9)
        other[a:b] = np.minimum(other[a:b], 0.1)
        song_spans[label].append((a, b, exact_end if exact_end is not None and b - 1 < exact_end <= b else None))
        song_starts[label].append((a, exact_start if exact_start is not None and a <= exact_start < a + 1 else None))
        # What comes right before the repeated song is the episode's own (a cold open, the last
        # scene): the model's belief that the segment already started there is overruled.
        lead = slice(max(0, a - LEAD_S), a)
        target[lead] = np.minimum(target[lead], 0.45)
    segs = segments_from_probs({"opening": op, "ending": ed}, duration, cut_times)
    for label, p_fused, p_model in (("opening", op, op_prob), ("ending", ed, ed_prob)):
        span, alone = segs.get(label), (model_segments or {}).get(label)
        model_end_taken = False
        if span and alone and span[0] < alone[1] < span[1] and span[1] - alone[1] <= END_FROM_MODEL_S:
            segs[label] = (span[0], float(alone[1]))
            model_end_taken = True
            k0, k1 = int(np.ceil(alone[1])), int(np.ceil(span[1]))
            p_fused[k0:k1] = np.minimum(p_fused[k0:k1], p_model[k0:k1])
        span = segs.get(label)
        if span:
            # The segment starts where a repeated block does (the lead cap above puts the 0.5
            # crossing within a second of it): to the frame where the sound gives it.
            for a, exact in song_starts[label]:
                if exact is not None and abs(span[0] - exact) <= 1.5 and exact < span[1]:
                    segs[label] = span = (exact, span[1])
                    break
            # The repeated block the segment ends in: the model's slow decay past its end is not the
            # song; where the sound gives the song's end to the frame, that is the end.
            for a, b, exact in sorted(song_spans[label], key=lambda x: -x[1]):
                # (Where the model alone ended the song earlier than its repeated sound, the sound
                # runs on into something that repeats too, e.g. the preview's music: the model's end stays.)
                if exact is not None and exact - 1.0 <= span[1] <= b + TAIL_S and span[0] < exact and not (
                        model_end_taken and exact > span[1]):
                    segs[label] = (span[0], min(duration, exact))
                elif b < span[1] <= b + TAIL_S and span[0] < b:
                    segs[label] = (span[0], min(duration, float(b)))
                else:
                    continue
                k1 = int(np.ceil(span[1]))
                p_fused[b:k1] = np.minimum(p_fused[b:k1], 0.45)
                break
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
        song_start = None if match is None else (lambda s0, s1, _i=idx: music_start(match, _i, s0, s1))
        op, ed, segs = fuse(op0, ed0, rep, a.video.duration, cut_times, speech, silence, alone, song_end, song_start)
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
    match = match_episodes([r.features for r in results], [len(r.per_second["t"]) for r in results])
    apply_season(results, match.reps, match)
    progress("season matching", 1, 1)
    return results
