"""vpos web app: upload an episode, see its structure.

    python app.py [--host 127.0.0.1] [--port 7860] [--share]

Thin on purpose: the analysis is `vpos.analyze`, the figures and tables are `vpos.plots`; this file
only wires them to Gradio. It also runs as a Hugging Face Space (app.py at the repository root; the
Space sets SPACE_ID and the app then listens on 0.0.0.0).

Environment:
    VPOS_MAX_UPLOAD   largest accepted upload, e.g. "4gb" (default), "500mb"
    VPOS_CACHE_DIR    feature cache folder (see vpos/cache.py)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

# Gradio otherwise phones home (analytics, version check); the app must work offline.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402

import vpos  # noqa: E402
from vpos.exports import EXPORTS  # noqa: E402
from vpos.pipeline import ALL_EXTRACTORS  # noqa: E402
from vpos.plots import (  # noqa: E402
    SEASON_COLUMNS,
    SCENE_COLUMNS,
    SHOT_COLUMNS,
    format_time,
    scene_strip_figure,
    scenes_table,
    season_figure,
    season_table,
    shots_table,
    summary_markdown,
    tags_figure,
    motion_figure,
    actions_rows,
    timeline_figure,
)

log = logging.getLogger("vpos.app")

ROOT = Path(__file__).resolve().parent
EXAMPLES_DIR = ROOT / "assets" / "examples"
# Result files of each run live here until Gradio has served them; runs older than this are removed.
OUTPUT_ROOT = Path(tempfile.gettempdir()) / "vpos-app"
OUTPUT_MAX_AGE_S = 6 * 3600
DEFAULT_MAX_UPLOAD = "4gb"
VIDEO_TYPES = [".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".ts", ".m2ts", ".flv", ".wmv", ".mpg", ".mpeg", ".ogv"]

# Empty download boxes are 236 px tall by default; before the first analysis they would push the
# results off the screen for nothing. The summary keeps some height so the progress bar shown in it
# (right under the Analyze button, where the eye is) has room.
CSS = """
#result-json .empty, #result-csv .empty, #result-exports .empty, #season-zip .empty, #scene-clips .empty,
#characters-csv .empty { min-height: 44px; height: 44px; }
#result-json .empty .icon, #result-csv .empty .icon { display: none; }
#summary { min-height: 110px; }
"""

INTRO = """# vpos — read the structure of an episode
Upload a video (an anime or TV episode, or any clip) and press **Analyze**. vpos decodes it once and
reports where the opening and ending are (per-second probability and boundaries), its shots and scenes,
its tags over time and for the whole video, camera motion and transitions, and the per-second audio,
on-screen-text and visual signals; download the result, chapters and a skip list. The Characters panel
finds who is on screen when. Everything runs on this machine.
"""


def _stage_description(stage: str, done: float, total: float) -> str:
    """What the progress bar says: the stage, and for extraction how much of the video is read."""
    if stage == "extract" and total:
        return f"extract: {format_time(done)} / {format_time(total)} of video"
    return stage


def _new_output_dir() -> Path:
    """A fresh folder for one run's downloads; also sweeps folders of old runs so a long-running
    server does not fill its disk."""
    OUTPUT_ROOT.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in OUTPUT_ROOT.iterdir():
        try:
            if old.is_dir() and now - old.stat().st_mtime > OUTPUT_MAX_AGE_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    out = OUTPUT_ROOT / uuid.uuid4().hex
    out.mkdir()
    return out


def _write_downloads(doc: dict, stem: str) -> tuple[str, str, str]:
    """The result JSON, the per-second CSV and a zip of the player exports (chapters in WebVTT,
    FFmetadata and Matroska XML; a Kodi/mpv EDL skip list), named after the video."""
    out = _new_output_dir()
    json_path = out / f"{stem}.vpos.json"
    json_path.write_text(json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False), encoding="utf-8")
    csv_path = out / f"{stem}.per_second.csv"
    csv_path.write_text(EXPORTS["per_second.csv"](doc), encoding="utf-8")
    zip_path = out / f"{stem}.chapters.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for suffix, make in EXPORTS.items():
            if suffix != "per_second.csv":  # already its own download
                zf.writestr(f"{stem}.{suffix}", make(doc))
    return str(json_path), str(csv_path), str(zip_path)


SEGMENT_COLUMNS = ["segment", "start", "end", "duration (s)", "confidence"]


def segments_table(doc: dict) -> pd.DataFrame:
    """Opening, ending and the other detected segments with their boundaries."""
    rows = []
    for s in doc.get("segments") or []:
        rows.append([s["label"], format_time(s["start"]), format_time(s["end"]), round(s["end"] - s["start"], 2),
                     round(float(s.get("confidence") or 0.0), 3)])
    return pd.DataFrame(rows, columns=SEGMENT_COLUMNS)


def _user_error(message: str) -> gr.Error:
    """An error the person can fix: shown in the page, and not a traceback in the server log."""
    return gr.Error(message, print_exception=False)


def check_tagger(tagger: str | None) -> str | None:
    """The tagger a person asked for (None: the shipped one), loaded once here so that a wrong path
    or Hub id is said before the whole video is analysed, not as a warning after it."""
    tagger = (tagger or "").strip() or None
    if tagger:
        from vpos.tags import load_tagger

        try:
            load_tagger(tagger)
        except vpos.VposError as e:
            raise _user_error(f"The tagger could not be loaded: {e}") from None
    return tagger


def analyze_video(
    video: str | None,
    sample_rate: float = 1.0,
    device: str = "auto",
    extractors: list[str] | None = None,
    shot_threshold: float = 0.45,
    tagger: str | None = "",
    progress: gr.Progress = gr.Progress(),
):
    """Analyse one uploaded video: summary markdown, timeline figure, shots table, JSON and CSV files.
    `tagger`: a person's own tagger (a `python -m vpos tags train` folder or a Hub id); empty: the
    shipped one."""
    if not video:
        raise _user_error("Upload a video first (mp4, mkv, webm, avi, mov, ...).")
    extractors = list(extractors) if extractors else []
    if not extractors:
        raise _user_error("Choose at least one extractor.")
    tagger = check_tagger(tagger)
    try:
        options = vpos.AnalysisOptions(
            sample_rate=float(sample_rate),
            device=device or "auto",
            extractors=tuple(e for e in ALL_EXTRACTORS if e in extractors),
            shot_threshold=float(shot_threshold),
            tagger=tagger,
        )
        progress(0.0, desc="starting")
        result = vpos.analyze(
            video, options, progress=lambda stage, done, total: progress(
                (done / total) if total else 0.0, desc=_stage_description(stage, done, total))
        )
    except vpos.VposError as e:
        # Bad input (not a video, corrupt, empty, audio only, bad option): say what is wrong, no traceback.
        log.info("refused an upload: %s", e)
        raise _user_error(str(e)) from None
    except Exception as e:  # noqa: BLE001 - a web user gets a message; the log gets the traceback
        log.exception("analysis of %s failed", video)
        raise gr.Error(f"The analysis failed unexpectedly ({type(e).__name__}: {e}). "
                       "The server log has the details.", print_exception=False) from None

    doc = result.to_dict()
    # The server's temporary upload path means nothing to the person downloading the result.
    name = Path(video).name
    doc["video"]["path"] = name
    json_path, csv_path, zip_path = _write_downloads(doc, Path(name).stem)
    shots = pd.DataFrame(shots_table(doc), columns=SHOT_COLUMNS)
    # No figure title: the summary right above already names the file (and a title would sit
    # under the Plot component's own label).
    return (summary_markdown(doc), timeline_figure(doc, title=""), shots, json_path, csv_path,
            segments_table(doc), zip_path, tags_figure(doc, title=""))


_EPISODE_STAGE = re.compile(r"^episode (\d+)/(\d+): (.*)$")


def _natural_key(path: str) -> list:
    """'ep 2' before 'ep 10': episodes upload in any order, a season reads in episode order."""
    return [int(x) if x.isdigit() else x.lower() for x in re.split(r"(\d+)", Path(path).name)]


def _season_progress(progress: gr.Progress):
    """The season's progress callback: one bar over all episodes, labelled with the episode and
    stage in progress (analyze_season prefixes each stage with "episode i/n: ")."""

    def hook(stage: str, done: float, total: float) -> None:
        m = _EPISODE_STAGE.match(stage)
        if not m:
            progress(done / total if total else 0.0, desc=stage)
            return
        i, n, inner = int(m.group(1)), int(m.group(2)), m.group(3)
        frac = (i - 1 + (done / total if total else 0.0)) / n
        desc = _stage_description(inner, done, total)
        progress(min(frac, 1.0), desc=f"episode {i}/{n}: {desc}")

    return hook


def analyze_season_files(files: list | None, sample_rate: float = 1.0, device: str = "auto",
                         progress: gr.Progress = gr.Progress()):
    """Analyse the uploaded episodes of one season together: summary, season figure, episode table,
    and a zip of every episode's result JSON, chapters and skip list plus the season table (CSV)."""
    paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in (files or [])]
    if not paths:
        raise _user_error("Upload the episodes of one season (two or more video files).")
    bad = [Path(p).name for p in paths if Path(p).suffix.lower() not in VIDEO_TYPES]
    if bad:
        raise _user_error(f"Not a video file type vpos reads: {', '.join(bad)}")
    paths = sorted(paths, key=_natural_key)
    try:
        options = vpos.AnalysisOptions(sample_rate=float(sample_rate), device=device or "auto")
        progress(0.0, desc="starting")
        results = vpos.analyze_season(paths, options, progress=_season_progress(progress))
    except vpos.VposError as e:
        log.info("refused a season upload: %s", e)
        raise _user_error(str(e)) from None
    except Exception as e:  # noqa: BLE001
        log.exception("season analysis failed")
        raise gr.Error(f"The season analysis failed unexpectedly ({type(e).__name__}: {e}). "
                       "The server log has the details.", print_exception=False) from None
    docs = []
    for path, r in zip(paths, results):
        doc = r.to_dict()
        doc["video"]["path"] = Path(path).name
        docs.append(doc)
    rows = season_table(docs)
    table = pd.DataFrame(rows, columns=SEASON_COLUMNS)
    out = _new_output_dir()
    zip_path = out / "season.vpos.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("season.csv", table.to_csv(index=False))
        for doc in docs:
            stem = Path(doc["video"]["path"]).stem
            zf.writestr(f"{stem}/{stem}.vpos.json", json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False))
            for suffix, make in EXPORTS.items():
                zf.writestr(f"{stem}/{stem}.{suffix}", make(doc))
    found_op = sum(1 for d in docs if d.get("opening"))
    found_ed = sum(1 for d in docs if d.get("ending"))
    warnings = sorted({w for d in docs for w in d.get("warnings") or []})
    summary = (f"### {len(docs)} episodes\n\nOpening found in {found_op}, ending in {found_ed}. "
               + ("Boundaries come from what repeats across the episodes, fused with the model's per-second "
                  "probabilities." if len(docs) > 1 else "One episode: the model alone (season matching needs two or more)."))
    if warnings:
        summary += "\n\n**Warnings**\n\n" + "\n".join(f"- {w}" for w in warnings)
    return summary, season_figure(docs, title=""), table, str(zip_path)


