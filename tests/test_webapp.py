"""The web app in a real browser (Debian's Chromium through Playwright) against the running
server: the map draws the library, a click plays a file through the server, a descriptor
search returns the known files, a dropped reference returns recommendations, a feedback
click lands in the database, and no request leaves the machine.

The screenshot goes to ``$EMOTAG_WEBAPP_SCREENSHOT`` when set (that is how
``docs/figures/webapp.png`` was made), else into the test's folder.
"""
from __future__ import annotations

import os
import shutil
import sqlite3

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from serverutil import Server
from synth_audio import synthesize
from va_db import connect, log_batch, log_segments, register_model

N = 120


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


pytestmark = pytest.mark.skipif(_chromium() is None, reason="no Chromium binary (apt-get install chromium)")


@pytest.fixture
def library(tmp_path):
    """120 short WAV files with known valence/arousal, descriptor scores and labels; one with windows."""
    rng = np.random.default_rng(11)
    va = rng.uniform(-0.95, 0.95, (N, 2)).round(3)
    paths = []
    for i in range(N):
        p = tmp_path / "lib" / ("ambience" if i < 80 else "impacts") / f"sound_{i:03d}.wav"
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, 0.2 * np.sin(2 * np.pi * (200 + 5 * i) * np.arange(4410) / 22050), 22050)
        paths.append(str(p))
    labels = np.array(["calm", "tense", "happy"])[np.arange(N) % 3]
    scores = pd.DataFrame({"soothing": ((1 - va[:, 1]) / 2).round(3), "alarming": ((1 + va[:, 1]) / 2).round(3)})
    db = tmp_path / "lib.db"
    conn = connect(db)
    with conn:
        vm = register_model(conn, "v" * 64, {"name": "v", "kind": "va"})
        am = register_model(conn, "a" * 64, {"name": "a", "kind": "va"})
    files = pd.DataFrame({"sha256": [f"{i:064x}" for i in range(N)], "path": paths, "duration": 0.2})
    pred = pd.DataFrame({"valence": va[:, 0], "arousal": va[:, 1], "emotion_label": labels,
                         "emotion_confidence": 0.7, "emotion_source": "va-nearest"})
    log_batch(conn, files=files, predictions=pred, model_ids=(vm, am), scores=scores,
              metadata=[{"description": "door creak"} if i % 10 == 0 else {} for i in range(N)])
    seg = pd.DataFrame({"sha256": f"{5:064x}", "path": paths[5], "start": np.arange(6.0), "end": np.arange(6.0) + 3,
                        "valence": np.linspace(-0.5, 0.5, 6), "arousal": np.linspace(0.5, -0.5, 6),
                        "emotion_label": "calm", "emotion_confidence": 0.5, "emotion_source": "va-nearest",
                        "top_descriptor": "soothing", "soothing": 0.5})
    log_segments(conn, (vm, am), seg, ["soothing"])
    conn.close()
    truth = pd.DataFrame({"path": paths, "v": va[:, 0], "a": va[:, 1], "label": labels}).join(scores)
    return db, truth


