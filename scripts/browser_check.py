"""Drive the vpos app in a real browser (Chromium through Playwright) the way a person would:
upload a clip, press Analyze, watch the progress, wait for the timeline, the shots table and the
two downloads, the scene strip, scenes table and scene-clips zip; the tag timeline, video tags,
motion lane, actions panel (no Kinetics weights) and a person's own tagger folder; then upload a file that is not a
video and expect a readable error; then the Season tab with two episodes uploaded at once; then the
Characters panel on a short corpus episode (discover, name a cluster, add a frame as a reference,
find characters: timeline, screen-time chart, CSV). Screenshots of
every step go to --out; the exit status is non-zero when anything is missing.

    python scripts/browser_check.py --out /tmp/shots                    # launches the app itself
    python scripts/browser_check.py --url http://127.0.0.1:7860 --out /tmp/shots

Playwright's own browser download does not work offline, so the system Chromium is used
(--chromium, default /usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class Check:
    """Collects pass/fail lines so one run reports every problem, not only the first."""

    def __init__(self):
        self.failures: list[str] = []

    def __call__(self, ok: bool, what: str) -> bool:
        print(f"[{'ok' if ok else 'FAIL'}] {what}", flush=True)
        if not ok:
            self.failures.append(what)
        return ok


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_app() -> tuple[str, object]:
    """Start app.py's Blocks in this process on a free port; returns (url, demo)."""
    spec = importlib.util.spec_from_file_location("vpos_app", ROOT / "app.py")
    app = importlib.util.module_from_spec(spec)
    sys.modules["vpos_app"] = app
    spec.loader.exec_module(app)
    demo = app.build_demo()
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **app.launch_options())
    return f"http://127.0.0.1:{port}/", demo


def _progress_text(page) -> str:
    return " ".join(page.locator(".progress-level, .progress-text").all_inner_texts())


def _shot(page, out: Path, name: str, full_page: bool = True) -> None:
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    print(f"       screenshot {path}", flush=True)


def _select_extractors(page, wanted: list[str]) -> None:
    """Tick exactly the wanted extractors in the Extractors checkbox group."""
    group = page.locator(".block", has=page.get_by_text("Extractors", exact=True)).first
    for box in group.locator("input[type=checkbox]").all():
        label = box.evaluate("el => el.closest('label').innerText").strip()
        if box.is_checked() != (label in wanted):
            box.click()


def _upload(page, path: Path) -> None:
    # The video component's hidden file input; the first one on the page belongs to it.
    page.locator("input[type=file]").first.set_input_files(str(path))


def _clear_video(page) -> None:
    """Remove the current video (the component's clear button) so a new file can be uploaded."""
    clear = page.get_by_role("button", name="Clear")
    if clear.count():
        clear.first.click()
        page.wait_for_timeout(300)