def _season_tab() -> None:
    """Several episodes of one show: what repeats marks the opening and the ending to the second."""
    gr.Markdown("Upload several episodes of **one season** (any order; they are read in file-name order). "
                "Segments that repeat across episodes mark the opening and ending to the second; an episode "
                "without an opening, two openings in one season and content after the ending are handled. "
                "Features are cached, so adding an episode later only analyses the new one.")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            files = gr.File(label="Episodes", file_count="multiple", file_types=VIDEO_TYPES, elem_id="season-files")
            button = gr.Button("Analyze season", variant="primary", elem_id="season-button")
            summary = gr.Markdown(elem_id="season-summary")
        with gr.Column(scale=1, min_width=300):
            with gr.Accordion("Options", open=False):
                sample_rate = gr.Slider(0.25, 4.0, value=1.0, step=0.25, label="Analysis rate (samples per second)")
                device = gr.Radio(["auto", "cpu", "cuda"], value="auto", label="Device")
            zip_file = gr.File(label="Results, chapters & skip lists of every episode (zip)", interactive=False,
                               elem_id="season-zip")
    table = gr.Dataframe(headers=SEASON_COLUMNS, label="Openings and endings per episode", interactive=False,
                         wrap=False, elem_id="season-table")
    figure = gr.Plot(label="Season timeline", elem_id="season-timeline")
    outputs = [summary, figure, table, zip_file]
    button.click(
        lambda: ("", None, pd.DataFrame(columns=SEASON_COLUMNS), None),
        outputs=outputs, queue=False, show_progress="hidden", api_visibility="private",
    ).then(
        analyze_season_files, inputs=[files, sample_rate, device], outputs=outputs, api_name="analyze_season",
        show_progress_on=[summary, figure],
    )

