"""Figures and tables built from a result DOCUMENT (`Analysis.to_dict()` or a saved JSON file).

Everything here reads the plain dict, never the `Analysis` object, so a saved result can be drawn
again without re-analysing. Fields a run did not compute (absent, `null` or empty) are skipped
silently: later stages add `op_prob`/`ed_prob`, `opening`/`ending`, `segments` and `scenes`, and the
timeline shows them as soon as they appear.

Only plotly is imported here (never gradio): the app, notebooks and scripts share these functions.
Figures stay cheap for full episodes: one trace per signal (1440 points for 24 minutes), and the
hundreds of shot cuts are ONE scatter trace with `None` separators instead of one shape per cut.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

# Loudness of digital silence is reported as -200 dBFS; drawing it would squash the audible range.
LOUDNESS_FLOOR_DB = -80.0

# Per-second signals drawn as one row each, in this order: (key, row title, hover unit format, colour).
SIGNAL_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("loudness_db", "loudness (dBFS)", "%{y:.1f} dB", "#1f77b4"),
    ("speech_cue", "speech cue", "%{y:.2f}", "#2ca02c"),
    ("text_area", "on-screen text (area)", "%{y:.3f}", "#9467bd"),
    ("visual_change", "visual change", "%{y:.3f}", "#ff7f0e"),
)
SHOT_ROW_TITLE = "shot change / cuts"
OPED_ROW_TITLE = "opening / ending probability"
STRUCTURE_ROW_TITLE = "structure"

OPENING_COLOR = "rgba(214, 39, 40, 0.18)"
ENDING_COLOR = "rgba(23, 190, 207, 0.22)"
SCENE_COLORS = ("rgba(127, 127, 127, 0.22)", "rgba(188, 189, 34, 0.28)")
SEGMENT_PALETTE = (
    "rgba(31, 119, 180, 0.35)",
    "rgba(255, 127, 14, 0.35)",
    "rgba(44, 160, 44, 0.35)",
    "rgba(214, 39, 40, 0.35)",
    "rgba(148, 103, 189, 0.35)",
    "rgba(140, 86, 75, 0.35)",
    "rgba(227, 119, 194, 0.35)",
    "rgba(127, 127, 127, 0.35)",
)

SHOT_COLUMNS = ["shot", "start frame", "end frame", "start", "end", "duration (s)"]


# --------------------------------------------------------------------------------------- formatting


def format_time(seconds: float | None, millis: bool = False) -> str:
    """`mm:ss` (or `h:mm:ss` past an hour), with `.mmm` when `millis`: the notation people use for
    positions in an episode."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    seconds = max(0.0, float(seconds))
    if millis:
        total_ms = int(round(seconds * 1000))
        whole, ms = divmod(total_ms, 1000)
    else:
        whole, ms = int(round(seconds)), 0
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    text = f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"
    return f"{text}.{ms:03d}" if millis else text


def _nice_step(duration: float, target_ticks: int = 12) -> float:
    """A tick step (seconds) from a human-friendly series giving about `target_ticks` ticks."""
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200):
        if duration / step <= target_ticks:
            return float(step)
    return 3600.0 * math.ceil(duration / 3600.0 / target_ticks)


