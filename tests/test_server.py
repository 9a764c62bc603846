"""The HTTP API through the real server (serve.py on 127.0.0.1, a free port): every endpoint,
the token rule, the path rule, CORS, and bad uploads; scans that survive a restart."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import predict_new_audio
from synth_audio import synthesize
from serverutil import ROOT, Server, call, gone, multipart, raw_post, upload
from va_decode import write_encoded

SR = 22050


# ----------------------------------------------------------------------------- the library
@pytest.fixture(scope="module")
def lib(tmp_path_factory, trained_models):
    """A library of 8 analysed files (with windows), one a symbolic link out of its folder."""
    models, _ = trained_models
    base = tmp_path_factory.mktemp("srv")
    audio = base / "lib"
    kinds = ["rain", "siren", "chime", "drone", "wind", "alarm", "heartbeat"]
    for i, k in enumerate(kinds):
        sub = audio / ("sfx" if i % 2 else "amb")
        sub.mkdir(parents=True, exist_ok=True)
        sf.write(sub / f"{i}_{k}.wav", synthesize(k, seconds=4, sr=SR, seed=i), SR)
    outside = base / "outside"
    outside.mkdir()
    sf.write(outside / "secret.wav", synthesize("glitch", seconds=3, sr=SR, seed=9), SR)
    os.symlink(outside / "secret.wav", audio / "sfx" / "link_out.wav")
    db = base / "lib.db"
    assert predict_new_audio.main([str(audio), "--db", str(db), "--models-dir", str(models), "--segments", "3", "1",
                                   "--out-dir", str(base / "out"), "-q", "--no-cache"]) == 0
    tmp = base / "tmp"
    tmp.mkdir()
    srv = Server(db, models, "--max-upload-mb", "2", "--analysis-timeout", "60", tmpdir=tmp)
    yield {"url": srv.url, "db": db, "models": models, "audio": audio, "base": base, "tmp": tmp, "server": srv}
    srv.stop()


def _ids(db):
    con = sqlite3.connect(db)
    try:
        return {os.path.basename(p): f for p, f in con.execute("SELECT path, file_id FROM audio_paths")}
    finally:
        con.close()


# ----------------------------------------------------------------------------- tests
def test_health_vocabulary_and_errors_are_json(lib):
    s, h, b = call("GET", lib["url"] + "/api/health")
    assert s == 200 and b["status"] == "ok" and b["files"] == 8
    s, _, b = call("GET", lib["url"] + "/api/vocabulary")
    assert s == 200 and "soothing" in b["descriptors"] and len(b["folders"]) == 2
    s, _, b = call("GET", lib["url"] + "/api/nothing-here")
    assert s == 404 and set(b) == {"error"}
    s, _, b = call("GET", lib["url"] + "/api/search?near=2,0")
    assert s == 400 and "in -1..1" in b["error"] and "\n" not in b["error"]
    s, _, b = call("GET", lib["url"] + "/api/search?limit=abc")
    assert s == 422 and b["error"].startswith("limit:")
    s, _, b = call("GET", lib["url"] + "/api/search?descriptor=soothing")
    assert s == 400 and "NAME:MIN" in b["error"]


def test_every_search_mode_matches_va_query(lib):
    from va_query import find, moments, open_library
    conn = open_library(lib["db"])
    u = lib["url"] + "/api/search"
    cases = [("near=0.2,-0.3&limit=3", dict(near=(0.2, -0.3), limit=3)),
             ("descriptor=soothing:0.5&limit=50", dict(descriptors=[("soothing", 0.5)], limit=50)),
             ("label=neutral&label=sad", dict(labels=["neutral", "sad"], limit=50)),
             (f"under={lib['audio'] / 'amb'}", dict(under=str(lib["audio"] / "amb"), limit=50)),
             ("class=Siren", dict(classes=["Siren"], limit=50)), ("domain=other&sort=arousal", dict(domain="other",
                                                                                                     sort="arousal",
                                                                                                     limit=50)),
             ("text=rain", dict(text="rain", limit=50))]
    for q, kw in cases:
        s, _, b = call("GET", f"{u}?{q}")
        assert s == 200, (q, b)
        want = find(conn, with_ids=True, **kw)
        assert [r["path"] for r in b["results"]] == [r["path"] for r in want], q
    # paging: two pages are the first page of twice the size
    _, _, p1 = call("GET", f"{u}?sort=arousal&limit=3&offset=0")
    _, _, p2 = call("GET", f"{u}?sort=arousal&limit=3&offset=3")
    _, _, both = call("GET", f"{u}?sort=arousal&limit=6")
    assert [r["path"] for r in p1["results"] + p2["results"]] == [r["path"] for r in both["results"]]
    # sounds like a library file: not itself, nearest in feature space
    rain = _ids(lib["db"])["0_rain.wav"]
    s, _, b = call("GET", f"{u}?like={rain}&limit=3")
    assert s == 200 and len(b["results"]) == 3 and all("0_rain" not in r["path"] for r in b["results"])
    # moments (the library was analysed with --segments 3 1)
    s, _, b = call("GET", lib["url"] + "/api/moments?arousal_above=-1&limit=5")
    assert s == 200 and b["results"] == moments(conn, arousal_above=-1, limit=5)
    conn.close()


def test_export_m3u_and_csv(lib):
    s, h, body = call("GET", lib["url"] + "/api/export.m3u?sort=arousal&limit=4")
    assert s == 200 and body.decode().startswith("#EXTM3U") and body.decode().count(".wav") == 4
    assert "attachment" in h["content-disposition"]
    s, h, body = call("GET", lib["url"] + "/api/export.csv?text=siren")
    assert s == 200 and body.decode().splitlines()[0].startswith("path,valence,arousal")
    assert call("GET", lib["url"] + "/api/export.pdf")[0] == 404


def test_file_record_segments_and_seekable_audio(lib):
    ids = _ids(lib["db"])
    fid = ids["1_siren.wav"]
    s, _, rec = call("GET", f"{lib['url']}/api/files/{fid}")
    assert s == 200 and rec["path"].endswith("1_siren.wav") and rec["prediction"]["valence"] is not None
    assert rec["sound_classes"] and rec["segments"] == 2 and "soothing" in rec["descriptor_scores"]
    s, _, seg = call("GET", f"{lib['url']}/api/files/{fid}/segments")
    assert s == 200 and [x["start_s"] for x in seg["segments"]] == [0.0, 1.0]
    size = (lib["audio"] / "sfx" / "1_siren.wav").stat().st_size
    s, h, part = call("GET", f"{lib['url']}/api/files/{fid}/audio", headers={"Range": "bytes=100-199"})
    assert s == 206 and len(part) == 100 and h["content-range"] == f"bytes 100-199/{size}"
    assert part == (lib["audio"] / "sfx" / "1_siren.wav").read_bytes()[100:200]
    s, h, whole = call("GET", f"{lib['url']}/api/files/{fid}/audio?download=1")
    assert s == 200 and len(whole) == size and "attachment" in h["content-disposition"]
    assert call("GET", f"{lib['url']}/api/files/999999")[0] == 404
    assert call("GET", f"{lib['url']}/api/files/999999/audio")[0] == 404


def test_audio_is_served_only_for_library_paths(lib):
    from urllib.parse import quote
    a = lib["audio"]
    good = str(a / "amb" / "0_rain.wav")
    get = lambda p: call("GET", f"{lib['url']}/api/audio?path={quote(p, safe='')}")[0]
    assert get(good) == 200
    assert get(str(a / "amb" / ".." / "amb" / "0_rain.wav")) == 404           # not the path the library holds
    assert get("/etc/passwd") == 404                                          # absolute, outside
    assert get("../../../../etc/passwd") == 404
    assert get(str(lib["base"] / "outside" / "secret.wav")) == 404           # a real file, not in the library
    assert get(str(a / "sfx" / "link_out.wav")) == 404                        # in the library, but links out
    link_id = _ids(lib["db"])["link_out.wav"]
    assert call("GET", f"{lib['url']}/api/files/{link_id}/audio")[0] == 404
    assert call("GET", f"{lib['url']}/api/audio")[0] == 422                  # no path at all


def test_analyse_an_upload_with_windows_and_keep_it(lib, tmp_path):
    p = tmp_path / "take.m4a"
    write_encoded(p, synthesize("siren", seconds=4, sr=SR, seed=3), SR, codec="aac", fmt="ipod")
    s, _, b = upload(lib["url"] + "/api/analyse?segments=3,1", p)
    assert s == 200, b
    assert -1 <= b["valence"] <= 1 and -1 <= b["arousal"] <= 1 and b["emotion_label"]
    assert 0 <= b["emotion_confidence"] <= 1 and isinstance(b["out_of_domain"], bool) and "Siren" in b["sound_classes"]
    assert "soothing" in b["descriptor_scores"] and b["file"] == "take.m4a"
    assert [w["start"] for w in b["segments"]] == [0.0, 1.0]
    assert "file_id" not in b
    s, _, kept = upload(lib["url"] + "/api/analyse?add=true", p, name="kept_take.m4a")
    assert s == 200 and isinstance(kept["file_id"], int)
    s, _, rec = call("GET", f"{lib['url']}/api/files/{kept['file_id']}")
    assert rec["path"].endswith("kept_take.m4a") and rec["sha256"] == kept["sha256"]
    assert not list(lib["tmp"].iterdir())                                     # no temporary file left


@pytest.mark.parametrize("what", ["empty", "truncated", "not_audio", "malformed", "too_large", "no_file",
                                  "bad_segments"])
def test_bad_uploads_are_clear_4xx_and_leave_nothing_behind(lib, what):
    u = lib["url"] + "/api/analyse"
    wav = Path(lib["audio"] / "amb" / "0_rain.wav").read_bytes()
    if what == "empty":
        s, _, b = upload(u, b"", name="empty.wav")
        assert s == 400 and "empty" in b["error"]
    elif what == "truncated":
        s, _, b = upload(u, wav[:30], name="cut.wav")
        assert s == 422 and b["error"].startswith("cut.wav: ")
    elif what == "not_audio":
        s, _, b = upload(u, b"just some text, not a sound\n" * 20, name="notes.wav")
        assert s == 422 and "cannot decode audio" in b["error"]
    elif what == "malformed":
        s, _, b = call("POST", u, data=b"--xyz\r\nthis is not multipart at all",
                       headers={"Content-Type": "multipart/form-data; boundary=xyz"})
        assert s == 400 and "error" in b
    elif what == "too_large":                                                # > --max-upload-mb 2
        body, headers = multipart({}, {"file": ("big.wav", wav * 20)})
        s, b = raw_post(u, headers, body, declare_length=True)               # refused on its Content-Length
        assert s == 413 and "limit of 2 MB" in b["error"]
        s, b = raw_post(u, headers, body, declare_length=False)              # chunked: refused while reading
        assert s == 413 and "limit of 2 MB" in b["error"]
    elif what == "no_file":
        body, headers = multipart({"note": "x"}, {})
        s, _, b = call("POST", u, data=body, headers=headers)
        assert s == 400 and b["error"].startswith("file:")
    else:
        s, _, b = upload(u + "?segments=3", wav, name="r.wav")
        assert s == 400 and "WINDOW,HOP" in b["error"]
    assert "\n" not in b["error"]
    assert call("GET", lib["url"] + "/api/health")[0] == 200                 # the server is still up
    assert not list(lib["tmp"].iterdir())


def test_recommend_for_an_uploaded_reference(lib):
    s, _, b = upload(lib["url"] + "/api/recommend", lib["audio"] / "sfx" / "1_siren.wav", name="ref.wav",
                     fields={"kind": "any", "limit": "3"})
    assert s == 200 and len(b["results"]) == 3 and b["reference"]["file"] == "ref.wav"
    assert all(isinstance(r["file_id"], int) for r in b["results"])
    assert all("1_siren" not in r["path"] for r in b["results"])            # its own content is left out
    from va_query import open_library, recommend
    conn = open_library(lib["db"])
    want = recommend(conn, b["reference"], limit=3, exclude_sha=b["reference"]["sha256"])
    conn.close()
    assert [r["path"] for r in b["results"]] == [r["path"] for r in want]
    s, _, b = upload(lib["url"] + "/api/recommend", lib["audio"] / "sfx" / "1_siren.wav", fields={"kind": "films"})
    assert s == 400 and "kind" in b["error"]


def test_feedback_lands_in_the_database(lib):
    ids = _ids(lib["db"])
    s, _, b = call("POST", lib["url"] + "/api/feedback",
                   json_body={"file_ids": [ids["0_rain.wav"], ids["2_chime.wav"]], "action": "picked",
                              "reference": "scene12.wav"})
    assert s == 201 and len(b["ids"]) == 2
    s, _, b = call("POST", lib["url"] + "/api/feedback", json_body={"file_id": ids["1_siren.wav"],
                                                                   "action": "exported", "query": "text=siren"})
    assert s == 201
    con = sqlite3.connect(lib["db"])
    rows = con.execute("SELECT file_id, action, reference, query, at FROM feedback ORDER BY id").fetchall()
    con.close()
    assert [(r[0], r[1], r[2], r[3]) for r in rows[-3:]] == [
        (ids["0_rain.wav"], "picked", "scene12.wav", None), (ids["2_chime.wav"], "picked", "scene12.wav", None),
        (ids["1_siren.wav"], "exported", None, "text=siren")]
    assert all(r[4].endswith("Z") for r in rows)                              # with the time
    assert call("POST", lib["url"] + "/api/feedback", json_body={"file_id": 10 ** 6, "action": "picked"})[0] == 404
    assert call("POST", lib["url"] + "/api/feedback", json_body={"file_id": ids["0_rain.wav"],
                                                                 "action": "loved"})[0] == 400
    s, _, b = call("GET", lib["url"] + "/api/feedback")
    assert s == 200 and b["feedback"][0]["action"] == "exported"


def test_scan_a_folder_in_the_background(lib, tmp_path):
    folder = tmp_path / "new"
    folder.mkdir()
    for i, k in enumerate(["rain", "clicks", "bubbles"]):
        sf.write(folder / f"n{i}.wav", synthesize(k, seconds=2, sr=SR, seed=30 + i), SR)
    (folder / "broken.wav").write_bytes(b"RIFF....WAVE not really")
    s, _, job = call("POST", lib["url"] + "/api/scans", json_body={"folder": str(folder)})
    assert s == 202 and job["status"] == "queued"
    deadline = time.time() + 120
    while True:
        _, _, st = call("GET", lib["url"] + f"/api/scans/{job['id']}")
        if st["status"] in ("done", "failed") or time.time() > deadline:
            break
        time.sleep(0.3)
    assert st["status"] == "done" and st["done"] == st["total"] == 4, st
    assert [f[0].endswith("broken.wav") for f in st["failures"]] == [True]
    s, _, b = call("GET", lib["url"] + f"/api/search?under={folder}")
    assert sorted(os.path.basename(r["path"]) for r in b["results"]) == ["n0.wav", "n1.wav", "n2.wav"]
    assert call("POST", lib["url"] + "/api/scans", json_body={"folder": str(tmp_path / "nope")})[0] == 400
    assert call("POST", lib["url"] + "/api/scans", json_body={"path": "x"})[0] == 400
    assert call("GET", lib["url"] + "/api/scans/99999")[0] == 404
    assert any(j["id"] == job["id"] for j in call("GET", lib["url"] + "/api/scans")[2]["scans"])


def test_searches_are_answered_while_a_long_file_is_analysed(lib, tmp_path):
    long = tmp_path / "long.m4a"                                              # 3 minutes, 1.5 MB
    write_encoded(long, np.tile(synthesize("wind", seconds=10, sr=SR, seed=5), 18), SR, codec="aac", fmt="ipod")
    done = {}

    def analyse():
        done["analysis"] = upload(lib["url"] + "/api/analyse", long)[0]
        done["analysis_at"] = time.monotonic()

    t = threading.Thread(target=analyse)
    t.start()
    time.sleep(0.5)
    answered = []
    for _ in range(5):
        s, _, _ = call("GET", lib["url"] + "/api/search?near=0,0&limit=5")
        answered.append((s, time.monotonic()))
    t.join()
    assert done["analysis"] == 200 and all(s == 200 for s, _ in answered)
    assert all(at < done["analysis_at"] for _, at in answered)                # before the analysis finished


def test_api_docs_work_offline(lib):
    s, _, html = call("GET", lib["url"] + "/docs")
    html = html.decode()
    assert s == 200 and "/static/swagger/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    assert "http://" not in html.replace(lib["url"], "") and "https://" not in html
    s, _, js = call("GET", lib["url"] + "/static/swagger/swagger-ui-bundle.js")
    assert s == 200 and len(js) > 100_000
    s, _, schema = call("GET", lib["url"] + "/openapi.json")
    paths = set(schema["paths"])
    assert {"/api/analyse", "/api/search", "/api/moments", "/api/recommend", "/api/scans", "/api/scans/{job_id}",
            "/api/feedback", "/api/files/{file_id}", "/api/files/{file_id}/segments", "/api/files/{file_id}/audio",
            "/api/audio", "/api/export.{fmt}", "/api/health"} <= paths
    s, _, page = call("GET", lib["url"] + "/")
    assert s == 200 and b"/static/app.js" in page
    s, _, page = call("GET", lib["url"] + "/map")
    assert s == 200 and b"/api/audio?path=" in page


def test_token_rule(lib):
    assert subprocess.run([sys.executable, str(ROOT / "serve.py"), "--db", str(lib["db"]), "--models-dir",
                           str(lib["models"]), "--host", "0.0.0.0", "--port", "0"], capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "EMOTAG_TOKEN"},
                          timeout=60).stderr.startswith("error: --host 0.0.0.0 listens beyond this machine")
    srv = Server(lib["db"], lib["models"], "--host", "0.0.0.0", "--token", "s3cret-t0ken")
    try:
        url = srv.url.replace("0.0.0.0", "127.0.0.1")
        s, h, b = call("GET", url + "/api/health")
        assert s == 401 and "token" in b["error"] and h["www-authenticate"] == "Bearer"
        assert call("GET", url + "/api/health", headers={"Authorization": "Bearer wrong"})[0] == 401
        assert call("GET", url + "/api/health", headers={"Authorization": "Bearer s3cret-t0ken"})[0] == 200
        assert call("GET", url + "/api/search?near=0,0", headers={"Authorization": "Bearer s3cret-t0ken"})[0] == 200
        assert call("GET", url + "/", )[0] == 401 and call("GET", url + "/static/app.js")[0] == 401
        s, h, _ = call("GET", url + "/?access_token=s3cret-t0ken")                 # a browser's first visit
        assert s == 200 and "emotag_token=s3cret-t0ken" in h["set-cookie"] and "HttpOnly" in h["set-cookie"]
        assert call("GET", url + "/static/app.js", headers={"Cookie": "emotag_token=s3cret-t0ken"})[0] == 200
        s, _, b = upload(url + "/api/analyse", lib["audio"] / "amb" / "0_rain.wav")
        assert s == 401
    finally:
        srv.stop()
    srv = Server(lib["db"], lib["models"], env={"EMOTAG_TOKEN": "from-env"})
    workers = srv.children()
    try:
        assert call("GET", srv.url + "/api/health")[0] == 401
        assert call("GET", srv.url + "/api/health", headers={"Authorization": "Bearer from-env"})[0] == 200
    finally:
        srv.stop()
    assert workers and gone(workers)                                          # a stopped server leaves none


def test_cors_only_when_asked(lib):
    origin = {"Origin": "http://editor.example"}
    s, h, _ = call("GET", lib["url"] + "/api/health", headers=origin)
    assert s == 200 and "access-control-allow-origin" not in h
    srv = Server(lib["db"], lib["models"], "--cors", "http://editor.example")
    try:
        s, h, _ = call("GET", srv.url + "/api/health", headers=origin)
        assert h.get("access-control-allow-origin") == "http://editor.example"
        s, h, _ = call("GET", srv.url + "/api/health", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in h
    finally:
        srv.stop()


def test_a_scan_resumes_after_the_server_is_killed(lib, tmp_path):
    db = tmp_path / "resume.db"
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(40):
        y = synthesize(["rain", "chime", "wind", "drone"][i % 4], seconds=6, sr=SR, seed=100 + i)
        sf.write(folder / f"f{i:02d}.wav", y * (0.3 + i / 80), SR)          # 40 distinct contents
    srv = Server(db, lib["models"])
    s, _, job = call("POST", srv.url + "/api/scans", json_body={"folder": str(folder)})
    deadline = time.time() + 120
    while time.time() < deadline:
        _, _, st = call("GET", srv.url + f"/api/scans/{job['id']}")
        if st["done"] >= 1 or st["status"] == "done":
            break
        time.sleep(0.1)
    workers = srv.children()
    assert workers                                                            # its analysis worker(s)
    srv.stop(signal.SIGKILL)                                                  # no goodbye
    assert gone(workers), [w.pid for w in workers]                            # the workers end with it
    con = sqlite3.connect(db)
    status, before = con.execute("SELECT status, done FROM jobs WHERE id = ?", (job["id"],)).fetchone()
    n_before = con.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    assert status == "running" and n_before < 40, (status, n_before)
    srv = Server(db, lib["models"])
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            _, _, st = call("GET", srv.url + f"/api/scans/{job['id']}")
            if st["status"] in ("done", "failed"):
                break
            time.sleep(0.3)
        assert st["status"] == "done" and st["done"] == st["total"] == 40, st
        con = sqlite3.connect(db)
        assert con.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] == 40
        assert con.execute("SELECT COUNT(*) FROM audio_paths").fetchone()[0] == 40
        con.close()
    finally:
        srv.stop()


def test_an_analysis_over_the_time_limit_is_a_504_and_the_server_goes_on(lib, tmp_path):
    long = tmp_path / "long.m4a"                                              # 3 minutes: seconds of work
    write_encoded(long, np.tile(synthesize("rain", seconds=10, sr=SR, seed=8), 18), SR, codec="aac", fmt="ipod")
    srv = Server(lib["db"], lib["models"], "--analysis-timeout", "0.3")
    try:
        s, _, b = upload(srv.url + "/api/analyse", long)
        assert s == 504 and b["error"] == "long.m4a: timed out after 0.3 s (--analysis-timeout)", b
        s, _, b = upload(srv.url + "/api/analyse", lib["audio"] / "amb" / "0_rain.wav")   # 4 s: in time
        assert s == 200 and b["file"] == "0_rain.wav"
    finally:
        srv.stop()
