"""Export the source competition's format (Mango TV 2021 anime OP/ED track).

For every corpus episode: ``<id>_start.mp4`` = its first 200 s, ``<id>_end.mp4`` = its last 180 s
(frame-exact, re-encoded H.264/AAC with PyAV), and label lines ``name seconds``:

* ``start_labels.txt``: ``<id>_start <t>`` -- where the OP ENDS, in seconds of the start clip;
* ``end_labels.txt``: ``<id>_end <t>`` -- where the ED STARTS, in seconds of the end clip.

An episode without an OP (or ED), or whose OP end / ED start falls outside its clip, gets no label
line (it is listed in ``skipped.json``), since the competition has one time per clip.  A model
trained on this format is scored with ``vpos eval --truth start_labels.txt --pred my_labels.txt``.
"""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Optional

import numpy as np

from .truth import ftime, load_truth, parse_fps, truth_files

SR = 48000


class _ClipWriter:
    """One output clip (H.264/AAC mp4) fed frame by frame, its audio interleaved by sample index."""

    def __init__(self, dst: str, fps: Fraction, width: int, height: int, audio: Optional[np.ndarray]):
        import av

        self.av = av
        self.out = av.open(dst, "w")
        self.vs = self.out.add_stream("libx264", rate=fps, options={"preset": "veryfast", "crf": "21"})
        self.vs.width, self.vs.height, self.vs.pix_fmt = width, height, "yuv420p"
        self.fps = fps
        self.audio = audio
        self.as_ = None
        if audio is not None:
            self.as_ = self.out.add_stream("aac", rate=SR)
            self.as_.layout = "stereo"
        self.pos = 0
        self.n = 0

    def _push(self, upto: int) -> None:
        av, a = self.av, self.audio
        while self.as_ is not None and self.pos < min(upto, a.shape[1]):
            x = a[:, self.pos:self.pos + 1024]
            if x.shape[1] < 1024:
                x = np.pad(x, ((0, 0), (0, 1024 - x.shape[1])))
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(x, dtype=np.float32), format="fltp", layout="stereo")
            af.sample_rate = SR
            af.pts = self.pos
            af.time_base = Fraction(1, SR)
            for p in self.as_.encode(af):
                self.out.mux(p)
            self.pos += 1024

    def add(self, rgb: np.ndarray) -> None:
        nf = self.av.VideoFrame.from_ndarray(rgb, format="rgb24")
        nf.pts = self.n
        nf.time_base = 1 / self.fps
        for p in self.vs.encode(nf):
            self.out.mux(p)
        self.n += 1
        self._push(int(self.n * SR / self.fps))

    def close(self) -> None:
        if self.audio is not None:
            self._push(self.audio.shape[1])
        for p in self.vs.encode():
            self.out.mux(p)
        if self.as_ is not None:
            for p in self.as_.encode():
                self.out.mux(p)
        self.out.close()


def write_clips(src: str, clips: list, fps: Fraction) -> None:
    """Re-encode frame ranges ``[(dst, f0, f1), ...]`` of ``src`` in one decoding pass."""
    import av

    with av.open(src) as inp:
        audio = None
        if inp.streams.audio:
            res = av.AudioResampler(format="fltp", layout="stereo", rate=SR)
            chunks = [r.to_ndarray() for fr in inp.decode(audio=0) for r in res.resample(fr)]
            audio = np.concatenate(chunks, axis=1) if chunks else np.zeros((2, 0), np.float32)
    with av.open(src) as inp:
        vin = inp.streams.video[0]
        W, H = vin.codec_context.width, vin.codec_context.height
        writers = []
        for dst, f0, f1 in clips:
            a = None
            if audio is not None:
                a = audio[:, int(round(float(Fraction(f0) / fps) * SR)):int(round(float(Fraction(f1) / fps) * SR))]
            writers.append((_ClipWriter(dst, fps, W, H, a), f0, f1))
        last = max(f1 for _, _, f1 in clips)
        for i, fr in enumerate(inp.decode(vin)):
            if i >= last:
                break
            rgb = None
            for w, f0, f1 in writers:
                if f0 <= i < f1:
                    rgb = fr.to_ndarray(format="rgb24") if rgb is None else rgb
                    w.add(rgb)
        for w, _, _ in writers:
            w.close()


def export_competition(corpus_dir: str, out_dir: str, start_seconds: float = 200.0, end_seconds: float = 180.0,
                       ids: Optional[list] = None, log=print) -> dict:
    """Write ``<id>_start.mp4``, ``<id>_end.mp4``, ``start_labels.txt``, ``end_labels.txt``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start_lines, end_lines, skipped, clips = [], [], [], []
    for vid, tp in truth_files(corpus_dir).items():
        if ids and vid not in ids:
            continue
        t = load_truth(tp)
        fps = parse_fps(t["fps_fraction"])
        N = int(t["frame_count"])
        src = str(Path(corpus_dir) / t["path"])
        ns = min(N, int(round(start_seconds * float(fps))))
        ne = min(N, int(round(end_seconds * float(fps))))
        e0 = N - ne
        write_clips(src, [(str(out / f"{vid}_start.mp4"), 0, ns), (str(out / f"{vid}_end.mp4"), e0, N)], fps)
        clip = {"id": vid, "start_clip": f"{vid}_start.mp4", "start_frames": ns, "end_clip": f"{vid}_end.mp4",
                "end_frames": ne, "end_clip_offset": ftime(e0, fps)}
        op, ed = t.get("opening"), t.get("ending")
        if op and op["end_frame"] <= ns:
            start_lines.append(f"{vid}_start {ftime(op['end_frame'], fps):.3f}")
            clip["op_end"] = ftime(op["end_frame"], fps)
        else:
            skipped.append({"clip": f"{vid}_start", "why": "no OP" if not op else "OP ends after the clip"})
        if ed and ed["start_frame"] >= e0:
            end_lines.append(f"{vid}_end {ftime(ed['start_frame'] - e0, fps):.3f}")
            clip["ed_start"] = ftime(ed["start_frame"] - e0, fps)
        else:
            skipped.append({"clip": f"{vid}_end", "why": "no ED" if not ed else "ED starts before the clip"})
        clips.append(clip)
        if log:
            log(f"[competition] {vid}: start {ns} frames, end {ne} frames")
    (out / "start_labels.txt").write_text("\n".join(start_lines) + ("\n" if start_lines else ""))
    (out / "end_labels.txt").write_text("\n".join(end_lines) + ("\n" if end_lines else ""))
    (out / "skipped.json").write_text(json.dumps(skipped, indent=1))
    (out / "clips.json").write_text(json.dumps(clips, indent=1))
    return {"clips": clips, "skipped": skipped}
