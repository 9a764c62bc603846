"""The interactive valence/arousal map: library rows -> one self-contained HTML file.

Reads the SQLite library (read-only), the descriptor lexicon and pairs; writes nothing
itself (``va_map.py`` writes the file). The page needs no server, CDN or library: its
JavaScript (below, written for this project) draws every file as a point on a
``<canvas>`` (so 50,000 points stay responsive; files whose in-domain score is below 0.5,
unlike the models' training data, are drawn faded), shows a tooltip on hover (name,
valence, arousal, top 3 descriptors, emotion label, in-domain score, domain, top
sound classes and the file's description and UCS CatID), plays the file on click through a
path relative to the HTML file, filters by descriptor score, emotion label, folder, words
in the name or the metadata (the text ``query_library.py --text`` searches; every word
must occur), domain (speech, music, vocal, other) and sound class, colours the points by a chosen field, places the descriptor words with their
pair links in the plane, and, for files analysed with ``--segments``, draws the clicked
file's trajectory through the plane (its windows in time order).

For tests and scripts the page exposes ``window.emotagMap`` (``ready``, ``shown``,
``toPixel(i)``, ``hover``, ``lastPlay``, ``selected``) and the canvas's ``data-count`` attribute holds
the number of points drawn.
"""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from va_query import SHOWN_CLASSES, has_classes, has_in_domain, has_metadata, model_pair


def library_payload(conn: sqlite3.Connection, html_dir, *, lexicon=None, pairs=None, limit=None) -> dict:
    """The column-oriented data the page draws (latest model pair's predictions).

    Descriptor scores are stored as integers 0..100 and coordinates to 3 decimals, which
    keeps a 50,000-file map under 15 MB.
    """
    pair = model_pair(conn)
    rows = [] if pair is None else conn.execute(
        "SELECT p.id, a.path, p.valence, p.arousal, p.emotion_label, p.emotion_confidence, "
        + ("p.in_domain" if has_in_domain(conn) else "NULL") + ", p.file_id "
        "FROM predictions p JOIN audio_files a ON a.id = p.file_id "
        "WHERE p.valence_model_id = ? AND p.arousal_model_id = ? ORDER BY a.path" + (" LIMIT ?" if limit else ""),
        (*pair, limit) if limit else pair).fetchall()
    index = {r[0]: i for i, r in enumerate(rows)}
    row_of = {r[7]: i for i, r in enumerate(rows)}          # file id -> point
    words = [w for (w,) in conn.execute("SELECT DISTINCT descriptor FROM descriptor_scores ORDER BY descriptor")]
    col = {w: k for k, w in enumerate(words)}
    scores = [[0] * len(rows) for _ in words]
    if rows and words:
        for pid, w, s in conn.execute(
                "SELECT s.prediction_id, s.descriptor, s.score FROM descriptor_scores s JOIN predictions p "
                "ON p.id = s.prediction_id WHERE p.valence_model_id = ? AND p.arousal_model_id = ?", pair):
            i = index.get(pid)
            if i is not None:
                scores[col[w]][i] = int(round(100 * s))
    classes, domains = [""] * len(rows), [""] * len(rows)
    if rows and has_classes(conn):
        parts: dict = {}
        for fid, name, score in conn.execute("SELECT file_id, class, score FROM sound_classes WHERE rank < ? "
                                             "ORDER BY file_id, rank", (SHOWN_CLASSES,)):
            if fid in row_of:
                parts.setdefault(row_of[fid], []).append(f"{name} {score:.2f}")
        for i, p in parts.items():
            classes[i] = "; ".join(p)
        for fid, d in conn.execute("SELECT id, domain FROM audio_files WHERE domain IS NOT NULL"):
            if fid in row_of:
                domains[row_of[fid]] = d
    meta, about = [""] * len(rows), [""] * len(rows)
    if rows and has_metadata(conn):
        from va_metadata import TEXT_FIELDS
        for fid, name, catid, *vals in conn.execute(
                f"SELECT file_id, name, ucs_catid, {', '.join(TEXT_FIELDS)} FROM metadata"):
            i = row_of.get(fid)
            if i is None:
                continue
            # the tooltip line (also searched), then the rest of the searchable text; what the
            # file name already says (a UCS name's CatID, category and FXName) is left out
            m = {k: v for k, v in zip(TEXT_FIELDS, vals) if v}
            named = bool(catid) and catid in (name or "")
            head = next((m[k] for k in ("description", "title", "ucs_fxname", "comment") if k in m), "")
            about[i] = head[:120] + (f" [{catid}]" if catid and not named else "")
            skip = {"ucs_category", "ucs_subcategory", "ucs_fxname"} if named else set()
            rest = [v for k, v in m.items() if k not in skip and v != head]
            meta[i] = " ".join(rest)
    html_dir = Path(html_dir).resolve()
    folder_idx, label_idx, names = [], [], []
    fpos, lpos = {}, {}
    for _, path, *_rest in rows:
        folder = os.path.dirname(path) or "."
        folder_idx.append(fpos.setdefault(folder, len(fpos)))
        names.append(os.path.basename(path))
    folders = list(fpos)
    # each file plays from its folder's path relative to the page plus its encoded name
    srcdirs = [quote(os.path.relpath(os.path.abspath(f), html_dir).replace(os.sep, "/")) + "/" for f in folders]
    for r in rows:
        label_idx.append(-1 if r[4] is None else lpos.setdefault(r[4], len(lpos)))
    labels = list(lpos)
    lex_words, links = [], []
    if lexicon is not None:
        for w in sorted(set(words) | (set(pairs["word_a"]) | set(pairs["word_b"]) if pairs is not None else set())):
            if w in lexicon.index:
                lex_words.append({"w": w, "v": round(float(lexicon.loc[w, "valence"]), 3),
                                  "a": round(float(lexicon.loc[w, "arousal"]), 3)})
    if pairs is not None:
        links = [[a, b] for a, b in zip(pairs["word_a"], pairs["word_b"])]
    traj = {}
    if rows:
        for fid, v, a in conn.execute("SELECT file_id, valence, arousal FROM segments WHERE valence_model_id = ? "
                                      "AND arousal_model_id = ? ORDER BY file_id, start_s", pair):
            i = row_of.get(fid)
            if i is not None:
                traj.setdefault(str(i), []).append([round(v, 3), round(a, 3)])
        for k, pts in traj.items():            # at most 400 points per trajectory
            if len(pts) > 400:
                step = len(pts) / 400
                traj[k] = [pts[int(j * step)] for j in range(400)]
    return {"n": len(rows), "name": names, "srcdir": srcdirs, "folders": folders, "folder": folder_idx, "traj": traj,
            "labels": labels, "label": label_idx,
            "v": [round(float(r[2]), 3) for r in rows], "a": [round(float(r[3]), 3) for r in rows],
            "conf": [None if r[5] is None else round(float(r[5]), 2) for r in rows],
            "dom": [None if r[6] is None else round(float(r[6]), 2) for r in rows],
            "descriptors": words, "scores": scores, "words": lex_words, "pairs": links,
            "classes": classes, "domain": domains, "meta": meta, "about": about}


