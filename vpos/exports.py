"""Exports players and servers read: chapters (WebVTT, FFmetadata, Matroska XML), skip lists
(Kodi/mpv EDL) and a per-second CSV. Every function takes the result document (`Analysis.to_dict()`
or a loaded JSON), so saved results can be exported later.
"""

from __future__ import annotations

import csv
import io
from xml.sax.saxutils import escape

CHAPTER_TITLES = {
    "cold_open": "Cold open",
    "opening": "Opening",
    "sponsor": "Sponsor",
    "eyecatch": "Eyecatch",
    "ending": "Ending",
    "preview": "Preview",
    "episode": "Episode",
}


def chapters(doc: dict) -> list[tuple[float, float, str]]:
    """Chapters tiling the video: the detected segments plus 'Episode' chapters between them."""
    duration = float(doc["video"]["duration"])
    segs = []
    for s in doc.get("segments") or []:
        segs.append((float(s["start"]), float(s["end"]), s["label"]))
    if not segs:
        for key in ("opening", "ending"):
            s = doc.get(key)
            if s:
                segs.append((float(s["start"]), float(s["end"]), key))
    segs.sort()
    out, pos = [], 0.0
    for a, b, label in segs:
        a, b = max(a, pos), min(b, duration)
        if b <= a:
            continue
        if a - pos >= 0.5:
            out.append((pos, a, "episode"))
        out.append((a, b, label))
        pos = b
    if duration - pos >= 0.5 or not out:
        out.append((pos, duration, "episode"))
    return out


def _ts(t: float, sep: str = ".") -> str:
    ms = int(round(t * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def webvtt_chapters(doc: dict) -> str:
    lines = ["WEBVTT", ""]
    for i, (a, b, label) in enumerate(chapters(doc), 1):
        lines += [str(i), f"{_ts(a)} --> {_ts(b)}", CHAPTER_TITLES.get(label, label), ""]
    return "\n".join(lines)


def ffmetadata(doc: dict) -> str:
    """For `ffmpeg -i video -i chapters.txt -map_metadata 1 -codec copy out.mkv`."""
    out = [";FFMETADATA1"]
    for a, b, label in chapters(doc):
        title = CHAPTER_TITLES.get(label, label).replace("=", "\\=").replace(";", "\\;").replace("#", "\\#")
        out += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={int(round(a * 1000))}", f"END={int(round(b * 1000))}", f"title={title}"]
    return "\n".join(out) + "\n"


def matroska_chapters(doc: dict) -> str:
    """Matroska chapter XML for `mkvpropedit video.mkv --chapters chapters.xml`."""
    atoms = []
    for i, (a, b, label) in enumerate(chapters(doc), 1):
        atoms.append(
            "    <ChapterAtom>\n"
            f"      <ChapterUID>{i}</ChapterUID>\n"
            f"      <ChapterTimeStart>{_ts(a)}000000</ChapterTimeStart>\n"
            f"      <ChapterTimeEnd>{_ts(b)}000000</ChapterTimeEnd>\n"
            f"      <ChapterDisplay><ChapterString>{escape(CHAPTER_TITLES.get(label, label))}</ChapterString>"
            "<ChapterLanguage>eng</ChapterLanguage></ChapterDisplay>\n"
            "    </ChapterAtom>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE Chapters SYSTEM "matroskachapters.dtd">\n<Chapters>\n'
        "  <EditionEntry>\n" + "\n".join(atoms) + "\n  </EditionEntry>\n</Chapters>\n"
    )


def edl(doc: dict, labels=("opening", "ending")) -> str:
    """Kodi/mpv EDL: `start end action`, action 3 = commercial break (a skip the player offers)."""
    rows = []
    for key in labels:
        s = doc.get(key)
        if s:
            rows.append(f"{float(s['start']):.3f}\t{float(s['end']):.3f}\t3")
    return "\n".join(rows) + ("\n" if rows else "")


def per_second_csv(doc: dict) -> str:
    """`t` first, then every per-second signal of the same length; missing values as empty cells."""
    ps = doc.get("per_second") or {}
    t = ps.get("t") or []
    keys = ["t"] + [k for k, v in ps.items() if k != "t" and isinstance(v, list) and len(v) == len(t)]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(keys)
    for i in range(len(t)):
        w.writerow(["" if ps[k][i] is None else ps[k][i] for k in keys])
    return buf.getvalue()


EXPORTS = {
    "chapters.vtt": webvtt_chapters,
    "ffmetadata.txt": ffmetadata,
    "chapters.xml": matroska_chapters,
    "edl": edl,
    "per_second.csv": per_second_csv,
}


def write_all(doc: dict, stem) -> list:
    """Write every export beside `stem` (a path without suffix); returns the written paths."""
    from pathlib import Path

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, fn in EXPORTS.items():
        p = stem.parent / f"{stem.name}.{suffix}"
        p.write_text(fn(doc), encoding="utf-8")
        written.append(p)
    if doc.get("characters"):  # who is on screen when (issue 7)
        from .characters import intervals_csv

        p = stem.parent / f"{stem.name}.characters.csv"
        p.write_text(intervals_csv(doc["characters"]), encoding="utf-8")
        written.append(p)
    return written