def _time_ticks(duration: float) -> tuple[list[float], list[str]]:
    step = _nice_step(duration)
    n = int(duration // step) + 1
    vals = [k * step for k in range(n)]
    return vals, [format_time(v) for v in vals]


# ------------------------------------------------------------------------------------ doc accessors


def _present(values: Any) -> bool:
    """A list with at least one real number (a signal made only of nulls is not drawn)."""
    return isinstance(values, list) and any(v is not None for v in values)


def _span(item: dict) -> tuple[float, float] | None:
    """(start, end) seconds of a segment/scene, whichever spelling it uses."""
    if not isinstance(item, dict):
        return None
    for a, b in (("start", "end"), ("start_time", "end_time")):
        if item.get(a) is not None and item.get(b) is not None:
            return float(item[a]), float(item[b])
    return None


def _duration(doc: dict) -> float:
    video = doc.get("video") or {}
    duration = float(video.get("duration") or 0.0)
    t = (doc.get("per_second") or {}).get("t") or []
    if t and t[-1] is not None:
        duration = max(duration, float(t[-1]))
    shots = doc.get("shots") or []
    if shots:
        duration = max(duration, float(shots[-1].get("end_time") or 0.0))
    return duration


def _cut_times(doc: dict) -> list[float]:
    """Start times of every shot after the first: where the cuts are."""
    return [float(s["start_time"]) for s in (doc.get("shots") or [])[1:] if s.get("start_time") is not None]


# ---------------------------------------------------------------------------------- trace builders


def _bands_trace(spans: Iterable[tuple[float, float]], y0: float, y1: float, color: str, name: str,
                 hover: Sequence[str] | None = None, showlegend: bool = True) -> go.Scatter:
    """Many shaded rectangles as ONE filled scatter trace (polygons separated by None): far cheaper
    for plotly to draw and relayout than one layout shape per band."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    texts: list[str | None] = []
    for i, (a, b) in enumerate(spans):
        xs += [a, a, b, b, a, None]
        ys += [y0, y1, y1, y0, y0, None]
        label = hover[i] if hover is not None else f"{name}: {format_time(a)}–{format_time(b)}"
        texts += [label] * 5 + [None]
    return go.Scatter(
        x=xs, y=ys, mode="lines", fill="toself", fillcolor=color, line=dict(width=0), name=name,
        text=texts, hovertemplate="%{text}<extra></extra>", hoveron="fills+points", showlegend=showlegend,
    )


def _runs(flags: Sequence[Any], t: Sequence[float], step: float) -> list[tuple[float, float]]:
    """Time spans of consecutive truthy per-second flags."""
    spans, start = [], None
    for i, f in enumerate(flags):
        if f and start is None:
            start = t[i]
        elif not f and start is not None:
            spans.append((start, t[i]))
            start = None
    if start is not None and t:
        spans.append((start, t[len(flags) - 1] + step))
    return spans


def _signal_trace(t: Sequence[float], values: Sequence[Any], name: str, fmt: str, color: str, step: float,
                  clip_min: float | None = None, showlegend: bool = False) -> go.Scatter:
    """A per-second signal as a step line: each value covers its whole sample interval [t, t+step),
    so a cut at 2.6 s lines up with the shot-change step of second 2, not with a slope towards 3."""
    ys = [None if v is None else (max(v, clip_min) if clip_min is not None else v) for v in values]
    xs = list(t[: len(ys)])
    if xs:
        # Repeat the last value at the end of its interval so the final sample has a width too.
        xs.append(xs[-1] + step)
        ys.append(ys[-1])
    return go.Scatter(
        x=xs, y=ys, mode="lines", name=name, line=dict(color=color, width=1.5, shape="hv"),
        customdata=[format_time(x) for x in xs],
        hovertemplate=f"%{{customdata}}<br>{name}: {fmt}<extra></extra>", connectgaps=False, showlegend=showlegend,
    )


def _cuts_trace(cuts: Sequence[float], y0: float, y1: float) -> go.Scatter:
    xs: list[float | None] = []
    ys: list[float | None] = []
    labels: list[str | None] = []
    for i, c in enumerate(cuts):
        xs += [c, c, None]
        ys += [y0, y1, None]
        text = f"cut at {format_time(c, millis=True)} (shot {i + 1} starts)"
        labels += [text, text, None]
    return go.Scatter(
        x=xs, y=ys, mode="lines", name=f"cuts ({len(cuts)})", line=dict(color="rgba(40, 40, 40, 0.8)", width=1),
        text=labels, hovertemplate="%{text}<extra></extra>",
    )


# ------------------------------------------------------------------------------------- the figure


def timeline_figure(doc: dict, title: str | None = None) -> go.Figure:
    """A multi-row timeline of one analysed video, sharing one x axis in seconds (ticks and hover
    in mm:ss). Rows appear only for what the document holds. `title`: None names the file, its
    duration and shot count; "" leaves the figure untitled."""
    per_second = doc.get("per_second") or {}
    t = [float(x) for x in (per_second.get("t") or [])]
    step = (t[1] - t[0]) if len(t) > 1 else 1.0
    duration = _duration(doc)
    cuts = _cut_times(doc)

    opening, ending = doc.get("opening"), doc.get("ending")
    segments = [s for s in (doc.get("segments") or []) if _span(s)]
    scenes = [s for s in (doc.get("scenes") or []) if _span(s)]

    # Each row: (title, relative height, builder(fig, row)).
    rows: list[tuple[str, float, Any]] = []

    if segments or scenes or _span(opening or {}) or _span(ending or {}):
        rows.append((STRUCTURE_ROW_TITLE, 0.7, lambda fig, r: _add_structure(fig, r, segments, scenes, opening, ending)))

    if _present(per_second.get("op_prob")) or _present(per_second.get("ed_prob")):
        rows.append((OPED_ROW_TITLE, 1.0, lambda fig, r: _add_oped(fig, r, t, step, per_second, opening, ending)))

    for key, row_title, fmt, color in SIGNAL_ROWS:
        values = per_second.get(key)
        if not _present(values):
            continue
        if key == "loudness_db":
            rows.append((row_title, 1.0, lambda fig, r, v=values: _add_loudness(fig, r, t, step, v, per_second.get("silence"))))
        else:
            rows.append((row_title, 1.0, lambda fig, r, v=values, n=row_title, f=fmt, c=color:
                         fig.add_trace(_signal_trace(t, v, n, f, c, step), row=r, col=1)))

    if _present(per_second.get("shot_change")) or cuts:
        rows.append((SHOT_ROW_TITLE, 1.0, lambda fig, r: _add_shots(fig, r, t, step, per_second.get("shot_change"), cuts)))

    if not rows:
        fig = go.Figure()
        fig.add_annotation(text="nothing to plot: the result holds no per-second signals or shots",
                           showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
        fig.update_layout(height=200, xaxis_visible=False, yaxis_visible=False, template="plotly_white")
        return fig

    n = len(rows)
    fig = make_subplots(rows=n, cols=1, shared_xaxes=True, vertical_spacing=min(0.06, 0.25 / n),
                        subplot_titles=[r[0] for r in rows], row_heights=[r[1] for r in rows])
    for i, (_, _, build) in enumerate(rows, start=1):
        build(fig, i)

    tickvals, ticktext = _time_ticks(duration)
    fig.update_xaxes(range=[0, max(duration, step)], tickvals=tickvals, ticktext=ticktext, showgrid=True,
                     gridcolor="rgba(0,0,0,0.08)", zeroline=False)
    fig.update_xaxes(title_text="time (mm:ss)", row=n, col=1)
    # The hover label on the axis shows seconds (ticks and tooltips show mm:ss); say so.
    fig.update_xaxes(hoverformat=".1f", ticksuffix=" s")
    fig.update_yaxes(zeroline=False, gridcolor="rgba(0,0,0,0.08)")
    video = doc.get("video") or {}
    if title is None:
        name = str(video.get("path") or "").replace("\\", "/").rsplit("/", 1)[-1]
        title = f"{name} — {format_time(duration)}, {len(doc.get('shots') or [])} shots" if name else None
    fig.update_layout(
        title=dict(text=title, x=0.01, y=0.99, yanchor="top", yref="container", pad=dict(t=8), font=dict(size=15)) if title else None,
        height=int(120 + 150 * sum(r[1] for r in rows)),
        margin=dict(l=60, r=20, t=95 if title else 60, b=50),
        template="plotly_white",
        # Hovering anywhere over a row reads every trace of that row at the nearest second.
        hovermode="x",
        # Row titles name the single-signal rows; the legend only explains the overlays (one line).
        # Right, just above the first row: below the strip where plotly's toolbar appears on hover.
        legend=dict(orientation="h", yanchor="bottom", y=1.0 + 0.1 / n, xanchor="right", x=1.0, font=dict(size=11)),
        # The timeline is read by zooming along time; keep the y axes fixed while doing so.
        dragmode="zoom",
    )
    fig.update_annotations(font_size=12)
    for i in range(1, n + 1):
        fig.update_yaxes(fixedrange=True, row=i, col=1)
    return fig


def _add_loudness(fig: go.Figure, row: int, t, step: float, values, silence) -> None:
    finite = [v for v in values if v is not None]
    low = max(LOUDNESS_FLOOR_DB, min(finite) - 3) if finite else LOUDNESS_FLOOR_DB
    if isinstance(silence, list) and any(silence):
        fig.add_trace(_bands_trace(_runs(silence, t, step), low, 0, "rgba(127,127,127,0.18)", "silence"), row=row, col=1)
    fig.add_trace(_signal_trace(t, values, "loudness", "%{y:.1f} dB", "#1f77b4", step, clip_min=low), row=row, col=1)
    fig.update_yaxes(range=[low, 0], row=row, col=1)


def _add_shots(fig: go.Figure, row: int, t, step: float, shot_change, cuts) -> None:
    if _present(shot_change):
        fig.add_trace(_signal_trace(t, shot_change, "shot change (max per second)", "%{y:.2f}", "#c49c94", step), row=row, col=1)
    if cuts:
        fig.add_trace(_cuts_trace(cuts, 0.0, 1.0), row=row, col=1)
    fig.update_yaxes(range=[0, 1.05], row=row, col=1)


def _add_oped(fig: go.Figure, row: int, t, step: float, per_second: dict, opening, ending) -> None:
    for seg, color, name in ((opening, OPENING_COLOR, "opening"), (ending, ENDING_COLOR, "ending")):
        span = _span(seg or {})
        if span:
            fig.add_trace(_bands_trace([span], 0, 1, color, name, [_segment_hover(name, seg)], showlegend=False), row=row, col=1)
    for key, name, color in (("op_prob", "P(opening)", "#d62728"), ("ed_prob", "P(ending)", "#17becf")):
        if _present(per_second.get(key)):
            fig.add_trace(_signal_trace(t, per_second[key], name, "%{y:.2f}", color, step, showlegend=True), row=row, col=1)
    fig.update_yaxes(range=[0, 1.05], row=row, col=1)


def _segment_hover(label: str, seg: dict) -> str:
    a, b = _span(seg)
    text = f"{label}: {format_time(a)}–{format_time(b)}"
    if seg.get("confidence") is not None:
        text += f" (confidence {float(seg['confidence']):.2f})"
    return text


def _add_structure(fig: go.Figure, row: int, segments, scenes, opening, ending) -> None:
    """Two lanes: segments (and opening/ending) on top, scenes below as alternating bands."""
    lane_top = (0.55, 1.0)
    lane_bottom = (0.0, 0.45)
    labelled: list[tuple[str, dict]] = [(str(s.get("label") or "segment"), s) for s in segments]
    # Opening/ending are segments too; show them here unless `segments` already lists them.
    listed = {lbl.lower() for lbl, _ in labelled}
    for seg, name in ((opening, "opening"), (ending, "ending")):
        if _span(seg or {}) and name not in listed:
            labelled.append((name, seg))

    colors: dict[str, str] = {"opening": OPENING_COLOR.replace("0.18", "0.45"), "ending": ENDING_COLOR.replace("0.22", "0.5")}
    by_label: dict[str, list[dict]] = {}
    for lbl, seg in labelled:
        by_label.setdefault(lbl, []).append(seg)
    for i, (lbl, segs) in enumerate(by_label.items()):
        color = colors.get(lbl.lower(), SEGMENT_PALETTE[i % len(SEGMENT_PALETTE)])
        fig.add_trace(_bands_trace([_span(s) for s in segs], *lane_top, color, lbl,
                                   [_segment_hover(lbl, s) for s in segs], showlegend=False), row=row, col=1)
    if labelled:
        # Labels as one text trace at band centres (cheaper than one annotation per band).
        fig.add_trace(go.Scatter(
            x=[sum(_span(s)) / 2 for _, s in labelled], y=[sum(lane_top) / 2] * len(labelled),
            text=[lbl for lbl, _ in labelled], mode="text", textfont=dict(size=11), hoverinfo="skip", showlegend=False,
        ), row=row, col=1)

    if scenes:
        for parity in (0, 1):
            picked = [(i, s) for i, s in enumerate(scenes) if i % 2 == parity]
            if not picked:
                continue
            hover = [f"scene {s.get('index', i) if isinstance(s.get('index'), int) else i}: "
                     f"{format_time(_span(s)[0])}–{format_time(_span(s)[1])}" for i, s in picked]
            fig.add_trace(_bands_trace([_span(s) for _, s in picked], *lane_bottom, SCENE_COLORS[parity],
                                       f"scenes ({len(scenes)})", hover, showlegend=parity == 0), row=row, col=1)
    fig.update_yaxes(range=[0, 1], showticklabels=False, showgrid=False, row=row, col=1)


# ------------------------------------------------------------------------------------------ tables


def _frames_and_times(item: dict) -> dict:
    """The table columns a shot and a scene share: frames, mm:ss.mmm times, duration."""
    start, end = float(item["start_time"]), float(item["end_time"])
    return {
        "start frame": int(item["start_frame"]),
        "end frame": int(item["end_frame"]),
        "start": format_time(start, millis=True),
        "end": format_time(end, millis=True),
        "duration (s)": round(end - start, 3),
    }


def shots_table(doc: dict) -> list[dict]:
    """One row per shot, keyed by `SHOT_COLUMNS` (times as mm:ss.mmm, durations in seconds)."""
    rows = []
    for s in doc.get("shots") or []:
        rows.append({"shot": int(s["index"]), **_frames_and_times(s)})
    return rows


def summary_markdown(doc: dict) -> str:
    """A short human summary of a result: what the video is, what was found, how fast.
    One horizontal table (a header row of names, one row of values) reads at a glance."""
    video = doc.get("video") or {}
    options = doc.get("options") or {}
    timings = doc.get("timings") or {}
    duration = float(video.get("duration") or 0.0)
    total = float(timings.get("total") or 0.0)
    name = str(video.get("path") or "video").replace("\\", "/").rsplit("/", 1)[-1]
    cells: list[tuple[str, str]] = [
        ("duration", format_time(duration, millis=True)),
        ("size", f"{video.get('width', '?')}×{video.get('height', '?')}"),
        ("fps", f"{float(video.get('fps') or 0):.3f}"),
        ("frames", str(video.get("frame_count", "?"))),
        ("audio", "yes" if video.get("has_audio") else "no"),
        ("shots", str(len(doc.get("shots") or []))),
    ]
    for key in ("opening", "ending"):
        span = _span(doc.get(key) or {})
        if span:
            cells.append((key, f"{format_time(span[0])}–{format_time(span[1])}"))
    if doc.get("scenes"):
        cells.append(("scenes", str(len(doc["scenes"]))))
    if total > 0:
        cells.append(("real-time factor", f"**{duration / total:.1f}×**"))
    lines = [
        f"### {name}",
        "",
        "| " + " | ".join(k for k, _ in cells) + " |",
        "|" + "---|" * len(cells),
        "| " + " | ".join(v for _, v in cells) + " |",
        "",
    ]
    how = f"Analysed in {total:.1f} s" if total > 0 else "Analysed"
    if options.get("device"):
        how += f" on {options['device']}"
    if options.get("extractors"):
        how += f" with {', '.join(options['extractors'])}"
    cache = doc.get("cache") or {}
    if cache.get("hits") and not cache.get("misses"):
        how += " (features from the cache)"
    lines.append(how + ".")
    video_tags = (doc.get("tags") or {}).get("video") or []
    if video_tags:  # the video-level tags, where a person reads the result first
        lines += ["", "**Video tags** (share of seconds): " + ", ".join(f"{d['label']} {float(d['score']):.0%}" for d in video_tags)]
    warnings = doc.get("warnings") or []
    if warnings:
        lines += ["", "**Warnings**", ""] + [f"- {w}" for w in warnings]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------- season view

SEASON_COLUMNS = ["episode", "duration", "opening", "OP conf.", "ending", "ED conf.", "repeated in season (OP / ED)"]


def _file_name(doc: dict) -> str:
    return str((doc.get("video") or {}).get("path") or "video").replace("\\", "/").rsplit("/", 1)[-1]


def season_table(docs: Sequence[dict]) -> list[list]:
    """One row per episode: its opening and ending (mm:ss–mm:ss or "none") and their confidences."""
    rows = []
    for doc in docs:
        row: list = [_file_name(doc), format_time(_duration(doc))]
        for key in ("opening", "ending"):
            seg = doc.get(key) or {}
            span = _span(seg)
            row += [f"{format_time(span[0])}–{format_time(span[1])}" if span else "none",
                    round(float(seg.get("confidence") or 0.0), 3) if span else None]
        # The season's own evidence: the share of each segment's seconds that other episodes repeat.
        shares = []
        for key in ("opening", "ending"):
            rep = ((doc.get(key) or {}).get("evidence") or {}).get("repetition")
            shares.append("–" if rep is None else f"{100 * float(rep):.0f}%")
        row.append(" / ".join(shares))
        rows.append(row)
    return rows


def season_figure(docs: Sequence[dict], title: str | None = None) -> go.Figure:
    """Every episode of a season as one lane on a shared time axis: its opening and ending shaded,
    P(opening) and P(ending) drawn inside the lane, so a missing or shifted opening stands out."""
    fig = go.Figure()
    names = [_file_name(d) for d in docs]
    longest = max([_duration(d) for d in docs] or [1.0])
    for lane, doc in enumerate(docs):
        y0 = len(docs) - 1 - lane  # first episode on top
        per_second = doc.get("per_second") or {}
        t = [float(x) for x in (per_second.get("t") or [])]
        step = (t[1] - t[0]) if len(t) > 1 else 1.0
        for key, color, name in (("opening", OPENING_COLOR, "opening"), ("ending", ENDING_COLOR, "ending")):
            seg = doc.get(key)
            span = _span(seg or {})
            if span:
                hover = f"{names[lane]}<br>{_segment_hover(name, seg)}"
                fig.add_trace(_bands_trace([span], y0 + 0.05, y0 + 0.95, color.replace("0.18", "0.35").replace("0.22", "0.4"),
                                           name, [hover], showlegend=False))
        for key, name, color in (("op_prob", "P(opening)", "#d62728"), ("ed_prob", "P(ending)", "#17becf")):
            values = per_second.get(key)
            if _present(values):
                tr = _signal_trace(t, [None if v is None else y0 + 0.05 + 0.9 * v for v in values], name, "", color, step,
                                   showlegend=(lane == 0))
                probs = list(values) + [values[-1]]
                tr.customdata = [f"{names[lane]} {format_time(x)}: {name} {p:.2f}" if p is not None else None
                                 for x, p in zip(tr.x, probs)]
                tr.hovertemplate = "%{customdata}<extra></extra>"
                tr.legendgroup = key
                fig.add_trace(tr)
        fig.add_hline(y=y0, line=dict(color="rgba(0,0,0,0.25)", width=1))
    tickvals, ticktext = _time_ticks(longest)
    fig.update_xaxes(title="time", tickvals=tickvals, ticktext=ticktext, range=[0, longest])
    fig.update_yaxes(tickvals=[len(docs) - 1 - i + 0.5 for i in range(len(docs))], ticktext=names,
                     range=[0, max(1, len(docs))], showgrid=False, zeroline=False)
    fig.update_layout(
        title=(f"{len(docs)} episodes" if title is None else (title or None)),
        height=120 + 70 * max(1, len(docs)), margin=dict(l=10, r=10, t=40 if title != "" else 10, b=40),
        legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0),
        hovermode="closest", template="plotly_white",
    )
    return fig

# ------------------------------------------------------------------------------------ characters

CHARACTER_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                     "#bcbd22", "#17becf")


def characters_timeline_figure(doc: dict, title: str | None = None) -> go.Figure | None:
    """One lane per character, shaded where it is on screen (its intervals), the probability as a
    thin line inside the lane, and the shot cuts marked across all lanes. None without characters."""
    ch = doc.get("characters")
    if not ch or not ch.get("names"):
        return None
    names = list(ch["names"])
    t = (doc.get("per_second") or {}).get("t") or []
    step = (t[1] - t[0]) if len(t) > 1 else 1.0
    fig = go.Figure()
    n = len(names)
    for i, name in enumerate(names):
        y0 = n - 1 - i
        color = CHARACTER_PALETTE[i % len(CHARACTER_PALETTE)]
        spans = [(float(a), float(b)) for a, b in (ch.get("intervals") or {}).get(name, [])]
        if spans:
            r, g, b = (int(color[k:k + 2], 16) for k in (1, 3, 5))
            fig.add_trace(_bands_trace(spans, y0 + 0.08, y0 + 0.92, f"rgba({r}, {g}, {b}, 0.45)", name,
                                       hover=[f"{name}: {format_time(a)}–{format_time(b)}" for a, b in spans]))
        p = (ch.get("per_second") or {}).get(name)
        if p and t:
            fig.add_trace(_signal_trace(t, [y0 + 0.08 + 0.84 * float(v) for v in p], f"{name} probability",
                                        "%{y:.2f}", color, step))
    cuts = _cut_times(doc)
    if cuts:
        fig.add_trace(_cuts_trace(cuts, 0, n))
    dur = _duration(doc)
    ticks, labels = _time_ticks(dur)
    fig.update_layout(
        title=title if title is not None else "Characters on screen", height=120 + 48 * n, margin=dict(l=90, r=20, t=50, b=40),
        xaxis=dict(range=[0, dur], tickvals=ticks, ticktext=labels, title="time"),
        yaxis=dict(tickvals=[n - 1 - i + 0.5 for i in range(n)], ticktext=names, range=[0, n], fixedrange=True),
        showlegend=False,
    )
    return fig


def screen_time_figure(doc: dict, title: str | None = None) -> go.Figure | None:
    """Total screen time per character as horizontal bars (seconds, with mm:ss labels)."""
    ch = doc.get("characters")
    if not ch or not ch.get("names"):
        return None
    st = ch.get("screen_time") or {}
    names = sorted(ch["names"], key=lambda k: -float(st.get(k, 0.0)))
    vals = [float(st.get(k, 0.0)) for k in names]
    colors = [CHARACTER_PALETTE[list(ch["names"]).index(k) % len(CHARACTER_PALETTE)] for k in names]
    fig = go.Figure(go.Bar(x=vals, y=names, orientation="h", marker_color=colors,
                           text=[format_time(v) for v in vals], textposition="auto",
                           hovertemplate="%{y}: %{x:.0f} s<extra></extra>"))
    fig.update_layout(title=title if title is not None else "Screen time", height=100 + 36 * len(names),
                      margin=dict(l=90, r=20, t=50, b=40), xaxis_title="seconds", yaxis=dict(autorange="reversed"))
    return fig

def _cell_centres(t: Sequence[float]) -> tuple[list[float], float]:
    """Heatmap cell centres for per-second values: each value covers [t, t+step), as the step lines
    of the timeline draw it, so a cut at 2.6 s falls inside the cell of second 2."""
    step = float(t[1] - t[0]) if len(t) > 1 and t[1] is not None and t[0] is not None else 1.0
    return [float(x) + step / 2 for x in t], step


def _vlines_trace(times: Sequence[float], name: str, hover: str, line: dict, yaxis: str, xaxis: str = "x",
                  showlegend: bool = True) -> go.Scatter:
    """Vertical lines at `times` over a lane plot, as ONE None-separated trace on an overlaying
    0..1 axis `yaxis` (a 24-minute episode has hundreds of cuts; a layout shape each makes plotly
    crawl), with a legend entry and the time on hover."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    text: list[str | None] = []
    for c in times:
        xs += [c, c, None]
        ys += [0.0, 1.0, None]
        label = f"{hover} {format_time(c, millis=True)}"
        text += [label, label, None]
    return go.Scatter(x=xs, y=ys, mode="lines", name=name, line=line, text=text, hovertemplate="%{text}<extra></extra>",
                      xaxis=xaxis, yaxis=yaxis, legendgroup=name, showlegend=showlegend)


def tags_figure(doc: dict, title: str | None = None) -> go.Figure | None:
    """The tag timeline: one heatmap lane per label (probability per second), shot cuts and scene
    boundaries as vertical lines, video-level tags in the title, time in mm:ss. None when the
    result has no tags."""
    tags = doc.get("tags") or {}
    per_second = tags.get("per_second") or {}
    labels = [lab for lab in tags.get("vocabulary", []) if lab in per_second]
    t = (doc.get("per_second") or {}).get("t") or []
    if not labels or not t:
        return None
    z = [[float(v) if v is not None else 0.0 for v in per_second[lab][: len(t)]] for lab in labels]
    when = [[format_time(x) for x in t] for _ in labels]
    fig = go.Figure(go.Heatmap(
        x=_cell_centres(t)[0], y=labels, z=z, zmin=0, zmax=1, colorscale="Viridis", customdata=when, name="tags", showlegend=False,
        colorbar=dict(title=dict(text="probability", side="right"), thickness=10, len=0.9),
        hovertemplate="%{y}<br>%{customdata}<br>p=%{z:.2f}<extra></extra>",
    ))
    cuts = _cut_times(doc)
    starts = []
    for sc in doc.get("scenes") or []:
        start = sc.get("start_time", sc.get("start")) if isinstance(sc, dict) else None
        if start:
            starts.append(float(start))
    if cuts:
        fig.add_trace(_vlines_trace(cuts, f"shot cuts ({len(cuts)})", "cut at", dict(color="rgba(255,255,255,0.55)", width=1), "y2"))
    if starts:
        fig.add_trace(_vlines_trace(starts, f"scene boundaries ({len(starts)})", "scene starts at",
                                    dict(color="rgba(255,80,80,0.9)", width=2), "y2"))
    video = ", ".join(f"{d['label']} {float(d['score']):.0%}" for d in (tags.get("video") or [])[:8])
    head = title if title is not None else "Tags over time"
    tickvals, ticktext = _time_ticks(_duration(doc))
    fig.update_layout(
        title=f"{head}<br><sup>video tags (share of seconds): {video or 'none'}</sup>",
        height=110 + 26 * len(labels), margin=dict(l=10, r=10, t=60, b=40), template="plotly_white",
        xaxis=dict(title="time (mm:ss)", tickvals=tickvals, ticktext=ticktext, range=[0, max(_duration(doc), 1.0)],
                   showgrid=False, zeroline=False),
        yaxis=dict(autorange="reversed", automargin=True),
        yaxis2=dict(overlaying="y", range=[0, 1], visible=False, fixedrange=True),  # the cut and scene lines
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1.0, font=dict(size=11),
                    bgcolor="rgba(200,200,200,0.35)"),
    )
    return fig