def render(payload: dict, *, title: str = "emotag: valence/arousal map", color: str = "valence") -> str:
    """The HTML page for ``payload`` (from :func:`library_payload`)."""
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
    return (_PAGE.replace("__TITLE__", title).replace("__COLOR__", json.dumps(color))
            .replace("__DATA__", data))


_PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>__TITLE__</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{margin:0;font:13px system-ui,sans-serif;color:#222;background:#fafafa;display:flex;height:100vh}
 #side{width:260px;padding:10px 12px;border-right:1px solid #ddd;overflow:auto;background:#fff}
 #side h1{font-size:15px;margin:0 0 8px} #side label{display:block;margin:8px 0 2px;color:#555}
 #side select,#side input[type=text]{width:100%;box-sizing:border-box}
 #main{flex:1;position:relative} canvas{position:absolute;inset:0;width:100%;height:100%;cursor:crosshair}
 #tip{position:absolute;pointer-events:none;background:#fff;border:1px solid #999;border-radius:4px;
      padding:5px 7px;box-shadow:0 1px 4px rgba(0,0,0,.2);display:none;max-width:320px;white-space:nowrap}
 #status{margin-top:10px;color:#333} #legend{margin-top:8px;font-size:12px} .sw{display:inline-block;width:10px;
 height:10px;margin-right:4px;vertical-align:middle} #now{margin-top:6px;color:#555;word-break:break-all}