def run_analysis(page, check: Check, out: Path, clip: Path, timeout_s: float) -> None:
    _upload(page, clip)
    check(_wait(lambda: page.locator("video").count() > 0, 30), "the uploaded clip shows in the video player")
    _shot(page, out, "02-uploaded")

    page.get_by_role("button", name="Analyze", exact=True).click()
    t0 = time.time()
    # Gradio draws a progress bar with our stage text in the output components while it runs.
    saw_progress = _wait(lambda: page.locator(".progress-text, .progress-level, .eta-bar").count() > 0, 20, step=0.1)
    check(saw_progress, "progress is shown while analysing")
    stage_seen = _wait(lambda: any(stage in _progress_text(page) for stage in ("starting", "probe", "hash", "load models", "extract")),
                       15, step=0.1)
    check(stage_seen, "the progress names the analysis stage")
    _shot(page, out, "03-progress")
    # What a person sees without scrolling: the progress must be in it.
    _shot(page, out, "03a-progress-viewport", full_page=False)
    check(page.locator("#summary .progress-text, #summary .progress-level, #summary .eta-bar").count() > 0,
          "the progress shows right under the Analyze button")
    if _wait(lambda: "extract" in _progress_text(page), 30, step=0.2):
        _shot(page, out, "03b-progress-extract")

    plot = page.locator("#timeline .js-plotly-plot")
    done = _wait(lambda: plot.count() > 0 and page.locator(".js-plotly-plot .scatterlayer .trace").count() > 0, timeout_s)
    check(done, f"the timeline plot appears ({time.time() - t0:.0f} s after Analyze)")
    errors = page.locator(".toast-body.error, .toast-wrap .error").all_inner_texts()
    check(not errors, f"no error message ({errors})")
    # The plot is drawn; give the table and file components a moment to render too.
    page.wait_for_timeout(1500)
    _wait(lambda: page.locator(".progress-text, .eta-bar").count() == 0, 10)

    json_link = page.locator("#result-json a[download$='.vpos.json']")
    csv_link = page.locator("#result-csv a[download$='.per_second.csv']")
    check(_wait(lambda: json_link.count() > 0, 15), "the result JSON download is offered")
    check(_wait(lambda: csv_link.count() > 0, 15), "the per-second CSV download is offered")
    shots_in_json = None
    if json_link.count():
        href = json_link.first.get_attribute("href")
        resp = page.request.get(href if href.startswith("http") else page.url.rstrip("/") + "/" + href.lstrip("/"))
        try:
            doc = json.loads(resp.body())
            shots_in_json = len(doc.get("shots") or [])
            check(len(doc.get("shots") or []) >= 2, f"the downloaded JSON parses and lists shots ({len(doc.get('shots') or [])})")
        except ValueError as e:
            check(False, f"the downloaded JSON parses ({e})")

    summary = page.locator("#summary", has_text="real-time factor")
    check(summary.count() > 0, "the summary shows duration, shots and real-time factor")
    # Gradio's table is a virtualised grid: its aria-rowcount (header included) counts every row.
    grid = page.locator("#shots-table [role=grid]")

    def rows() -> int:
        return int(grid.first.get_attribute("aria-rowcount") or 1) - 1 if grid.count() else 0

    check(_wait(lambda: rows() >= 2 and (shots_in_json is None or rows() == shots_in_json), 10),
          f"the shots table lists every shot ({rows()} rows, {shots_in_json} in the JSON)")
    # SVG text has no innerText; textContent reads the row titles.
    titles = " ".join(page.locator(".js-plotly-plot .gtitle, .js-plotly-plot .annotation-text").all_text_contents())
    check("shot change" in titles and "loudness" in titles, f"the timeline has its rows ({titles[:120]}...)")

    _shot(page, out, "04-result")
    if plot.count():
        plot.first.screenshot(path=str(out / "05-timeline.png"))
        # Hover a point of the timeline: the tooltip reads mm:ss.
        box = plot.first.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.35)
        page.wait_for_timeout(500)
        plot.first.screenshot(path=str(out / "06-timeline-hover.png"))
    table = page.locator("#shots-table").first
    if table.count():
        table.screenshot(path=str(out / "07-shots-table.png"))
    run_scenes(page, check, out, timeout_s)