# ------------------------------------------------------------------------------------------ scenes

SCENE_COLUMNS = ["scene", "shots", "first shot", "last shot", "start frame", "end frame", "start", "end", "duration (s)"]


def scenes_table(doc: dict) -> list[dict]:
    """One row per scene, keyed by `SCENE_COLUMNS` (times as mm:ss.mmm, durations in seconds)."""
    rows = []
    for s in doc.get("scenes") or []:
        shots = list(s.get("shots") or [])
        rows.append({
            "scene": int(s["index"]),
            "shots": len(shots),
            "first shot": shots[0] if shots else None,
            "last shot": shots[-1] if shots else None,
            **_frames_and_times(s),
        })
    return rows


def _png_data_uri(image) -> str:
    import base64

    import cv2
    import numpy as np

    ok, buf = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode("ascii") if ok else ""


def scene_strip_figure(doc: dict, thumbnails: Sequence[Any] | None = None) -> go.Figure:
    """The scenes along the timeline: one thumbnail per scene (RGB arrays, e.g. from
    `vpos.scene_clips.scene_thumbnails`) filling the scene's time span, scene boundaries as bold
    lines and every shot cut as a thin tick under the strip. Zoom along time to see the
    thumbnails of short scenes."""
    scenes = [s for s in (doc.get("scenes") or []) if _span(s)]
    fig = go.Figure()
    if not scenes:
        fig.add_annotation(text="no scenes in this result (the shots extractor and the scenes stage make them)",
                           showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
        fig.update_layout(height=160, xaxis_visible=False, yaxis_visible=False, template="plotly_white")
        return fig
    duration = _duration(doc)
    spans = [_span(s) for s in scenes]
    # Alternating bands behind the thumbnails keep every scene visible before the images load.
    for parity in (0, 1):
        picked = [(i, s) for i, s in enumerate(scenes) if i % 2 == parity]
        if picked:
            fig.add_trace(_bands_trace([spans[i] for i, _ in picked], 0.15, 1.0, SCENE_COLORS[parity], "scenes",
                                       [_scene_hover(s, spans[i]) for i, s in picked], showlegend=False))
    images = []
    for i, (a, b) in enumerate(spans):
        if thumbnails is not None and i < len(thumbnails) and thumbnails[i] is not None:
            images.append(dict(source=_png_data_uri(thumbnails[i]), xref="x", yref="y", x=a, y=1.0, sizex=b - a, sizey=0.85,
                               sizing="contain", xanchor="left", yanchor="top", layer="above"))
    xs: list[float | None] = []
    ys: list[float | None] = []
    for a, _ in spans[1:]:
        xs += [a, a, None]
        ys += [0.0, 1.0, None]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="rgba(20,20,20,0.9)", width=2),
                             name=f"scene boundaries ({len(scenes) - 1})", hoverinfo="skip"))
    cuts = _cut_times(doc)
    if cuts:
        fig.add_trace(_cuts_trace(cuts, 0.0, 0.12))
    # Scene number and span on hover anywhere over the strip.
    fig.add_trace(go.Scatter(x=[(a + b) / 2 for a, b in spans], y=[0.57] * len(spans), mode="markers",
                             marker=dict(size=14, opacity=0), text=[_scene_hover(s, sp) for s, sp in zip(scenes, spans)],
                             hovertemplate="%{text}<extra></extra>", showlegend=False))
    tickvals, ticktext = _time_ticks(duration)
    fig.update_xaxes(range=[0, max(duration, 1.0)], tickvals=tickvals, ticktext=ticktext, title_text="time (mm:ss)",
                     showgrid=False, zeroline=False)
    fig.update_yaxes(range=[0, 1], fixedrange=True, showticklabels=False, showgrid=False, zeroline=False)
    fig.update_layout(images=images, height=230, margin=dict(l=20, r=20, t=40, b=50), template="plotly_white",
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1.0, font=dict(size=11)),
                      dragmode="zoom", hovermode="closest")
    return fig


