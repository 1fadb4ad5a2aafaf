"""The web app end to end: launched in-process on a free localhost port, called through
`gradio_client` exactly as a remote API user would (offline, a few seconds of generated video)."""

from __future__ import annotations

import importlib.util
import json
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _load_app():
    """app.py sits at the repository root (a Hugging Face Space needs it there), not in a package."""
    spec = importlib.util.spec_from_file_location("vpos_app", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["vpos_app"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def app_client(tmp_path_factory):
    pytest.importorskip("gradio")
    from gradio_client import Client

    tmp = tmp_path_factory.mktemp("app")
    mp = pytest.MonkeyPatch()
    # Keep the app's feature cache and Gradio's upload cache inside the test's temp folder.
    mp.setenv("VPOS_CACHE_DIR", str(tmp / "features"))
    mp.setenv("GRADIO_TEMP_DIR", str(tmp / "gradio"))
    app = _load_app()
    demo = app.build_demo()
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **app.launch_options())
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=str(tmp / "downloads"))
    finally:
        demo.close()
        mp.undo()


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory):
    from vpos.synth import demo_clip

    path = tmp_path_factory.mktemp("appclip") / "tiny episode.mp4"
    truth = demo_clip(path, seconds=8, size=(160, 90), fps=25)
    return path, truth


def _analyze(client, path, extractors=("audio", "shots")):
    from gradio_client import handle_file

    return client.predict(
        video=handle_file(str(path)), sample_rate=1.0, device="cpu", extractors=list(extractors), shot_threshold=0.5,
        api_name="/analyze",
    )


def test_analyze_through_the_api(app_client, small_clip):
    path, truth = small_clip
    summary, plot, shots, json_file, csv_file, segments, exports_zip, tags_plot = _analyze(app_client, path)
    assert tags_plot is None  # audio + shots only: no visual features, so no tags (a warning says so)

    # The downloads are named after the video.
    assert Path(json_file).name == "tiny episode.vpos.json"
    assert Path(csv_file).name == "tiny episode.per_second.csv"
    doc = json.loads(Path(json_file).read_text(encoding="utf-8"))
    assert doc["video"]["path"] == "tiny episode.mp4"  # not the server's temp path
    assert abs(doc["video"]["duration"] - 8.0) < 0.2
    assert doc["options"]["extractors"] == ["audio", "shots"]
    assert len(doc["shots"]) >= 2
    found = [s["start_frame"] for s in doc["shots"][1:]]
    assert sum(any(abs(f - c) <= 2 for f in found) for c in truth.cuts) >= len(truth.cuts) - 1

    header = Path(csv_file).read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[0] == "t" and "loudness_db" in header and "shot_change" in header

    assert "shots" in summary and "real-time factor" in summary
    assert len(shots["data"]) == len(doc["shots"])
    assert shots["headers"][0] == "shot"
    assert plot is not None
    import zipfile

    with zipfile.ZipFile(exports_zip) as zf:
        names = set(zf.namelist())
        assert names == {f"tiny episode.{s}" for s in ("chapters.vtt", "ffmetadata.txt", "chapters.xml", "edl")}
        assert zf.read("tiny episode.chapters.vtt").decode().startswith("WEBVTT")
    assert segments["headers"][0] == "segment"


def test_bad_file_gives_a_message_not_a_crash(app_client, tmp_path):
    from gradio_client.exceptions import AppError

    fake = tmp_path / "not a video.mp4"
    fake.write_text("this is a text file wearing a video's name\n" * 50)
    with pytest.raises(AppError) as err:
        _analyze(app_client, fake)
    message = str(err.value)
    assert "Traceback" not in message
    assert "not a video" in message.lower() or "media" in message.lower() or "ffmpeg" in message.lower(), message


def test_app_stays_up_after_an_error(app_client, small_clip):
    # Same clip again: the features now come from the cache, so this is quick; the app still works.
    path, _ = small_clip
    summary, _, _, json_file, *_ = _analyze(app_client, path)
    assert json.loads(Path(json_file).read_text(encoding="utf-8"))["shots"]


# ------------------------------------------------------------------ figures from result documents