CHARACTER_ROWS = 4  # name + images rows in the Characters panel


def _reference_rows(rows) -> tuple[list[str], list[list[str]]]:
    names = [(n or "").strip() for n in rows[:CHARACTER_ROWS]]
    files = [[f if isinstance(f, str) else getattr(f, "name", str(f)) for f in (fs or [])] for fs in rows[CHARACTER_ROWS:]]
    return names, files


def find_characters(video: str | None, *rows, progress: gr.Progress = gr.Progress()):
    """Who is on screen when: references per name (rows of name, image files) -> summary, character
    timeline, screen-time chart, the intervals CSV, and, when no references are given, the
    discovered clusters (one representative crop each) to name. Shots come from the feature cache
    when the video was analysed already."""
    from vpos.characters import (ReferenceRegion, intervals_csv, is_weak_region, reference_notes, reference_preview,
                                 representative_crops)
    from vpos.plots import characters_timeline_figure, screen_time_figure

    if not video:
        raise _user_error("Upload a video first (mp4, mkv, webm, avi, mov, ...).")
    names, files = _reference_rows(rows)
    refs: dict[str, list[str]] = {}
    for name, fs in zip(names, files):
        if fs and not name:
            raise _user_error("Give a name to every row with reference images.")
        if name and not fs:
            raise _user_error(f"Add 1-5 reference images of '{name}' (screenshots or crops where it is alone).")
        if fs:
            refs.setdefault(name, []).extend(fs)
    try:
        if refs:
            options = vpos.AnalysisOptions(extractors=("shots", "characters"), oped=False, characters=refs)
        else:  # no references: find the recurring characters for a person to name
            options = vpos.AnalysisOptions(extractors=("shots", "characters"), oped=False, discover_characters=True)
        progress(0.0, desc="starting")
        result = vpos.analyze(video, options, progress=lambda stage, done, total: progress(
            (done / total) if total else 0.0, desc=_stage_description(stage, done, total)))
    except vpos.VposError as e:
        raise _user_error(str(e)) from None
    except Exception as e:  # noqa: BLE001
        log.exception("character search in %s failed", video)
        raise gr.Error(f"The character search failed unexpectedly ({type(e).__name__}: {e}).", print_exception=False) from None
    doc = result.to_dict()
    ch = doc["characters"] or {"names": [], "intervals": {}, "screen_time": {}, "references": {}}
    clusters = ch.get("clusters") or {}
    lines = ["| character | screen time | intervals | references |", "| --- | --- | --- | --- |"]
    for k in ch["names"]:
        lines.append(f"| {k} | {format_time(ch['screen_time'][k])} | {len(ch['intervals'][k])} | {ch['references'].get(k, 0)} |")
    if not refs:
        lines.insert(0, f"No references given: {len(ch['names'])} recurring characters found. Name a cluster below "
                        f"(it becomes that name's references) and press **Find characters** again.\n")
    out_dir = _new_output_dir()
    out = out_dir / f"{Path(video).stem}.characters.csv"
    out.write_text(intervals_csv(ch), encoding="utf-8")
    gallery = []
    for name, crop in representative_crops(video, clusters).items():
        p = out_dir / f"{name}.png"
        Image.fromarray(crop).save(p)
        gallery.append((str(p), f"{name} ({clusters[name]['samples']} s)"))
    # what each reference gave its name: the region's box drawn on the image, orange where it looks wrong
    taken = []
    regions = {k: [ReferenceRegion.from_dict(r) for r in v] for k, v in (ch.get("reference_regions") or {}).items()}
    for name, regs in regions.items():
        for i, region in enumerate(regs):
            try:
                with Image.open(region.file) as im:
                    img = np.asarray(im.convert("RGB"))
            except OSError:
                continue
            p = out_dir / f"reference-{len(taken) + 1}.png"
            Image.fromarray(reference_preview(img, region)).save(p)
            flag = " - check this one" if is_weak_region(region) else ""
            taken.append((str(p), f"{name} {i + 1}: {region.share:.0%} of the frame, objectness {region.objectness:.2f}{flag}"))
    notes = reference_notes(regions)
    if notes:
        lines.append("\n" + "\n".join(f"- {w}" for w in notes))
    choice = gr.update(choices=list(clusters), value=(list(clusters) or [None])[0])
    return ("\n".join(lines), characters_timeline_figure(doc, title=""), screen_time_figure(doc, title=""), str(out),
            gallery, clusters, choice, taken)