def _scene_hover(scene: dict, span: tuple[float, float]) -> str:
    shots = list(scene.get("shots") or [])
    which = f"shots {shots[0]}–{shots[-1]}" if len(shots) > 1 else (f"shot {shots[0]}" if shots else "")
    return f"scene {scene.get('index')}: {format_time(span[0])}–{format_time(span[1])} ({which})"

# ------------------------------------------------------------------------------------------ motion

MOTION_COLOURS = {"static": "#9e9e9e", "pan": "#1f77b4", "tilt": "#17becf", "zoom_in": "#2ca02c", "zoom_out": "#98df8a",
                  "shake": "#d62728", "scroll": "#9467bd"}


def motion_figure(doc: dict, title: str | None = None) -> go.Figure | None:
    """The motion lane: the camera label of every second (argmax, coloured by label, the bar's
    height its probability) above one heatmap lane per transition type; shot cuts as lines.
    None when the result has no motion block."""
    from plotly.subplots import make_subplots

    motion = doc.get("motion") or {}
    ps = motion.get("per_second") or {}
    cams = [lab for lab in motion.get("camera_labels", []) if lab in ps]
    trans = [lab for lab in motion.get("transition_labels", []) if lab in ps]
    t = (doc.get("per_second") or {}).get("t") or []
    if not cams or not t:
        return None
    n = len(t)
    probs = [[float(ps[lab][i] or 0.0) for lab in cams] for i in range(min(n, len(ps[cams[0]])))]
    best = [max(range(len(cams)), key=lambda j: row[j]) for row in probs]
    centres, step = _cell_centres(t)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.45, 0.55], vertical_spacing=0.06)
    for j, lab in enumerate(cams):
        picked = [i for i in range(len(best)) if best[i] == j]
        if not picked:
            continue
        fig.add_trace(go.Bar(x=[centres[i] for i in picked], y=[probs[i][j] for i in picked], name=lab, width=step,
                             customdata=[format_time(t[i]) for i in picked], marker_color=MOTION_COLOURS.get(lab),
                             hovertemplate=f"{lab}<br>%{{customdata}}<br>p=%{{y:.2f}}<extra></extra>"),
                      row=1, col=1)
    if trans:
        z = [[float(v) if v is not None else 0.0 for v in ps[lab][:n]] for lab in trans]
        fig.add_trace(go.Heatmap(x=centres, y=trans, z=z, zmin=0, zmax=1, colorscale="Viridis", name="transitions",
                                 customdata=[[format_time(x) for x in t] for _ in trans],
                                 colorbar=dict(title=dict(text="transition p", side="right"), thickness=10, len=0.55, y=0, yanchor="bottom"),
                                 hovertemplate="%{y}<br>%{customdata}<br>p=%{z:.2f}<extra></extra>"), row=2, col=1)
    cuts = _cut_times(doc)
    if cuts:  # over both rows: the camera bars (0..1) and, on an overlaying 0..1 axis, the transition lanes
        line = dict(color="rgba(60,60,60,0.6)", width=1, dash="dot")
        fig.add_trace(_vlines_trace(cuts, f"shot cuts ({len(cuts)})", "cut at", line, "y"))
        fig.add_trace(_vlines_trace(cuts, f"shot cuts ({len(cuts)})", "cut at", line, "y3", xaxis="x2", showlegend=False))
        fig.update_layout(yaxis3=dict(overlaying="y2", range=[0, 1], visible=False, fixedrange=True))
    video = ", ".join(f"{d['label']} {float(d['score']):.0%}" for d in (motion.get("video") or [])[:6])
    head = title if title is not None else "Camera motion and transitions"
    fig.update_layout(
        title=f"{head}<br><sup>share of seconds: {video or 'none'}</sup>" if head or video else None,
        height=320, margin=dict(l=10, r=10, t=60, b=40), barmode="overlay", bargap=0, template="plotly_white",
        legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"),
        yaxis=dict(title="camera p", range=[0, 1]), yaxis2=dict(autorange="reversed"), xaxis2=dict(title="time (mm:ss)"),
    )
    tickvals, ticktext = _time_ticks(_duration(doc))
    fig.update_xaxes(tickvals=tickvals, ticktext=ticktext, range=[0, max(_duration(doc), 1.0)])
    return fig


def actions_rows(actions: list[dict]) -> list[dict]:
    """One row per window of the Kinetics actions: start, end and the top-5 labels with scores."""
    rows = []
    for a in actions or []:
        rows.append({"start": a["start"], "end": a["end"],
                     "top-5 actions": ", ".join(f"{d['label']} {d['score']:.2f}" for d in a.get("top5", []))})
    return rows