def test_webapp_in_chromium(tmp_path, library, trained_models):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    db, truth = library
    models, _ = trained_models
    ref = tmp_path / "reference_take.wav"
    sf.write(ref, synthesize("siren", seconds=3, sr=22050, seed=1), 22050)
    shot = os.environ.get("EMOTAG_WEBAPP_SCREENSHOT") or str(tmp_path / "webapp.png")
    srv = Server(db, models)
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=_chromium(),
                                         args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 820})
                errors, outside = [], []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("request", lambda r: None if r.url.startswith(srv.url) or r.url.startswith("data:")
                        else outside.append(r.url))
                page.goto(srv.url + "/")
                page.wait_for_function("window.emotagApp && window.emotagApp.ready", timeout=20000)
                assert page.evaluate("emotagApp.results.length") == 50          # the first page of the library

                # a descriptor search returns the known files, best first
                page.check('#sliders input[type=checkbox][data-d="soothing"]')
                page.eval_on_selector('#sliders input[type=range][data-d="soothing"]',
                                      "e => { e.value = 80; e.dispatchEvent(new Event('input')); }")
                n = page.evaluate("emotagApp.searches")
                page.click("#search-go")
                page.wait_for_function(f"emotagApp.searches > {n}")
                got = page.evaluate("emotagApp.results.map(r => r.path)")
                want = truth[truth["soothing"] >= 0.8].sort_values(["soothing", "path"], ascending=[False, True])
                assert got == list(want["path"])[:50] and len(got) > 0

                # keyboard audition: Down selects the second, Space plays it through the server
                page.focus("#results")
                page.keyboard.press("ArrowDown")
                page.keyboard.press("ArrowDown")
                page.keyboard.press("Space")
                page.wait_for_function("emotagApp.lastPlay && emotagApp.lastPlay.ok !== null", timeout=10000)
                played = page.evaluate("emotagApp.lastPlay")
                assert played["ok"] is True, played
                second = page.evaluate("emotagApp.results[1]")
                assert played["file_id"] == second["file_id"] and "/api/files/" in played["src"]

                # a feedback click lands in the database
                page.click("#results li:nth-child(1) .pick")
                page.wait_for_selector("#results li:nth-child(1).picked")
                first = page.evaluate("emotagApp.results[0]")
                con = sqlite3.connect(db)
                rows = con.execute("SELECT file_id, action FROM feedback").fetchall()
                con.close()
                assert rows == [(first["file_id"], "picked")]

                # words and feeling: text search
                page.uncheck('#sliders input[type=checkbox][data-d="soothing"]')
                page.fill("#text", "door creak")
                n = page.evaluate("emotagApp.searches")
                page.click("#search-go")
                page.wait_for_function(f"emotagApp.searches > {n}")
                assert page.evaluate("emotagApp.results.length") == N // 10

                # a file with windows shows its timeline
                page.fill("#text", "sound_005")
                n = page.evaluate("emotagApp.searches")
                page.click("#search-go")
                page.wait_for_function(f"emotagApp.searches > {n}")
                page.click("#results li:nth-child(1) .name")
                page.wait_for_selector("#timeline")
                page.fill("#text", "")
                n = page.evaluate("emotagApp.searches")
                page.click("#search-go")
                page.wait_for_function(f"emotagApp.searches > {n}")
                page.screenshot(path=shot)

                # the map draws the library; a click plays a file through the server
                page.click('nav button[data-tab="map"]')
                frame = page.frame_locator("#map-frame")
                frame.locator("#plot").wait_for()
                mp = page.frames[1]
                mp.wait_for_function("window.emotagMap && window.emotagMap.ready", timeout=20000)
                assert int(mp.get_attribute("#plot", "data-count")) == N
                x, y = mp.evaluate("emotagMap.toPixel(7)")
                box = page.eval_on_selector("#map-frame", "e => { const r = e.getBoundingClientRect(); "
                                            "return [r.left, r.top]; }")
                page.mouse.click(box[0] + x, box[1] + y)
                mp.wait_for_function("emotagMap.lastPlay && emotagMap.lastPlay.ok !== null", timeout=10000)
                lp = mp.evaluate("emotagMap.lastPlay")
                assert lp["ok"] is True and lp["src"].startswith("/api/audio?"), lp
                assert mp.evaluate("document.getElementById('player').currentSrc").endswith("sound_007.wav")

                # a dropped reference returns its emotion and recommendations to audition
                page.click('nav button[data-tab="reference"]')
                page.set_input_files("#ref-file", str(ref))
                page.wait_for_function("emotagApp.refResults.length > 0", timeout=60000)
                assert page.evaluate("emotagApp.refResults.length") == 10
                assert "reference_take.wav" in page.inner_text("#ref-out")
                page.click("#ref-results li:nth-child(2) .reject")
                page.wait_for_selector("#ref-results li:nth-child(2).rejected")
                con = sqlite3.connect(db)
                last = con.execute("SELECT action, reference FROM feedback ORDER BY id DESC LIMIT 1").fetchone()
                con.close()
                assert last == ("rejected", "reference_take.wav")
                # the API docs render offline
                docs = browser.new_page()
                docs.on("request", lambda r: None if r.url.startswith(srv.url) or r.url.startswith("data:")
                        else outside.append(r.url))
                docs.goto(srv.url + "/docs")
                docs.wait_for_selector(".swagger-ui .info .title", timeout=20000)
                assert "emotag" in docs.inner_text(".swagger-ui .info .title")
                docs.wait_for_selector(".opblock-summary-path[data-path=\"/api/analyse\"]", timeout=20000)
                assert not errors, errors
                assert not outside, outside                                 # nothing from a CDN or elsewhere
            finally:
                browser.close()
    finally:
        srv.stop()
    assert os.path.getsize(shot) > 10_000