</style></head><body>
<div id="side"><h1>__TITLE__</h1>
 <label for="color">colour by</label><select id="color"></select>
 <label for="desc">descriptor score at least</label><select id="desc"><option value="">(any)</option></select>
 <input id="dmin" type="range" min="0" max="100" value="50" style="width:100%"><span id="dminv">0.50</span>
 <label for="label">emotion label</label><select id="label"><option value="">(all)</option></select>
 <label for="folder">folder</label><select id="folder"><option value="">(all)</option></select>
 <label for="text">name or metadata contains</label><input id="text" type="text" placeholder="e.g. door creak">
 <label for="domain">domain</label><select id="domain"><option value="">(all)</option>
  <option>speech</option><option>music</option><option>vocal</option><option>other</option></select>
 <label for="cls">sound class contains</label><input id="cls" type="text" placeholder="e.g. siren">
 <div id="status"></div><div id="legend"></div><div id="now"></div>
 <p style="color:#777;font-size:11px">Hover a point for details; click it to play the file (and see its
 trajectory when it was analysed with --segments).</p>
</div>
<div id="main"><canvas id="plot"></canvas><div id="tip"></div></div>
<audio id="player"></audio>
<script id="data" type="application/json">__DATA__</script>
<script>
(function(){
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const N = D.n, cv = document.getElementById("plot"), ctx = cv.getContext("2d"), tip = document.getElementById("tip");
const $ = id => document.getElementById(id), player = $("player");
const PAL = ["#1f77b4","#ff7f0e","#2ca02c","#d62728","#9467bd","#8c564b","#e377c2","#7f7f7f","#bcbd22","#17becf"];
let W = 0, H = 0, M = 46, shown = new Uint32Array(0), grid = null, GS = 12, hover = -1;
const api = window.emotagMap = {ready:false, shown:0, hover:-1, lastPlay:null, selected:-1, data:D};
function opt(sel, value, text){const o=document.createElement("option");o.value=value;o.textContent=text;sel.appendChild(o);}
["valence","arousal","emotion label","folder"].forEach(f=>opt($("color"),f,f));
D.descriptors.forEach(d=>{opt($("color"),"d:"+d,d+" score");opt($("desc"),d,d);});
D.labels.forEach((l,i)=>opt($("label"),String(i),l));
D.folders.forEach((f,i)=>opt($("folder"),String(i),f));
$("color").value = (__COLOR__ === "emotion_label") ? "emotion label" :
  (D.descriptors.includes(__COLOR__) ? "d:"+__COLOR__ : __COLOR__);
if (!$("color").value) $("color").value = "valence";
const X = v => M + (v + 1) / 2 * (W - 2 * M), Y = a => H - M - (a + 1) / 2 * (H - 2 * M);
api.toPixel = i => { const r = cv.getBoundingClientRect(); return [r.left + X(D.v[i]), r.top + Y(D.a[i])]; };
function ramp(t){ t = Math.max(0, Math.min(1, t)); const r = Math.round(40 + 200 * t), b = Math.round(220 - 180 * t);
  return "rgb(" + r + "," + Math.round(90 + 40 * (1 - Math.abs(2 * t - 1))) + "," + b + ")"; }
function colorOf(i){ const c = $("color").value;
  if (c === "valence") return ramp((D.v[i] + 1) / 2);
  if (c === "arousal") return ramp((D.a[i] + 1) / 2);
  if (c === "emotion label") return D.label[i] < 0 ? "#bbb" : PAL[D.label[i] % PAL.length];
  if (c === "folder") return PAL[D.folder[i] % PAL.length];
  const k = D.descriptors.indexOf(c.slice(2)); return ramp(D.scores[k][i] / 100); }
function filter(){
  const dk = D.descriptors.indexOf($("desc").value), dmin = +$("dmin").value, lab = $("label").value,
        fol = $("folder").value, txt = $("text").value.trim().toLowerCase(), out = [],
        dm = $("domain").value, cls = $("cls").value.trim().toLowerCase();
  $("dminv").textContent = (dmin / 100).toFixed(2);
  const words = txt.split(/\s+/).filter(Boolean);       // every word, in the name or the metadata
  for (let i = 0; i < N; i++) {
    if (dk >= 0 && D.scores[dk][i] < dmin) continue;
    if (lab !== "" && D.label[i] !== +lab) continue;
    if (fol !== "" && D.folder[i] !== +fol) continue;
    if (words.length) { const hay = (D.name[i] + " " + D.about[i] + " " + D.meta[i]).toLowerCase();
      if (!words.every(w => hay.indexOf(w) >= 0)) continue; }
    if (dm && D.domain[i] !== dm) continue;
    if (cls && D.classes[i].toLowerCase().indexOf(cls) < 0) continue;
    out.push(i);
  }
  shown = Uint32Array.from(out); draw();
}
function legend(){ const c = $("color").value, L = $("legend");
  if (c === "emotion label" || c === "folder") { const names = c === "folder" ? D.folders : D.labels;
    L.innerHTML = names.slice(0, 10).map((n, i) => '<div><span class="sw" style="background:' + PAL[i % PAL.length] +
      '"></span>' + n.replace(/</g, "&lt;") + "</div>").join("") + (names.length > 10 ? "<div>(colours repeat)</div>" : "");
  } else L.innerHTML = '<span class="sw" style="background:' + ramp(0) + '"></span>low &nbsp; <span class="sw" ' +
      'style="background:' + ramp(1) + '"></span>high ' + c.replace(/^d:/, ""); }
function draw(){
  const dpr = window.devicePixelRatio || 1, r = cv.getBoundingClientRect();
  W = r.width; H = r.height; cv.width = Math.round(W * dpr); cv.height = Math.round(H * dpr);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0); ctx.clearRect(0, 0, W, H);
  ctx.strokeStyle = "#ccc"; ctx.lineWidth = 1; ctx.strokeRect(X(-1), Y(1), X(1) - X(-1), Y(-1) - Y(1));
  ctx.beginPath(); ctx.moveTo(X(0), Y(-1)); ctx.lineTo(X(0), Y(1)); ctx.moveTo(X(-1), Y(0)); ctx.lineTo(X(1), Y(0)); ctx.stroke();
  ctx.fillStyle = "#555"; ctx.font = "12px system-ui,sans-serif"; ctx.textAlign = "center";
  ctx.fillText("valence: unpleasant \u2192 pleasant", X(0), H - 12);
  ctx.save(); ctx.translate(14, Y(0)); ctx.rotate(-Math.PI / 2); ctx.fillText("arousal: calm \u2192 eventful", 0, 0); ctx.restore();
  // descriptor words and their pair links
  const pos = {}; D.words.forEach(w => pos[w.w] = w);
  ctx.setLineDash([4, 4]); ctx.strokeStyle = "rgba(120,120,120,.3)";
  D.pairs.forEach(([a, b]) => { if (pos[a] && pos[b]) { ctx.beginPath(); ctx.moveTo(X(pos[a].v), Y(pos[a].a));
    ctx.lineTo(X(pos[b].v), Y(pos[b].a)); ctx.stroke(); } });
  ctx.setLineDash([]); ctx.font = "bold 12px system-ui,sans-serif";
  D.words.forEach(w => { ctx.fillStyle = "rgba(250,250,250,.75)"; const t = ctx.measureText(w.w).width;
    ctx.fillRect(X(w.v) - t / 2 - 2, Y(w.a) - 11, t + 4, 14); ctx.fillStyle = "#777"; ctx.fillText(w.w, X(w.v), Y(w.a)); });
  // points, batched by colour
  const groups = new Map();
  for (const i of shown) { const c = colorOf(i); let g = groups.get(c); if (!g) groups.set(c, g = []); g.push(i); }
  const s = shown.length > 10000 ? 2 : shown.length > 1000 ? 4 : 7;
  // files unlike the models' training data (in-domain score < 0.5) are drawn faded
  for (const [c, idx] of groups) { ctx.fillStyle = c;
    for (const i of idx) { ctx.globalAlpha = (D.dom[i] != null && D.dom[i] < 0.5) ? 0.3 : 1;
      ctx.fillRect(X(D.v[i]) - s / 2, Y(D.a[i]) - s / 2, s, s); } }
  ctx.globalAlpha = 1;
  // the selected file's trajectory through the plane (windows in time order)
  const tr = api.selected >= 0 ? D.traj[String(api.selected)] : null;
  if (tr && tr.length > 1) {
    ctx.strokeStyle = "rgba(20,20,20,.85)"; ctx.lineWidth = 1.6; ctx.beginPath();
    tr.forEach(([v, a], k) => k ? ctx.lineTo(X(v), Y(a)) : ctx.moveTo(X(v), Y(a))); ctx.stroke();
    ctx.fillStyle = "#2ca02c"; ctx.beginPath(); ctx.arc(X(tr[0][0]), Y(tr[0][1]), 5, 0, 7); ctx.fill();
    ctx.fillStyle = "#d62728"; ctx.beginPath(); ctx.arc(X(tr[tr.length - 1][0]), Y(tr[tr.length - 1][1]), 5, 0, 7); ctx.fill();
    ctx.lineWidth = 1;
  }
  // hover index: a grid of shown points in pixels
  grid = new Map();
  for (const i of shown) { const k = Math.floor(X(D.v[i]) / GS) + "," + Math.floor(Y(D.a[i]) / GS);
    let g = grid.get(k); if (!g) grid.set(k, g = []); g.push(i); }
  cv.dataset.count = String(shown.length); api.shown = shown.length;
  $("status").textContent = shown.length + " of " + N + " files shown"; legend();
}
function nearest(px, py){ let best = -1, bd = 81; const gx = Math.floor(px / GS), gy = Math.floor(py / GS);
  for (let dx = -1; dx <= 1; dx++) for (let dy = -1; dy <= 1; dy++) { const g = grid.get((gx + dx) + "," + (gy + dy));
    if (g) for (const i of g) { const d = (X(D.v[i]) - px) ** 2 + (Y(D.a[i]) - py) ** 2; if (d < bd) { bd = d; best = i; } } }
  return best; }
function top3(i){ return D.descriptors.map((d, k) => [d, D.scores[k][i]]).sort((p, q) => q[1] - p[1]).slice(0, 3); }
cv.addEventListener("mousemove", e => { const r = cv.getBoundingClientRect(), i = nearest(e.clientX - r.left, e.clientY - r.top);
  hover = api.hover = i; if (i < 0) { tip.style.display = "none"; return; }
  const esc = s => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;");
  let h = "<b>" + esc(D.name[i]) + "</b><br>valence " + D.v[i].toFixed(2) + ", arousal " + D.a[i].toFixed(2);
  if (D.label[i] >= 0) h += "<br>emotion: " + esc(D.labels[D.label[i]]) + (D.conf[i] != null ? " (" + D.conf[i].toFixed(2) + ")" : "");
  const t = top3(i); if (t.length) h += "<br>" + t.map(([d, s]) => esc(d) + " " + (s / 100).toFixed(2)).join(", ");
  if (D.about[i]) h += "<br>" + esc(D.about[i]);
  if (D.classes[i]) h += "<br>sounds like: " + esc(D.classes[i]) + (D.domain[i] ? " (" + esc(D.domain[i]) + ")" : "");
  if (D.dom[i] != null) h += "<br>in-domain " + D.dom[i].toFixed(2) + (D.dom[i] < 0.5 ? " (unlike the training data: a guess)" : "");
  tip.innerHTML = h; tip.style.display = "block";
  tip.style.left = Math.min(e.clientX - r.left + 12, W - 330) + "px"; tip.style.top = (e.clientY - r.top + 12) + "px"; });
cv.addEventListener("mouseleave", () => { tip.style.display = "none"; });
cv.addEventListener("click", e => { const r = cv.getBoundingClientRect(), i = nearest(e.clientX - r.left, e.clientY - r.top);
  if (i < 0) return; const src = D.srcdir[D.folder[i]] + encodeURIComponent(D.name[i]);
  player.src = src; api.lastPlay = {index: i, src: src, ok: null};
  api.selected = i; draw();
  $("now").textContent = "\u25B6 " + D.name[i] + (D.traj[String(i)] ? " (its path through the plane: green start, red end)" : "");
  player.play().then(() => { api.lastPlay.ok = true; }, err => { api.lastPlay.ok = false; api.lastPlay.error = String(err);
    $("now").textContent = "cannot play " + D.name[i] + ": " + err; }); });
["color","desc","dmin","label","folder","text","domain","cls"].forEach(id => $(id).addEventListener("input", filter));
window.addEventListener("resize", draw);
filter(); api.ready = true;
})();
</script></body></html>
"""