def _add_references(names: list[str], files: list[list[str]], name: str, images: list) -> tuple[list, list]:
    """Put images (RGB arrays) under `name`: its row, else the first empty row."""
    name = (name or "").strip()
    if not name:
        raise _user_error("Type the character's name first.")
    if not images:
        raise _user_error("No image to add.")
    row = names.index(name) if name in names else next((i for i, n in enumerate(names) if not n and not files[i]), None)
    if row is None:
        raise _user_error(f"All {CHARACTER_ROWS} reference rows are used: clear one to add '{name}'.")
    out_dir = _new_output_dir()
    paths = []
    for k, img in enumerate(images):
        p = out_dir / f"{re.sub(r'[^A-Za-z0-9_-]+', '_', name)[:40] or 'character'}-{k + 1}.png"
        Image.fromarray(img).save(p)
        paths.append(str(p))
    names[row] = name
    files[row] = (files[row] + paths)[-5:]  # the newest 5: at most 5 references are used
    return names, files


def name_cluster(video: str | None, clusters: dict | None, cluster: str | None, name: str, *rows):
    """A discovered cluster named by a person: its crops become that name's reference images."""
    from vpos.characters import cluster_reference_crops

    if not video or not clusters or cluster not in clusters:
        raise _user_error("Run Find characters without references first, then pick one of the clusters it shows.")
    try:
        crops = cluster_reference_crops(video, clusters[cluster])
    except vpos.VposError as e:
        raise _user_error(str(e)) from None
    names, files = _add_references(*_reference_rows(rows), name, crops)
    return (*names, *files)