def _full_document(seconds: int = 1440, n_cuts: int = 300) -> dict:
    """A 24-minute result carrying every field later stages add (opening/ending, segments, scenes)."""
    fps = 24.0
    step = seconds * fps / (n_cuts + 1)
    starts = [int(k * step) for k in range(n_cuts + 1)]
    ends = starts[1:] + [int(seconds * fps)]
    shots = [dict(index=i, start_frame=a, end_frame=b - 1, start_time=a / fps, end_time=b / fps) for i, (a, b) in enumerate(zip(starts, ends))]
    t = [float(k) for k in range(seconds)]
    per_second = dict(
        t=t, loudness_db=[-200.0 if k % 100 < 5 else -20.0 for k in range(seconds)], silence=[int(k % 100 < 5) for k in range(seconds)],
        speech_cue=[0.5] * seconds, text_area=[0.01] * seconds, visual_change=[0.1] * seconds, shot_change=[0.0] * seconds,
        op_prob=[1.0 if 60 <= k < 150 else 0.0 for k in range(seconds)], ed_prob=[None] * (seconds - 90) + [0.9] * 90,
    )
    return dict(
        video=dict(path="/srv/uploads/ep01.mkv", duration=float(seconds), fps=fps, frame_count=int(seconds * fps), width=1920, height=1080, has_audio=True),
        per_second=per_second, shots=shots,
        opening=dict(label="opening", start=60.0, end=150.0, confidence=0.93, evidence={}),
        ending=dict(label="ending", start=1350.0, end=1440.0, confidence=0.88, evidence={}),
        segments=[dict(label="part A", start=150.0, end=700.0, confidence=0.7), dict(label="part B", start=710.0, end=1350.0, confidence=0.7)],
        scenes=[dict(index=k, start=k * 48.0, end=(k + 1) * 48.0) for k in range(30)],
        characters=None, tags=None, timings=dict(total=120.0), warnings=["something to know"], options=dict(extractors=["audio", "shots"], device="cpu"),
    )


def test_timeline_draws_every_present_field_cheaply():
    from vpos.plots import timeline_figure

    doc = _full_document()
    fig = timeline_figure(doc)
    # Cheap to draw and to send to the browser: a bounded number of traces, cuts and segments drawn
    # as a few traces rather than one layout shape each (hundreds of shapes make plotly crawl).
    assert len(fig.data) <= 30 and len(fig.layout.shapes or ()) <= 20, (len(fig.data), len(fig.layout.shapes or ()))
    titles = [a.text for a in fig.layout.annotations]
    for row in ("structure", "opening / ending probability", "loudness (dBFS)", "speech cue", "on-screen text (area)", "visual change", "shot change / cuts"):
        assert row in titles
    # Hundreds of cuts are one trace (None-separated), not hundreds of shapes.
    cut_traces = [tr for tr in fig.data if (tr.name or "").startswith("cuts")]
    assert len(cut_traces) == 1 and cut_traces[0].x.count(None) == 300
    assert not fig.layout.shapes
    assert len(fig.data) < 30
    assert "ep01.mkv" in fig.layout.title.text
    fig.to_json()  # serialisable, as Gradio sends it


def test_timeline_skips_absent_fields():
    from vpos.plots import timeline_figure

    doc = _full_document(seconds=60, n_cuts=5)
    for key in ("opening", "ending", "segments", "scenes"):
        doc[key] = None
    for key in ("op_prob", "ed_prob", "text_area", "visual_change"):
        doc["per_second"].pop(key)
    titles = [a.text for a in timeline_figure(doc).layout.annotations]
    assert titles == ["loudness (dBFS)", "speech cue", "shot change / cuts"]
    # Nothing at all to draw still gives a figure, not an exception.
    empty = dict(video=dict(duration=0.0), per_second={}, shots=[], opening=None, segments=None)
    assert timeline_figure(empty) is not None


def test_shots_table_and_summary():
    from vpos.plots import SHOT_COLUMNS, format_time, shots_table, summary_markdown

    doc = _full_document(seconds=3700, n_cuts=2)
    rows = shots_table(doc)
    assert list(rows[0]) == SHOT_COLUMNS and len(rows) == 3
    assert rows[1]["start"] == format_time(doc["shots"][1]["start_time"], millis=True)
    assert format_time(62.5, millis=True) == "01:02.500" and format_time(3725.0) == "1:02:05"
    summary = summary_markdown(doc)
    assert "ep01.mkv" in summary and "real-time factor" in summary and "something to know" in summary
    assert "Video tags" not in summary  # no tags block: no line about them
    doc["tags"] = {"vocabulary": ["speech", "music"], "video": [{"label": "music", "score": 0.85}, {"label": "speech", "score": 0.1}]}
    assert "**Video tags** (share of seconds): music 85%, speech 10%" in summary_markdown(doc)