def run_scenes(page, check: Check, out: Path, timeout_s: float) -> None:
    """The scene strip (thumbnails along the timeline), the scenes table, and the scene-clips zip."""
    strip = page.locator("#scene-strip .js-plotly-plot")
    check(_wait(lambda: strip.count() > 0 and page.locator("#scene-strip .layer-above image, #scene-strip image").count() > 0, 60),
          f"the scene strip shows a thumbnail per scene ({page.locator('#scene-strip image').count()} images)")
    grid = page.locator("#scenes-table [role=grid]")
    n_scenes = lambda: (int(grid.first.get_attribute("aria-rowcount") or 1) - 1) if grid.count() else 0  # noqa: E731
    check(_wait(lambda: n_scenes() >= 1, 30), f"the scenes table lists the scenes ({n_scenes()} rows)")
    page.locator("#scenes-box").first.scroll_into_view_if_needed()
    _shot(page, out, "07a-scenes", full_page=False)
    page.get_by_role("button", name="Write scene clips (zip)").click()
    zip_link = page.locator("#scene-clips a[download$='.zip']")
    check(_wait(lambda: zip_link.count() > 0, timeout_s), "the scene clips zip download is offered")
    if zip_link.count():
        href = zip_link.first.get_attribute("href")
        body = page.request.get(href if href.startswith("http") else page.url.rstrip("/") + "/" + href.lstrip("/")).body()
        import io
        import zipfile

        try:
            names = zipfile.ZipFile(io.BytesIO(body)).namelist()
        except zipfile.BadZipFile:
            names = []
        check(len(names) == n_scenes() and all(n.endswith(".mp4") for n in names),
              f"the zip holds one mp4 per scene ({len(names)} files, {n_scenes()} scenes)")
    _shot(page, out, "07b-scene-clips", full_page=False)


def _fetch(page, href: str):
    return page.request.get(href if href.startswith("http") else page.url.rstrip("/") + "/" + href.lstrip("/"))


def _result_json(page) -> tuple[str | None, dict | None]:
    """(href, document) of the result JSON offered for download now."""
    link = page.locator("#result-json a[download$='.vpos.json']")
    if not link.count():
        return None, None
    href = link.first.get_attribute("href")
    try:
        return href, json.loads(_fetch(page, href).body())
    except ValueError:
        return href, None


def _aligned_block(check: Check, doc: dict, key: str, labels: list[str]) -> None:
    """The JSON's `key` block: vocabulary, a per-second list per label as long as per_second.t,
    scene and video lists."""
    block = doc.get(key) or {}
    n = len((doc.get("per_second") or {}).get("t") or [])
    ps = block.get("per_second") or {}
    lengths = {lab: len(ps.get(lab) or []) for lab in labels}
    check(bool(labels) and n > 0 and set(labels) <= set(ps) and all(v == n for v in lengths.values()),
          f"the JSON's {key} block has a per-second list per label, aligned with per_second.t ({n} s; {lengths})")
    check(isinstance(block.get("scenes"), list) and len(block["scenes"]) == len(doc.get("scenes") or [])
          and isinstance(block.get("video"), list),
          f"the JSON's {key} block has scene-level ({len(block.get('scenes') or [])}) and video-level "
          f"({[d.get('label') for d in block.get('video') or []]}) tags")


def _user_tagger(tmp: Path) -> Path:
    """A tagger folder as `python -m vpos tags train --out DIR` writes it (config.json,
    model.safetensors, README.md): the shipped weights with one label renamed, so the lanes show
    whether the app read this folder or its own."""
    import shutil

    folder = tmp / "my-tagger"
    shutil.copytree(ROOT / "weights" / "tags", folder)
    config = json.loads((folder / "config.json").read_text())
    config["labels"] = ["my_still" if lab == "still" else lab for lab in config["labels"]]
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    return folder