def frame_preview(video: str | None, t: float | None):
    """The frame of the uploaded video at `t` seconds, to pick as a reference."""
    from vpos.characters import video_frame

    if not video:
        raise _user_error("Upload a video first.")
    try:
        return video_frame(video, float(t or 0.0))
    except vpos.VposError as e:
        raise _user_error(str(e)) from None


def add_frame_reference(video: str | None, t: float | None, name: str, *rows):
    """The frame at `t` seconds becomes a reference image of `name` (a frame in which it is alone)."""
    frame = frame_preview(video, t)
    names, files = _add_references(*_reference_rows(rows), name, [frame])
    return (*names, *files)


def _read_result(json_path: str | None) -> dict | None:
    if not json_path:
        return None
    try:
        return json.loads(Path(json_path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def motion_view(json_path: str | None):
    """The motion lane of the last result (None when it has no motion block)."""
    doc = _read_result(json_path)
    return motion_figure(doc, title="") if doc else None


ACTIONS_COLUMNS = ["start", "end", "top-5 actions"]


def actions_status(weights: str | None) -> str:
    """What the actions panel can do: run with the configured weights, or how to add them."""
    from vpos.tsm import HOW_TO_ADD, configured_weights

    src = configured_weights((weights or "").strip() or None)
    if not src:
        return HOW_TO_ADD[0].upper() + HOW_TO_ADD[1:] + " (or paste the checkpoint's path in the box below)."
    return f"Kinetics-400 TSM weights: `{src}` (8 frames per window, 1 centre crop 224)."


def find_actions(video: str | None, weights: str | None, progress: gr.Progress = gr.Progress()):
    """Top-5 Kinetics-400 actions per 8-second window with the configured TSM ResNet-50."""
    from vpos.tsm import actions, configured_weights

    if not video:
        raise _user_error("Upload a video first.")
    src = configured_weights((weights or "").strip() or None)
    if not src:
        return actions_status(None), pd.DataFrame(columns=ACTIONS_COLUMNS)
    progress(0.0, desc="actions (TSM ResNet-50)")
    try:
        out = actions(video, src)
    except vpos.VposError as e:
        raise _user_error(str(e)) from None
    return actions_status(src), pd.DataFrame(actions_rows(out), columns=ACTIONS_COLUMNS)


def scene_views(video: str | None, json_path: str | None, progress: gr.Progress = gr.Progress()):
    """The scene strip (a thumbnail per scene along the timeline, shots marked) and the scenes table
    of the result just written."""
    from vpos.scene_clips import scene_thumbnails

    doc = _read_result(json_path)
    if not doc or not doc.get("scenes") or not video:
        return scene_strip_figure(doc or {}), pd.DataFrame(columns=SCENE_COLUMNS)
    try:
        thumbs = scene_thumbnails(video, doc["scenes"], progress=lambda stage, done, total: progress(
            (done / total) if total else 0.0, desc=stage))
    except vpos.VposError as e:
        log.info("no scene thumbnails: %s", e)
        thumbs = None
    return scene_strip_figure(doc, thumbs), pd.DataFrame(scenes_table(doc), columns=SCENE_COLUMNS)


def scene_clips_zip(video: str | None, json_path: str | None, progress: gr.Progress = gr.Progress()) -> str:
    """Every scene of the last result as its own frame-exact clip, in one zip."""
    from vpos.scene_clips import save_scene_clips, zip_scene_clips

    doc = _read_result(json_path)
    if not video or not doc:
        raise _user_error("Analyze a video first.")
    if not doc.get("scenes"):
        raise _user_error("This result has no scenes (keep the shots extractor on).")
    stem = Path(str(doc.get("video", {}).get("path") or video)).stem
    out = _new_output_dir()
    try:
        paths = save_scene_clips(video, doc["scenes"], out / "clips", stem=stem, progress=lambda stage, done, total: progress(
            (done / total) if total else 0.0, desc=stage))
    except vpos.VposError as e:
        raise _user_error(str(e)) from None
    return str(zip_scene_clips(paths, out / f"{Path(paths[0]).name.rsplit('-scene-', 1)[0]}.scenes.zip"))


def _example_clips() -> list[list[str]]:
    if not EXAMPLES_DIR.is_dir():
        return []
    return [[str(p)] for p in sorted(EXAMPLES_DIR.iterdir()) if p.suffix.lower() in VIDEO_TYPES]


def build_demo() -> gr.Blocks:
    """The Gradio Blocks of the app, queued but not launched."""
    with gr.Blocks(title="vpos — episode structure", delete_cache=(3600, 6 * 3600)) as demo:
        gr.Markdown(INTRO)
        with gr.Tab("Episode", id="episode"):
            with gr.Row(equal_height=False):
                # Left: the video, the button and, right under it, what the analysis found.
                with gr.Column(scale=2):
                    video = gr.Video(label="Video", sources=["upload"], height=300)
                    analyze_button = gr.Button("Analyze", variant="primary")
                    summary = gr.Markdown(elem_id="summary")
                # Right: how to analyse, example clips, and the downloads of the result.
                with gr.Column(scale=1, min_width=300):
                    with gr.Accordion("Options", open=True):
                        extractors = gr.CheckboxGroup(
                            choices=list(ALL_EXTRACTORS), value=list(ALL_EXTRACTORS), label="Extractors",
                            info="visual: image embeddings; audio: loudness, speech, silence; text: on-screen text; shots: cuts; colour: per-frame colour (scenes); motion: camera motion and transitions",
                        )
                        sample_rate = gr.Slider(0.25, 4.0, value=1.0, step=0.25, label="Analysis rate (samples per second)",
                                                info="how often the visual, text and audio signals are sampled")
                        shot_threshold = gr.Slider(0.05, 0.95, value=0.45, step=0.05, label="Shot threshold",
                                                   info="transition probability above which a frame starts a new shot")
                        device = gr.Radio(["auto", "cpu", "cuda"], value="auto", label="Device",
                                          info="auto uses a CUDA GPU when there is one")
                        tagger = gr.Textbox(label="Tagger (your own: folder or Hub id)", value="", max_lines=1, elem_id="tagger",
                                            placeholder="empty: the shipped tagger (weights/tags)",
                                            info="a folder from `python -m vpos tags train LIST --out DIR`, or a Hugging Face "
                                                 "repo id owner/name[@revision]; its labels become the tag lanes")
                    examples = _example_clips()
                    if examples:
                        gr.Examples(examples=examples, inputs=[video], label="Example clips (generated by vpos.synth)")
                    json_file = gr.File(label="Result JSON", interactive=False, elem_id="result-json")
                    csv_file = gr.File(label="Per-second signals (CSV)", interactive=False, elem_id="result-csv")
                    exports_file = gr.File(label="Chapters & skip list (WebVTT, FFmetadata, Matroska XML, EDL)",
                                           interactive=False, elem_id="result-exports")
            segments = gr.Dataframe(headers=SEGMENT_COLUMNS, label="Opening, ending and other segments", interactive=False,
                                    wrap=False, elem_id="segments-table")
            timeline = gr.Plot(label="Timeline", elem_id="timeline")
            tags_plot = gr.Plot(label="Tags over time (probability per second, a lane per label; lines: shot cuts, red: scene boundaries)",
                                elem_id="tags-timeline")
            motion_plot = gr.Plot(label="Camera motion (per second: static, pan, tilt, zoom in/out, shake, credits scroll) "
                                        "and transitions (cut, dissolve, fade, wipe)", elem_id="motion-lane")
            shots = gr.Dataframe(headers=SHOT_COLUMNS, label="Shots", interactive=False, wrap=False, max_height=420,
                                 elem_id="shots-table")

            with gr.Group(elem_id="scenes-box"):
                scene_strip = gr.Plot(label="Scenes (a thumbnail per scene; ticks below: shot cuts; zoom to see short scenes)",
                                      elem_id="scene-strip")
                scenes = gr.Dataframe(headers=SCENE_COLUMNS, label="Scenes", interactive=False, wrap=False, max_height=320,
                                      elem_id="scenes-table")
                with gr.Row():
                    clips_button = gr.Button("Write scene clips (zip)", elem_id="scene-clips-button")
                    clips_file = gr.File(label="Scene clips (one MP4 per scene, cut on the exact frames)", interactive=False,
                                         elem_id="scene-clips")
            clips_button.click(scene_clips_zip, inputs=[video, json_file], outputs=[clips_file], api_name="scene_clips")

            with gr.Accordion("Characters: who is on screen when", open=False, elem_id="characters-panel"):
                gr.Markdown("Give each character a name and 1-5 images in which it is alone on screen (screenshots "
                            "or crops, any background), then press **Find characters**.")
                char_names, char_files = [], []
                for i in range(CHARACTER_ROWS):
                    with gr.Row():
                        char_names.append(gr.Textbox(label=f"Name {i + 1}", scale=1, max_lines=1, elem_id=f"character-name-{i + 1}"))
                        char_files.append(gr.File(label="Reference images", file_count="multiple", file_types=["image"], scale=3,
                                                  elem_id=f"character-refs-{i + 1}"))
                with gr.Row():  # a frame of the video as a reference: pick a time, name who is alone in it
                    frame_time = gr.Number(label="Frame at (s)", value=0.0, minimum=0.0, scale=1, elem_id="reference-frame-time")
                    frame_name = gr.Textbox(label="Who is alone in this frame", max_lines=1, scale=2)
                    frame_show = gr.Button("Show frame", scale=1)
                    frame_add = gr.Button("Add frame as reference", scale=1)
                frame_image = gr.Image(label="Frame", interactive=False, height=220, elem_id="reference-frame")
                find_button = gr.Button("Find characters")
                gr.Markdown("Without references, **Find characters** finds the recurring characters (clusters); name one "
                            "to turn its crops into references.")
                char_summary = gr.Markdown(elem_id="characters-summary")
                reference_gallery = gr.Gallery(label="What each reference gave its character (the region vpos took; orange: "
                                               "probably holds background, a crop is safer)", columns=5, height=220,
                                               elem_id="character-reference-regions")
                cluster_gallery = gr.Gallery(label="Discovered characters (one crop per cluster)", columns=6, height=220,
                                             elem_id="character-clusters")
                cluster_state = gr.State({})
                with gr.Row():
                    cluster_choice = gr.Dropdown(label="Cluster", choices=[], scale=1)
                    cluster_name = gr.Textbox(label="Its name", max_lines=1, scale=2)
                    cluster_button = gr.Button("Use as references", scale=1)
                char_timeline = gr.Plot(label="Character timeline", elem_id="characters-timeline")
                char_bars = gr.Plot(label="Screen time", elem_id="characters-screen-time")
                char_csv = gr.File(label="Character intervals (CSV)", interactive=False, elem_id="characters-csv")
            find_button.click(find_characters, inputs=[video, *char_names, *char_files],
                              outputs=[char_summary, char_timeline, char_bars, char_csv, cluster_gallery, cluster_state,
                                       cluster_choice, reference_gallery], api_name="characters")
            cluster_button.click(name_cluster, inputs=[video, cluster_state, cluster_choice, cluster_name, *char_names, *char_files],
                                 outputs=[*char_names, *char_files], api_name="name_cluster")
            frame_show.click(frame_preview, inputs=[video, frame_time], outputs=[frame_image], api_name="frame")
            frame_add.click(add_frame_reference, inputs=[video, frame_time, frame_name, *char_names, *char_files],
                            outputs=[*char_names, *char_files], api_name="add_frame_reference")

            outputs = [summary, timeline, shots, json_file, csv_file, segments, exports_file, tags_plot]
            analyze_button.click(lambda: (None, pd.DataFrame(columns=SCENE_COLUMNS), None, None),
                                 outputs=[scene_strip, scenes, clips_file, motion_plot],
                                 queue=False, show_progress="hidden", api_visibility="private")
            # Clear the previous video's results first, so a failed run never leaves them looking current.
            analysis = analyze_button.click(
                lambda: ("", None, pd.DataFrame(columns=SHOT_COLUMNS), None, None, pd.DataFrame(columns=SEGMENT_COLUMNS), None, None),
                outputs=outputs, queue=False, show_progress="hidden", api_visibility="private",
            ).then(
                analyze_video,
                inputs=[video, sample_rate, device, extractors, shot_threshold, tagger],
                outputs=outputs,
                api_name="analyze",
                # Progress under the Analyze button (visible without scrolling) and over the timeline's
                # box, not the same bar in all five outputs.
                show_progress_on=[summary, timeline],
            )
            analysis.success(scene_views, inputs=[video, json_file], outputs=[scene_strip, scenes], api_visibility="private")
            analysis.success(motion_view, inputs=[json_file], outputs=[motion_plot], api_visibility="private")
            with gr.Accordion("Actions (Kinetics-400, TSM ResNet-50)", open=False):
                tsm_weights = gr.Textbox(label="TSM Kinetics-400 checkpoint (.pth / .safetensors)", max_lines=1,
                                         value=os.environ.get("VPOS_TSM_WEIGHTS", ""), elem_id="tsm-weights")
                actions_md = gr.Markdown(actions_status(None), elem_id="actions-status")
                actions_button = gr.Button("Find actions", elem_id="actions-button")
                actions_table = gr.Dataframe(headers=ACTIONS_COLUMNS, label="Top-5 actions per window", interactive=False,
                                             wrap=True, elem_id="actions-table")
            tsm_weights.change(actions_status, inputs=[tsm_weights], outputs=[actions_md], queue=False, api_visibility="private")
            actions_button.click(find_actions, inputs=[video, tsm_weights], outputs=[actions_md, actions_table], api_name="actions")
        with gr.Tab("Season", id="season"):
            _season_tab()
    # One analysis at a time: each one already uses every core (or the GPU); others wait in line.
    demo.queue(default_concurrency_limit=1, max_size=16)
    return demo


def launch_options() -> dict:
    """`Blocks.launch` keyword arguments every launch of the app shares (tests use them too)."""
    return dict(
        max_file_size=os.environ.get("VPOS_MAX_UPLOAD", DEFAULT_MAX_UPLOAD),
        allowed_paths=[str(EXAMPLES_DIR)],
        theme=gr.themes.Soft(),
        css=CSS,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="vpos web app")
    parser.add_argument("--host", default=None, help="address to listen on (default: 127.0.0.1; 0.0.0.0 on a Space)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--share", action="store_true", help="also open a temporary public gradio.live link")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own start-up requests
    host = args.host or ("0.0.0.0" if os.environ.get("SPACE_ID") else "127.0.0.1")
    demo = build_demo()
    demo.launch(server_name=host, server_port=args.port, share=args.share, **launch_options())


if __name__ == "__main__":
    main()