def _user_tagger(tmp_path) -> Path:
    """A tagger folder as `python -m vpos tags train --out DIR` writes it: the shipped one with a
    label renamed, so a result shows whose labels it carries."""
    import shutil

    folder = tmp_path / "my tagger"
    shutil.copytree(ROOT / "weights" / "tags", folder)
    config = json.loads((folder / "config.json").read_text())
    config["labels"] = ["my_music" if lab == "music" else lab for lab in config["labels"]]
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_check_tagger(tmp_path):
    pytest.importorskip("gradio")
    import gradio as gr

    app = sys.modules.get("vpos_app") or _load_app()
    assert app.check_tagger("") is None and app.check_tagger(None) is None and app.check_tagger("  ") is None
    folder = _user_tagger(tmp_path)
    assert app.check_tagger(f" {folder} ") == str(folder)
    with pytest.raises(gr.Error, match="tagger could not be loaded"):
        app.check_tagger(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(gr.Error, match="no config.json"):
        app.check_tagger(str(tmp_path / "empty"))


def test_analyze_with_the_users_tagger(app_client, small_clip, tmp_path):
    """The Tagger field of the app reaches the pipeline: the result's lanes are the user's labels;
    a wrong path is said before any analysis."""
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    path, _ = small_clip
    folder = _user_tagger(tmp_path)
    out = app_client.predict(video=handle_file(str(path)), sample_rate=1.0, device="cpu", extractors=["visual", "audio", "shots"],
                             shot_threshold=0.5, tagger=str(folder), api_name="/analyze")
    summary, json_file, tags_plot = out[0], out[3], out[7]
    doc = json.loads(Path(json_file).read_text(encoding="utf-8"))
    assert doc["options"]["tagger"] == str(folder)
    assert "my_music" in doc["tags"]["vocabulary"] and "music" not in doc["tags"]["vocabulary"]
    assert all(len(v) == len(doc["per_second"]["t"]) for v in doc["tags"]["per_second"].values())
    assert tags_plot is not None and "Video tags" in summary
    with pytest.raises(AppError, match="tagger could not be loaded"):
        app_client.predict(video=handle_file(str(path)), sample_rate=1.0, device="cpu", extractors=["visual", "audio", "shots"],
                           shot_threshold=0.5, tagger=str(tmp_path / "nope"), api_name="/analyze")


# ------------------------------------------------------------------------------------- season tab


def test_season_through_the_api(app_client, tmp_path):
    """Episodes upload in any order and come back in episode order, each with its result and
    player exports in one zip, plus the season table."""
    import zipfile

    from gradio_client import handle_file

    from vpos.synth import demo_clip

    paths = []
    for name, seed_seconds in (("Show - 10.mp4", 7), ("Show - 2.mp4", 6)):
        p = tmp_path / name
        demo_clip(p, seconds=seed_seconds, size=(160, 90), fps=25)
        paths.append(p)
    summary, plot, table, zip_path = app_client.predict(
        files=[handle_file(str(p)) for p in paths], sample_rate=1.0, device="cpu", api_name="/analyze_season")
    assert "2 episodes" in summary
    assert [row[0] for row in table["data"]] == ["Show - 2.mp4", "Show - 10.mp4"]  # episode order, not text order
    assert [row[1] for row in table["data"]] == ["00:06", "00:07"]
    assert plot is not None
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
        assert "season.csv" in names
        for stem in ("Show - 2", "Show - 10"):
            assert f"{stem}/{stem}.vpos.json" in names and f"{stem}/{stem}.chapters.vtt" in names
            doc = json.loads(zf.read(f"{stem}/{stem}.vpos.json"))
            assert doc["video"]["path"] == f"{stem}.mp4"
            assert len(doc["per_second"]["op_prob"]) == len(doc["per_second"]["t"])
            assert "repetition" in doc["per_second"]  # season matching ran
        assert zf.read("season.csv").decode().splitlines()[0].startswith("episode,duration,opening")


def test_season_rejects_files_that_are_not_videos(app_client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    notes = tmp_path / "notes.txt"
    notes.write_text("episode list\n")
    with pytest.raises(AppError) as err:  # refused at upload by its type
        app_client.predict(files=[handle_file(str(notes))], sample_rate=1.0, device="cpu", api_name="/analyze_season")
    assert "file type" in str(err.value).lower() and "Traceback" not in str(err.value)
    fake = tmp_path / "broken.mp4"
    fake.write_text("not a video at all\n" * 40)
    with pytest.raises(AppError) as err:  # a video's name, not a video's content: named in the message
        app_client.predict(files=[handle_file(str(fake))], sample_rate=1.0, device="cpu", api_name="/analyze_season")
    assert "broken.mp4" in str(err.value) and "Traceback" not in str(err.value)


def test_season_figure_has_a_lane_per_episode():
    from vpos.plots import SEASON_COLUMNS, season_figure, season_table

    a, b = _full_document(seconds=600, n_cuts=10), _full_document(seconds=480, n_cuts=10)
    b["video"]["path"] = "ep02.mkv"
    b["opening"] = None
    b["ending"]["evidence"] = {"repetition": 0.97}
    fig = season_figure([a, b])
    assert list(fig.layout.yaxis.ticktext) == ["ep01.mkv", "ep02.mkv"]
    assert fig.layout.xaxis.range[1] == 600
    bands = [tr for tr in fig.data if tr.name in ("opening", "ending")]
    assert len(bands) == 3  # both segments of ep01, only the ending of ep02
    rows = season_table([a, b])
    assert len(rows[0]) == len(SEASON_COLUMNS)
    assert rows[1][2] == "none" and rows[1][3] is None
    assert rows[1][-1] == "– / 97%"
    fig.to_json()