def test_reference_video_in_chromium(tmp_path, library, trained_models):
    """A dropped video: face and voice lanes, face thumbnails, a shot per scene, recommendations
    for each shot's face, pick and download recorded as feedback with the emotion behind them."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    import synth_video
    db, truth = library
    models, _ = trained_models
    video = synth_video.write_video(tmp_path / "scene.mp4", "two_shots", seconds=6.0, size=(640, 360))
    srv = Server(db, models)
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
                errors, outside = [], []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("request", lambda r: None if r.url.startswith(srv.url) or r.url.startswith("data:")
                        else outside.append(r.url))
                page.goto(srv.url + "/")
                page.wait_for_function("window.emotagApp && window.emotagApp.ready", timeout=20000)
                page.click('nav button[data-tab="reference"]')
                page.set_input_files("#ref-file", str(video))
                page.wait_for_selector("#ref-video:not([hidden])", timeout=120000)
                out = page.evaluate("emotagApp.reference")
                assert [round(s["start"]) for s in out["scenes"]] == [0, 3]             # the cut half-way
                first, second = out["scenes"]
                assert first["face"]["label"] == "happy" and first["voice"] is None    # a sine is no voice
                assert second["face"] is None and second["sound"] is not None
                assert [r["source"] for r in first["results"]] == ["face"] * 10
                assert [r["source"] for r in second["results"]] == ["sound"] * 10
                assert page.locator("#ref-thumbs img").count() == 1
                assert page.locator("#ref-scenes .scene").count() == 2
                assert "face happy" in page.inner_text("#ref-scenes .scene:nth-child(1) h4")
                page.screenshot(path=os.environ.get("EMOTAG_WEBAPP_VIDEO_SCREENSHOT") or str(tmp_path / "video.png"),
                                full_page=True)
                # the face lane is drawn: the canvas is not blank where the face is
                painted = page.evaluate("(() => { const c = document.getElementById('ref-lanes').getContext('2d');"
                                        " return Array.from(c.getImageData(60, 10, 100, 20).data).some(v => v); })()")
                assert painted
                # a pick and a download land in the library's feedback with the emotion that led to them
                page.click("#ref-scenes .scene:nth-child(1) li:nth-child(1) .pick")
                page.wait_for_selector("#ref-scenes .scene:nth-child(1) li:nth-child(1).picked")
                with page.expect_download():
                    page.click("#ref-scenes .scene:nth-child(2) li:nth-child(1) .dl")
                import time
                for _ in range(50):
                    con = sqlite3.connect(db)
                    rows = con.execute("SELECT file_id, action, reference, query FROM feedback ORDER BY id").fetchall()
                    con.close()
                    if len(rows) == 2:
                        break
                    time.sleep(0.1)
                assert [r[1] for r in rows] == ["picked", "exported"]
                assert rows[0][0] == first["results"][0]["file_id"] and rows[1][0] == second["results"][0]["file_id"]
                assert rows[0][2] == "scene.mp4 shot 1" and "face happy" in rows[0][3]
                assert rows[1][2] == "scene.mp4 shot 2" and "sound" in rows[1][3]
                assert not errors, errors
                assert not outside, outside
            finally:
                browser.close()
    finally:
        srv.stop()
