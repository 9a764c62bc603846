"""The exported map in a real browser (Debian's Chromium driven by Playwright).

Skipped, with the reason, where Playwright or a Chromium binary is missing; `.ci/run`
and `make test` install both. The screenshot goes to ``$EMOTAG_SCREENSHOT`` when set
(that is how ``docs/figures/va_map_browser.png`` was made), else into the test's folder.
"""
from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import va_map
from va_db import connect, log_batch, register_model

N = 200


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


pytestmark = [
    pytest.mark.skipif(_chromium() is None, reason="no Chromium binary (apt-get install chromium)"),
]


@pytest.fixture
def library(tmp_path):
    """200 short WAV files in two folders and a library with known VA, labels and scores."""
    rng = np.random.default_rng(7)
    va = rng.uniform(-0.95, 0.95, (N, 2)).round(3)
    folders = np.where(np.arange(N) < 120, "ambience", "impacts")
    paths = []
    for i in range(N):
        p = tmp_path / "lib" / folders[i] / f"sound_{i:03d}.wav"
        p.parent.mkdir(parents=True, exist_ok=True)
        t = np.arange(2205) / 22050
        sf.write(p, 0.2 * np.sin(2 * np.pi * (200 + 5 * i) * t), 22050)
        paths.append(str(p))
    labels = np.array(["calm", "tense", "happy", "sad"])[np.arange(N) % 4]
    scores = pd.DataFrame({"soothing": ((1 - va[:, 1]) / 2).round(2), "alarming": ((1 + va[:, 1]) / 2).round(2)})
    db = tmp_path / "lib.db"
    conn = connect(db)
    with conn:
        vm = register_model(conn, "v" * 64, {"name": "v", "kind": "va"})
        am = register_model(conn, "a" * 64, {"name": "a", "kind": "va"})
    files = pd.DataFrame({"sha256": [f"{i:064x}" for i in range(N)], "path": paths, "duration": 0.1})
    pred = pd.DataFrame({"valence": va[:, 0], "arousal": va[:, 1], "emotion_label": labels,
                         "emotion_confidence": 0.7, "emotion_source": "va-nearest",
                         "in_domain": np.where(np.arange(N) % 2 == 0, 0.9, 0.1)})     # odd files: unlike the training data
    meta = [{"description": "door creak, slow"} if i % 5 == 0 else {"title": "creak of a gate"} if i % 5 == 1
            else {} for i in range(N)]                                     # what the files say about themselves
    log_batch(conn, files=files, predictions=pred, model_ids=(vm, am), scores=scores, metadata=meta)
    seg = pd.DataFrame({"sha256": f"{17:064x}", "path": paths[17], "start": np.arange(10.0), "end": np.arange(10.0) + 3,
                        "valence": np.linspace(-0.8, 0.8, 10), "arousal": np.linspace(0.8, -0.8, 10),
                        "emotion_label": "calm", "emotion_confidence": 0.5, "emotion_source": "va-nearest",
                        "top_descriptor": "soothing", "soothing": 0.5})
    from va_db import log_segments
    log_segments(conn, (vm, am), seg, ["soothing"])        # sound_017 has a trajectory
    with conn:   # what the sounds are: impacts are gunshots (other); ambience is rain, every 3rd file speech
        for i in range(N):
            cls, dom = ("Gunshot, gunfire", "other") if i >= 120 else (("Speech", "speech") if i % 3 == 0
                                                                       else ("Rain", "other"))
            fid = conn.execute("SELECT id FROM audio_files WHERE sha256 = ?", (f"{i:064x}",)).fetchone()[0]
            conn.execute("INSERT INTO sound_classes VALUES (?, 0, ?, 0.5), (?, 1, 'Sound effect', 0.2)",
                         (fid, cls, fid))
            conn.execute("UPDATE audio_files SET domain = ? WHERE id = ?", (dom, fid))
    conn.close()
    return db, pd.DataFrame({"path": paths, "v": va[:, 0], "a": va[:, 1], "label": labels,
                             "folder": folders}).join(scores)


def test_map_in_chromium(tmp_path, library):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    db, truth = library
    html = tmp_path / "lib" / "map.html"
    assert va_map.main(["--db", str(db), "--out", str(html), "-q"]) == 0
    shot = os.environ.get("EMOTAG_SCREENSHOT") or str(tmp_path / "va_map.png")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(),
                                     args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(html.as_uri())
            page.wait_for_function("window.emotagMap && window.emotagMap.ready", timeout=10000)
            count = lambda: int(page.get_attribute("#plot", "data-count"))
            assert count() == N

            # hover a known point: its name, valence and emotion label appear
            i = 17
            x, y = page.evaluate(f"emotagMap.toPixel({i})")
            page.mouse.move(x, y)
            tip = page.inner_text("#tip")
            name = os.path.basename(page.evaluate(f"emotagMap.data.name[{i}]"))
            row = truth[truth["path"].str.endswith("/" + name)].iloc[0]
            assert name in tip and f"valence {row['v']:.2f}" in tip and row["label"] in tip
            idx = int(name[6:9])                                       # sound_NNN.wav
            assert (f"in-domain 0.10 (unlike the training data" in tip) if idx % 2 else ("in-domain 0.90" in tip)
            assert sorted(set(page.evaluate("emotagMap.data.dom"))) == [0.1, 0.9]
            assert "sounds like: Rain 0.50; Sound effect 0.20 (other)" in tip       # 17: ambience, not speech

            # filters change the count to the known answers
            page.select_option("#label", label="tense")
            assert count() == int((truth["label"] == "tense").sum())
            page.select_option("#label", value="")
            page.select_option("#folder", label=str(tmp_path / "lib" / "impacts"))
            assert count() == int((truth["folder"] == "impacts").sum())
            page.select_option("#folder", value="")
            page.select_option("#desc", value="soothing")
            page.eval_on_selector("#dmin", "e => { e.value = 70; e.dispatchEvent(new Event('input')); }")
            assert count() == int((truth["soothing"] >= 0.70).sum())
            page.select_option("#desc", value="")
            page.fill("#text", "sound_01")
            assert count() == int(truth["path"].str.contains("sound_01").sum())
            page.fill("#text", "creak")                              # the metadata is searched too
            assert count() == len([i for i in range(N) if i % 5 in (0, 1)])
            page.fill("#text", "door CREAK")                         # every word, any case
            assert count() == len([i for i in range(N) if i % 5 == 0])
            page.fill("#text", "sound_01 gate")                      # a word of the name and one of the title
            assert count() == len([i for i in range(10, 20) if i % 5 == 1])
            page.fill("#text", "")
            assert count() == N
            page.select_option("#domain", value="speech")
            assert count() == len([i for i in range(120) if i % 3 == 0])
            page.select_option("#domain", value="")
            page.fill("#cls", "gunshot")
            assert count() == N - 120
            page.fill("#cls", "")
            assert count() == N

            # a click plays the file through its relative path
            page.mouse.click(x, y)
            page.wait_for_function("emotagMap.lastPlay && emotagMap.lastPlay.ok !== null", timeout=10000)
            played = page.evaluate("emotagMap.lastPlay")
            assert played["ok"] is True, played
            assert page.evaluate("document.getElementById('player').currentSrc").endswith(name)
            assert page.evaluate("emotagMap.selected") == i                      # its trajectory is drawn
            assert name == "sound_017.wav" and len(page.evaluate(f"emotagMap.data.traj['{i}']")) == 10
            page.mouse.move(x, y)
            page.screenshot(path=shot)
            assert not errors, errors
        finally:
            browser.close()
    assert os.path.getsize(shot) > 10_000