def run_tags(page, check: Check, out: Path, tmp: Path, timeout_s: float) -> None:
    """The tags and motion of the analysed clip as a person sees them: the tag timeline (a lane
    per label, cut and scene lines, mm:ss time), the video-level tags, the motion lane, the actions
    panel without Kinetics weights, the tags/motion blocks of the downloaded JSON; then the same
    clip with a person's own tagger folder, and a tagger path that does not exist."""
    _, doc = _result_json(page)
    check(doc is not None, "the downloaded JSON parses")
    doc = doc or {}
    tags = doc.get("tags") or {}
    motion = doc.get("motion") or {}
    vocabulary = list(tags.get("vocabulary") or [])
    _aligned_block(check, doc, "tags", vocabulary)
    _aligned_block(check, doc, "motion", list(motion.get("camera_labels") or []) + list(motion.get("transition_labels") or []))

    plot = page.locator("#tags-timeline .js-plotly-plot")
    check(_wait(lambda: plot.count() > 0 and page.locator("#tags-timeline .heatmaplayer image, #tags-timeline .hm").count() > 0, 30),
          "the tag timeline is drawn")
    lanes = page.locator("#tags-timeline .ytick text").all_text_contents()
    check(bool(vocabulary) and all(lab in lanes for lab in vocabulary), f"the tag timeline has a lane per label ({lanes})")
    cuts = [s["start_time"] for s in (doc.get("shots") or [])[1:]]
    scene_starts = [s["start_time"] for s in (doc.get("scenes") or []) if s.get("start_time")]
    # Cuts and scene boundaries are one line trace each (None-separated: a path per line drawn).
    drawn = [sum((e.get_attribute("d") or "").count("M") for e in trace.locator(".js-line").all())
             for trace in page.locator("#tags-timeline .scatterlayer .trace").all()]
    check(len(cuts) > 0 and len(scene_starts) > 0 and sorted(drawn) == sorted([len(cuts), len(scene_starts)]),
          f"the tag timeline draws a line per cut and per scene boundary ({drawn} lines; {len(cuts)} cuts, {len(scene_starts)} scene starts)")
    ticks = page.locator("#tags-timeline .xtick text").all_text_contents()
    check(len(ticks) >= 2 and all(":" in x for x in ticks), f"the tag timeline's time axis reads mm:ss ({ticks})")
    legend = " ".join(page.locator("#tags-timeline .legendtext").all_text_contents())
    check(f"shot cuts ({len(cuts)})" in legend and f"scene boundaries ({len(scene_starts)})" in legend,
          f"the tag timeline's legend names its lines ({legend})")

    video_tags = [d["label"] for d in tags.get("video") or []]
    summary = page.locator("#summary").first.inner_text()
    check(bool(video_tags) and "Video tags" in summary and all(lab in summary for lab in video_tags),
          f"the video-level tags are listed in the summary ({video_tags})")
    page.locator("#tags-timeline").first.scroll_into_view_if_needed()
    _shot(page, out, "15-tags-timeline", full_page=False)
    if plot.count():
        plot.first.screenshot(path=str(out / "15a-tags-plot.png"))

    motion_plot = page.locator("#motion-lane .js-plotly-plot")
    check(_wait(lambda: motion_plot.count() > 0 and page.locator("#motion-lane .trace").count() > 0, 30), "the motion lane is drawn")
    motion_legend = " ".join(page.locator("#motion-lane .legendtext").all_text_contents())
    shown = [lab for lab in motion.get("camera_labels") or [] if lab in motion_legend]
    check(bool(shown), f"the motion lane's legend names the camera motions ({motion_legend})")
    motion_ticks = page.locator("#motion-lane .xaxislayer-above text").all_text_contents()
    check(bool(motion_ticks) and all(":" in x for x in motion_ticks if x), f"the motion lane's time axis reads mm:ss ({motion_ticks})")
    if motion_plot.count():
        motion_plot.first.scroll_into_view_if_needed()
        motion_plot.first.screenshot(path=str(out / "16-motion-lane.png"))

    # The actions panel: no Kinetics weights here, so it says so and how to add them, and shows none.
    page.get_by_text("Actions (Kinetics-400, TSM ResNet-50)").first.click()
    status = page.locator("#actions-status")
    check(_wait(lambda: status.first.is_visible(), 10), "the actions panel opens")
    text = status.first.inner_text()
    check("no tsm kinetics-400 weights are configured" in text.lower() and "VPOS_TSM_WEIGHTS" in text and ".pth" in text,
          f"the actions panel says plainly that no Kinetics weights are configured and how to add them ({text[:100]!r}...)")
    page.locator("#actions-button").first.click()
    page.wait_for_timeout(2500)
    grid = page.locator("#actions-table [role=grid]")
    rows = (int(grid.first.get_attribute("aria-rowcount") or 1) - 1) if grid.count() else 0
    check(rows == 0 and "no tsm kinetics-400 weights" in status.first.inner_text().lower() and doc.get("actions") is None,
          f"Find actions without weights shows no actions ({rows} rows; JSON actions: {doc.get('actions')!r})")
    status.first.scroll_into_view_if_needed()
    _shot(page, out, "17-actions-no-weights", full_page=False)
    # A file that is no checkpoint pasted as the weights: a readable refusal, still no actions.
    fake = tmp / "TSM_kinetics_RGB_resnet50.pth"
    fake.write_text("not a checkpoint\n")
    weights_box = page.locator("#tsm-weights textarea, #tsm-weights input").first
    weights_box.fill(str(fake))
    page.locator("#actions-button").first.click()
    toast = page.locator(".toast-body")
    check(_wait(lambda: "do not load" in " ".join(toast.all_inner_texts()), 60),
          f"weights that are no checkpoint are refused in plain words ({' '.join(toast.all_inner_texts())[:140]!r})")
    rows = (int(grid.first.get_attribute("aria-rowcount") or 1) - 1) if grid.count() else 0
    check(rows == 0, f"...and no actions are shown ({rows} rows)")
    _shot(page, out, "17a-actions-bad-weights", full_page=False)
    weights_box.fill("")
    check(_wait(lambda: "no tsm kinetics-400 weights" in status.first.inner_text().lower(), 10),
          "emptying the weights box says again that none are configured")
    for close in page.locator(".toast-close").all():
        try:
            close.click()
        except Exception:  # noqa: BLE001 - the toast may have gone already
            pass

    # A person's own tagger: its folder in the Options, Analyze again; its labels become the lanes.
    folder = _user_tagger(tmp)
    old_href, _ = _result_json(page)
    box = page.locator("#tagger textarea, #tagger input").first
    box.fill(str(folder))
    page.get_by_role("button", name="Analyze", exact=True).click()
    check(_wait(lambda: (_result_json(page)[0] or old_href) != old_href, timeout_s), "Analyze with the user's tagger gives a new result")
    _, mine = _result_json(page)
    mine = mine or {}
    check((mine.get("options") or {}).get("tagger") == str(folder) and "my_still" in ((mine.get("tags") or {}).get("vocabulary") or []),
          f"the result was tagged by the user's tagger ({(mine.get('options') or {}).get('tagger')}; "
          f"{(mine.get('tags') or {}).get('vocabulary')})")
    check(_wait(lambda: "my_still" in page.locator("#tags-timeline .ytick text").all_text_contents(), 30),
          "the tag timeline shows the user's tagger's labels")
    page.locator("#tags-timeline").first.scroll_into_view_if_needed()
    _shot(page, out, "18-user-tagger", full_page=False)

    box.fill(str(tmp / "no-such-tagger"))
    page.get_by_role("button", name="Analyze", exact=True).click()
    toast = page.locator(".toast-body")
    check(_wait(lambda: "tagger could not be loaded" in " ".join(toast.all_inner_texts()), 60),
          f"a tagger path that does not exist gives a readable error ({' '.join(toast.all_inner_texts())[:160]!r})")
    _shot(page, out, "19-bad-tagger", full_page=False)
    box.fill("")
    for close in page.locator(".toast-close").all():
        try:
            close.click()
        except Exception:  # noqa: BLE001 - the toast may have gone already
            pass


def character_clip(tmp: Path) -> tuple[Path, dict]:
    """A short corpus episode with known characters (the builder's small preset, procedural
    material: seconds to render) and its truth."""
    import subprocess

    corpus = tmp / "corpus"
    subprocess.run([sys.executable, "-m", "vpos", "corpus", "build", "--out", str(corpus), "--preset", "small",
                    "--shows", "1", "--episodes", "1", "--material", "procedural"], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    truth_path = sorted(corpus.glob("*/*.truth.json"))[0]
    truth = json.loads(truth_path.read_text())
    video = next(p for p in truth_path.parent.iterdir() if p.name.startswith(truth["id"] + ".") and not p.name.endswith(".json"))
    return video, truth


def solo_second(truth: dict, name: str) -> float | None:
    """The middle of the longest stretch in which `name` is alone on screen, by the truth."""
    import numpy as np

    n = int(float(truth["duration"]))
    on = {c: np.zeros(n, bool) for c in truth["characters"]}
    for c, ivs in truth["characters"].items():
        for a, b in ivs:
            on[c][int(np.ceil(a)):int(b)] = True
    alone = on[name] & ~np.any([v for c, v in on.items() if c != name] or [np.zeros(n, bool)], axis=0)
    best, i = None, 0
    while i < n:
        if alone[i]:
            j = i
            while j < n and alone[j]:
                j += 1
            if best is None or j - i > best[1] - best[0]:
                best = (i, j)
            i = j
        else:
            i += 1
    return None if best is None else (best[0] + best[1]) / 2.0


def run_characters(page, check: Check, out: Path, video: Path, truth: dict, timeout_s: float) -> None:
    """The Characters panel as a person uses it: discover the recurring characters of a new video,
    name one cluster, pick a frame of the video and name who is alone in it, then find characters
    with those references: timeline, screen-time chart and the intervals CSV."""
    page.get_by_role("tab", name="Episode").click()
    _clear_video(page)
    _upload(page, video)
    check(_wait(lambda: page.locator("video").count() > 0, 30), "the character clip shows in the video player")
    page.locator("#characters-panel").get_by_text("Characters: who is on screen when").first.click()
    page.wait_for_timeout(500)

    page.get_by_role("button", name="Find characters").click()
    gallery = page.locator("#character-clusters img")
    check(_wait(lambda: gallery.count() > 0, timeout_s), f"without references, discovered clusters show one crop each ({gallery.count()})")
    summary = page.locator("#characters-summary")
    check("recurring characters found" in summary.inner_text(), f"the summary says what was found ({summary.inner_text()[:80]!r})")
    _shot(page, out, "12-characters-discovered", full_page=False)

    first = sorted(truth["characters"])[0]
    page.get_by_label("Its name").fill(first)
    page.get_by_role("button", name="Use as references").click()
    name1 = page.locator("#character-name-1 textarea, #character-name-1 input").first
    check(_wait(lambda: name1.input_value() == first, 30), f"naming a cluster fills a reference row ({name1.input_value()!r})")
    check(_wait(lambda: page.locator("#character-refs-1 .file-preview tr, #character-refs-1 tr").count() > 0, 15),
          "the named cluster's crops are listed as that row's reference images")

    other = next((c for c in sorted(truth["characters"])[1:] if solo_second(truth, c) is not None), None)
    if other is not None:
        t = solo_second(truth, other)
        page.get_by_label("Frame at (s)").fill(f"{t:.1f}")
        page.get_by_role("button", name="Show frame").click()
        check(_wait(lambda: page.locator("#reference-frame img").count() > 0, 30), f"Show frame shows the frame at {t:.1f} s")
        page.get_by_label("Who is alone in this frame").fill(other)
        page.get_by_role("button", name="Add frame as reference").click()
        name2 = page.locator("#character-name-2 textarea, #character-name-2 input").first
        check(_wait(lambda: name2.input_value() == other, 30), f"the picked frame becomes a reference of {other!r} ({name2.input_value()!r})")
    _shot(page, out, "13-characters-references", full_page=False)

    page.get_by_role("button", name="Find characters").click()
    named = [first] + ([other] if other else [])
    check(_wait(lambda: all(n in summary.inner_text() for n in named) and "recurring" not in summary.inner_text(), timeout_s),
          f"with references, the summary lists screen time per name ({summary.inner_text()[:120]!r})")
    check(_wait(lambda: page.locator("#characters-timeline .js-plotly-plot").count() > 0, 30), "the character timeline is drawn")
    lanes = " ".join(page.locator("#characters-timeline .ytick text").all_text_contents())
    check(all(n in lanes for n in named), f"the character timeline has a lane per name ({lanes[:80]})")
    check(page.locator("#characters-screen-time .js-plotly-plot").count() > 0, "the screen-time chart is drawn")
    taken = page.locator("#character-reference-regions img")
    check(_wait(lambda: taken.count() >= len(named), 15),
          f"each reference is shown with the character region taken from it ({taken.count()} images)")
    csv_link = page.locator("#characters-csv a[download$='.characters.csv']")
    check(_wait(lambda: csv_link.count() > 0, 15), "the character intervals CSV download is offered")
    if csv_link.count():
        href = csv_link.first.get_attribute("href")
        text = page.request.get(href if href.startswith("http") else page.url.rstrip("/") + "/" + href.lstrip("/")).text()
        check(text.count("\n") >= 2 and first in text, f"the CSV lists intervals ({text.count(chr(10))} lines)")
    page.locator("#characters-timeline").first.scroll_into_view_if_needed()
    _shot(page, out, "14-characters-result", full_page=False)


def run_bad_file(page, check: Check, out: Path, tmp: Path) -> None:
    bad = tmp / "not_a_video.mp4"
    bad.write_text("this is a text file with a video's name\n" * 100)
    _clear_video(page)
    _upload(page, bad)
    page.wait_for_timeout(1500)
    page.get_by_role("button", name="Analyze", exact=True).click()
    # The browser's own "Video not playable" notice may come first; wait for vpos's message.
    toast = page.locator(".toast-body")
    shown = _wait(lambda: "not a video" in " ".join(toast.all_inner_texts()).lower(), 30)
    text = " ".join(toast.all_inner_texts())
    check(shown, f"a file that is not a video gives a readable error ({text.strip()[:160]!r})")
    check("Traceback" not in page.content(), "no traceback in the page")
    check(page.locator("#result-json a[download]").count() == 0 and page.locator("#timeline .js-plotly-plot").count() == 0,
          "the previous video's results are cleared, not left looking like this file's")
    _shot(page, out, "08-bad-file-error")


def run_season(page, check: Check, out: Path, clips: list[Path], timeout_s: float) -> None:
    """The Season tab: upload several episodes at once, one progress bar over all of them, the
    season timeline (a lane per episode), the per-episode table and the zip download."""
    page.get_by_role("tab", name="Season").click()
    page.wait_for_timeout(500)
    page.locator("#season-files input[type=file]").set_input_files([str(c) for c in clips])
    names = [c.name for c in clips]
    listed = lambda: " ".join(page.locator("#season-files").first.inner_text().split())  # noqa: E731
    # Gradio shows each name as stem + extension in separate cells; the stems are what a person reads.
    check(_wait(lambda: all(c.stem in listed() for c in clips), 30),
          f"the uploaded episodes are listed ({', '.join(names)})")
    _shot(page, out, "09-season-uploaded")
    page.get_by_role("button", name="Analyze season").click()
    saw = _wait(lambda: "episode 1/" in _progress_text(page) or "episode 2/" in _progress_text(page), 60, step=0.1)
    check(saw, f"the season progress names the episode in progress ({_progress_text(page)[:80]!r})")
    _shot(page, out, "10-season-progress", full_page=False)
    plot = page.locator("#season-timeline .js-plotly-plot")
    check(_wait(lambda: plot.count() > 0, timeout_s), "the season timeline appears")
    page.wait_for_timeout(1500)
    grid = page.locator("#season-table [role=grid]")
    rows = (int(grid.first.get_attribute("aria-rowcount") or 1) - 1) if grid.count() else 0
    check(rows == len(clips), f"the season table has a row per episode ({rows})")
    lanes = " ".join(page.locator("#season-timeline .ytick text").all_text_contents())
    check(all(n in lanes for n in names), f"the season timeline has a lane per episode ({lanes[:100]})")
    zip_link = page.locator("#season-zip a[download$='.zip']")
    check(_wait(lambda: zip_link.count() > 0, 15), "the season zip download is offered")
    _shot(page, out, "11-season-result")


def _wait(predicate, timeout_s: float, step: float = 0.25) -> bool:
    end = time.time() + timeout_s
    while True:
        try:
            if predicate():
                return True
        except Exception:  # noqa: BLE001 - the page is changing under us; poll again
            pass
        if time.time() > end:
            return False
        time.sleep(step)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder for the screenshots")
    parser.add_argument("--url", help="a running app; without it the app is launched in this process")
    parser.add_argument("--video", help="clip to upload (default: a generated 20 s demo clip)")
    parser.add_argument("--extractors", default="",
                        help="comma-separated extractors to tick (default: leave the app's defaults)")
    parser.add_argument("--timeout", type=float, default=240, help="seconds to wait for the analysis")
    parser.add_argument("--chromium", default=os.environ.get("VPOS_CHROMIUM", "/usr/bin/chromium"))
    parser.add_argument("--headed", action="store_true", help="show the browser window")
    parser.add_argument("--skip-characters", action="store_true", help="leave out the Characters panel (renders a corpus episode)")
    args = parser.parse_args(argv)

    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="vpos-browser-"))
    clip = Path(args.video) if args.video else tmp / "demo_episode.mp4"
    if not args.video:
        from vpos.synth import demo_clip

        demo_clip(clip, seconds=20, size=(320, 180), fps=25)

    demo = None
    url = args.url
    if not url:
        # A fresh feature cache: what a person uploading a new episode sees (stages, progress), not
        # an instant answer from an earlier run's cache.
        os.environ["VPOS_CACHE_DIR"] = str(tmp / "cache")
        # The actions panel is checked as a person without Kinetics weights sees it.
        os.environ.pop("VPOS_TSM_WEIGHTS", None)
        url, demo = launch_app()
    print(f"app at {url}", flush=True)

    check = Check()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS, headless=not args.headed)
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.set_default_timeout(30_000)
            # "load", then the button itself: some of gradio's lazily imported modules never report
            # as finished to Playwright, so "networkidle" can wait forever on a page that works.
            page.goto(url, wait_until="load")
            try:
                page.get_by_role("button", name="Analyze", exact=True).wait_for(state="visible")
            except PlaywrightTimeout:
                pass
            check(page.get_by_role("button", name="Analyze", exact=True).count() == 1, "the page loads with an Analyze button")
            _shot(page, out, "01-loaded")
            if args.extractors:
                _select_extractors(page, [e.strip() for e in args.extractors.split(",") if e.strip()])
            run_analysis(page, check, out, clip, args.timeout)
            run_tags(page, check, out, tmp, args.timeout)
            run_bad_file(page, check, out, tmp)
            from vpos.synth import demo_clip

            season = []
            for name, seconds in (("Show - 01.mp4", 12), ("Show - 02.mp4", 10)):
                demo_clip(tmp / name, seconds=seconds, size=(320, 180), fps=25)
                season.append(tmp / name)
            run_season(page, check, out, season, args.timeout)
            if not args.skip_characters:
                video, truth = character_clip(tmp)
                run_characters(page, check, out, video, truth, args.timeout)
            browser.close()
    finally:
        if demo is not None:
            demo.close()

    if check.failures:
        print(f"\n{len(check.failures)} check(s) failed:\n  - " + "\n  - ".join(check.failures))
        return 1
    print("\nall browser checks passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
