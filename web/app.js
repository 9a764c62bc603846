// emotag web app: search a library by feeling, audition, export, drop a reference, scan.
// Plain JavaScript written for this project: no framework, no build step, no CDN.
// It talks to the server's JSON API (/api/...); window.emotagApp exposes its state to tests.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const app = window.emotagApp = {ready: false, results: [], refResults: [], lastPlay: null, selected: -1,
                                  searches: 0, reference: null};
  const player = $("player");
  let near = null, offset = 0, lastQuery = "", vocab = {descriptors: [], labels: [], folders: []};

  function esc(s) { return String(s == null ? "" : s).replace(/&/g, "&amp;").replace(/</g, "&lt;"); }
  function status(msg, bad) { const s = $("status"); s.textContent = msg || ""; s.className = bad ? "bad" : ""; }
  async function api(path, opts) {
    const r = await fetch(path, opts);
    const body = (r.headers.get("content-type") || "").includes("json") ? await r.json() : await r.text();
    if (!r.ok) throw new Error((body && body.error) || ("HTTP " + r.status));
    return body;
  }

  // ---- tabs
  document.querySelectorAll("nav button").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));
  function showTab(name) {
    document.querySelectorAll("nav button").forEach((b) => b.classList.toggle("on", b.dataset.tab === name));
    document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("on", t.id === "tab-" + name));
    if (name === "map" && !$("map-frame").src) $("map-frame").src = "/map";
    if (name === "scan") listScans();
  }

  // ---- the search form
  function buildForm() {
    const box = $("sliders");
    box.innerHTML = "";
    vocab.descriptors.forEach((d) => {
      const row = document.createElement("div");
      row.className = "slider";
      row.innerHTML = '<label><input type="checkbox" data-d="' + esc(d) + '"> ' + esc(d) + ' &ge; <span>0.50</span></label>' +
        '<input type="range" min="0" max="100" value="50" data-d="' + esc(d) + '" aria-label="' + esc(d) + ' minimum">';
      const rng = row.querySelector("input[type=range]"), span = row.querySelector("span"),
            chk = row.querySelector("input[type=checkbox]");
      rng.addEventListener("input", () => { span.textContent = (rng.value / 100).toFixed(2); chk.checked = true; });
      box.appendChild(row);
    });
    vocab.labels.forEach((l) => { const o = document.createElement("option"); o.value = o.textContent = l; $("label").appendChild(o); });
    vocab.folders.forEach((f) => { const o = document.createElement("option"); o.value = f; $("folders").appendChild(o); });
  }
  function params() {
    const p = new URLSearchParams();
    document.querySelectorAll("#sliders input[type=checkbox]").forEach((c) => {
      if (c.checked) {
        const r = document.querySelector('#sliders input[type=range][data-d="' + CSS.escape(c.dataset.d) + '"]');
        p.append("descriptor", c.dataset.d + ":" + (r.value / 100).toFixed(2));
      }
    });
    if (near) p.set("near", near[0].toFixed(3) + "," + near[1].toFixed(3));
    const fields = {label: "label", text: "text", category: "category", under: "folder"};
    Object.entries(fields).forEach(([k, id]) => { const v = $(id).value.trim(); if (v) p.set(k, v); });
    if ($("sort").value && !near && !p.has("descriptor")) p.set("sort", $("sort").value);
    return p;
  }
  async function search(more) {
    const p = params();
    offset = more ? offset + 50 : 0;
    p.set("limit", "50"); p.set("offset", String(offset));
    lastQuery = params().toString();
    $("export-m3u").href = "/api/export.m3u?" + lastQuery + "&limit=500";
    $("export-csv").href = "/api/export.csv?" + lastQuery + "&limit=500";
    try {
      const out = await api("/api/search?" + p.toString());
      app.results = more ? app.results.concat(out.results) : out.results;
      render($("results"), app.results, {query: lastQuery});
      drawPlane();
      $("count").textContent = app.results.length + " files" + (out.count === 50 ? " (more below)" : "");
      $("more").hidden = out.count < 50;
      status("");
    } catch (e) { status(e.message, true); }
    app.searches += 1;
  }
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); search(false); });
  $("more").addEventListener("click", () => search(true));

  // ---- the plane
  const plane = $("plane"), pctx = plane.getContext("2d");
  function drawPlane() {
    const w = plane.width, h = plane.height;
    pctx.clearRect(0, 0, w, h);
    pctx.strokeStyle = "#bbb"; pctx.strokeRect(0.5, 0.5, w - 1, h - 1);
    pctx.beginPath(); pctx.moveTo(w / 2, 0); pctx.lineTo(w / 2, h); pctx.moveTo(0, h / 2); pctx.lineTo(w, h / 2); pctx.stroke();
    pctx.fillStyle = "#888"; pctx.font = "10px sans-serif";
    pctx.fillText("pleasant →", w - 62, h / 2 - 4); pctx.fillText("aroused ↑", w / 2 + 4, 10);
    pctx.fillStyle = "rgba(31,119,180,0.55)";                 // the current results
    app.results.forEach((r) => { pctx.fillRect((r.valence + 1) / 2 * w - 1.5, (1 - r.arousal) / 2 * h - 1.5, 3, 3); });
    if (near) {
      pctx.fillStyle = "#d62728"; pctx.beginPath();
      pctx.arc((near[0] + 1) / 2 * w, (1 - near[1]) / 2 * h, 5, 0, 7); pctx.fill();
    }
    $("near-text").textContent = near ? "valence " + near[0].toFixed(2) + ", arousal " + near[1].toFixed(2) : "any";
  }
  plane.addEventListener("click", (e) => {
    const r = plane.getBoundingClientRect();
    const v = (e.clientX - r.left) / r.width * 2 - 1, a = 1 - (e.clientY - r.top) / r.height * 2;
    near = near && Math.hypot(near[0] - v, near[1] - a) < 0.08 ? null : [Math.max(-1, Math.min(1, v)), Math.max(-1, Math.min(1, a))];
    drawPlane();
  });

  // ---- result lists (search and recommendations), audition, feedback
  function render(list, rows, ctx) {
    list.innerHTML = "";
    rows.forEach((r, i) => {
      const li = document.createElement("li");
      li.dataset.i = i;
      const name = r.path.split("/").pop();
      const what = r.description || r.sound_classes || "";
      li.innerHTML = '<button class="play" title="play (Space)">▶</button> <span class="name">' + esc(name) + '</span>' +
        ' <span class="va">v ' + (+r.valence).toFixed(2) + ' a ' + (+r.arousal).toFixed(2) + '</span>' +
        (r.emotion_label ? ' <span class="lab">' + esc(r.emotion_label) + '</span>' : '') +
        (r.source ? ' <span class="src" title="' + esc(r.because || "") + '">for the ' + esc(r.source) + '</span>' : '') +
        ' <span class="what">' + esc(what) + '</span>' +
        ' <span class="acts"><a class="dl" href="/api/files/' + r.file_id + '/audio?download=1" download>download</a>' +
        ' <button class="pick" title="pick (P)">pick</button> <button class="reject" title="reject (R)">reject</button></span>';
      li.querySelector(".play").addEventListener("click", () => { select(list, i); toggle(list, rows, i); });
      li.querySelector(".pick").addEventListener("click", () => feedback(rows[i], "picked", ctx, li));
      li.querySelector(".reject").addEventListener("click", () => feedback(rows[i], "rejected", ctx, li));
      if (ctx.downloads) li.querySelector(".dl").addEventListener("click", () => feedback(rows[i], "exported", ctx, null));
      li.addEventListener("click", (e) => { if (e.target === li || e.target.classList.contains("name")) select(list, i); });
      list.appendChild(li);
    });
    list.onkeydown = (e) => {
      const cur = +(list.dataset.sel || -1);
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const n = Math.max(0, Math.min(rows.length - 1, cur + (e.key === "ArrowDown" ? 1 : -1)));
        select(list, n);
        if (!player.paused) play(rows, n);
      } else if (e.key === " ") { e.preventDefault(); if (cur >= 0) toggle(list, rows, cur); }
      else if ((e.key === "p" || e.key === "r") && cur >= 0) {
        feedback(rows[cur], e.key === "p" ? "picked" : "rejected", ctx, list.children[cur]);
      }
    };
  }
  function select(list, i) {
    [...list.children].forEach((c, k) => c.classList.toggle("sel", k === i));
    list.dataset.sel = i;
    if (list.children[i]) list.children[i].scrollIntoView({block: "nearest"});
    app.selected = i;
    if (list === $("results")) detail(app.results[i]);
  }
  function play(rows, i) {
    const r = rows[i];
    const src = "/api/files/" + r.file_id + "/audio";
    app.lastPlay = {file_id: r.file_id, src: src, ok: null};
    player.src = src;
    player.play().then(() => { app.lastPlay.ok = true; }, (err) => { app.lastPlay.ok = false; app.lastPlay.error = String(err); });
  }
  function toggle(list, rows, i) {
    const same = app.lastPlay && rows[i] && app.lastPlay.file_id === rows[i].file_id;
    if (same && !player.paused) player.pause(); else play(rows, i);
  }
  async function feedback(row, action, ctx, li) {
    try {
      await api("/api/feedback", {method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({file_ids: [row.file_id], action: action, reference: ctx.reference || null,
                              query: row.because || ctx.query || null})});
      if (li) { li.classList.remove("picked", "rejected"); li.classList.add(action); }
      status(action + ": " + row.path.split("/").pop());
    } catch (e) { status(e.message, true); }
  }
  ["export-m3u", "export-csv"].forEach((id) => $(id).addEventListener("click", () => {
    const ids = app.results.map((r) => r.file_id).filter((x) => x != null);
    if (ids.length) api("/api/feedback", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({file_ids: ids.slice(0, 500), action: "exported", query: lastQuery})}).catch(() => {});
  }));

  // ---- one file's detail and timeline
  async function detail(row) {
    const box = $("detail");
    if (!row) { box.innerHTML = ""; return; }
    try {
      const rec = await api("/api/files/" + row.file_id);
      const p = rec.prediction || {};
      const words = Object.entries(rec.descriptor_scores || {}).sort((a, b) => b[1] - a[1]).slice(0, 4)
        .map(([w, s]) => esc(w) + " " + s.toFixed(2)).join(", ");
      const meta = Object.entries(rec.metadata || {}).map(([k, v]) => esc(k) + ": " + esc(v)).join("; ");
      box.innerHTML = "<h3>" + esc(rec.path.split("/").pop()) + "</h3><p>valence " + (+p.valence).toFixed(2) +
        ", arousal " + (+p.arousal).toFixed(2) + (p.emotion_label ? ", " + esc(p.emotion_label) : "") +
        "; " + words + "</p>" + (meta ? "<p class='meta'>" + meta + "</p>" : "") +
        (rec.segments ? '<canvas id="timeline" width="560" height="110"></canvas>' : "");
      if (rec.segments) {
        const seg = await api("/api/files/" + row.file_id + "/segments");
        timeline($("timeline"), seg.segments.map((s) => ({start: s.start_s, end: s.end_s, v: s.valence, a: s.arousal})));
      }
    } catch (e) { box.textContent = e.message; }
  }
  function timeline(cv, segs) {
    const c = cv.getContext("2d"), w = cv.width, h = cv.height;
    c.clearRect(0, 0, w, h);
    if (!segs.length) return;
    const t0 = segs[0].start, t1 = segs[segs.length - 1].end;
    const X = (t) => 30 + (t - t0) / Math.max(1e-9, t1 - t0) * (w - 40), Y = (x) => h / 2 - x * (h / 2 - 8);
    c.strokeStyle = "#ccc"; c.beginPath(); c.moveTo(30, h / 2); c.lineTo(w - 10, h / 2); c.stroke();
    [["v", "#1f77b4"], ["a", "#d62728"]].forEach(([k, col]) => {
      c.strokeStyle = col; c.lineWidth = 2; c.beginPath();
      segs.forEach((s, i) => { const x = X((s.start + s.end) / 2), y = Y(s[k]); if (i) c.lineTo(x, y); else c.moveTo(x, y); });
      c.stroke();
    });
    c.fillStyle = "#1f77b4"; c.fillText("valence", 2, 10); c.fillStyle = "#d62728"; c.fillText("arousal", 2, 22);
    c.fillStyle = "#666"; c.fillText(t0.toFixed(0) + " s", 30, h - 2); c.fillText(t1.toFixed(0) + " s", w - 40, h - 2);
  }

  // ---- a dropped reference
  const drop = $("drop");
  ["dragenter", "dragover"].forEach((ev) => drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((ev) => drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
  drop.addEventListener("drop", (e) => { if (e.dataTransfer.files.length) reference(e.dataTransfer.files[0]); });
  $("ref-file").addEventListener("change", (e) => { if (e.target.files.length) reference(e.target.files[0]); });
  function isVideo(file) {
    return /^video\//.test(file.type || "") || /\.(mp4|m4v|mov|mkv|webm|avi|mts|mxf)$/i.test(file.name);
  }
  async function reference(file) {
    $("ref-out").textContent = "analysing " + file.name + " ...";
    $("ref-results").innerHTML = "";
    $("ref-video").hidden = true;
    if (isVideo(file)) return referenceVideo(file);
    try {
      const fd = new FormData(); fd.append("file", file);
      const ref = await api("/api/analyse?segments=3,1", {method: "POST", body: fd});
      app.reference = ref;
      $("ref-out").innerHTML = "<b>" + esc(file.name) + "</b>: valence " + ref.valence.toFixed(2) + ", arousal " +
        ref.arousal.toFixed(2) + ", " + esc(ref.emotion_label) + " (" + esc(ref.emotion_source) + ", " +
        (ref.emotion_confidence == null ? "" : ref.emotion_confidence.toFixed(2)) + ")" +
        (ref.out_of_domain ? " <i>unlike the training data: a guess</i>" : "") + "<br>sounds like: " + esc(ref.sound_classes);
      timeline($("ref-timeline"), (ref.segments || []).map((s) => ({start: s.start, end: s.end, v: s.valence, a: s.arousal})));
      const fd2 = new FormData(); fd2.append("file", file); fd2.append("kind", $("ref-kind").value); fd2.append("limit", "10");
      const rec = await api("/api/recommend", {method: "POST", body: fd2});
      app.refResults = rec.results;
      render($("ref-results"), rec.results, {reference: file.name});
    } catch (e) { $("ref-out").textContent = e.message; }
  }

  // ---- a dropped video: face and voice lanes, shots, recommendations per shot
  const COLOURS = {happy: "#2ca02c", surprised: "#17becf", neutral: "#999", calm: "#9edae5", sad: "#1f77b4",
                   fearful: "#9467bd", angry: "#d62728", disgust: "#8c564b"};
  function lanes(cv, out) {
    const c = cv.getContext("2d"), w = cv.width, h = cv.height, T = Math.max(1e-9, out.duration);
    c.clearRect(0, 0, w, h);
    const X = (t) => 50 + t / T * (w - 60);
    [["face", 4, "face_label"], ["voice", 42, "voice_label"]].forEach(([name, y, key]) => {
      c.fillStyle = "#333"; c.fillText(name, 2, y + 20);
      out.faces.forEach((r, i) => {
        const lab = r[key];
        if (!lab || lab === "no_face") return;
        // each window owns the span between the midpoints to its neighbours' centres (any hop)
        const mid = (w) => (w.start + w.end) / 2, prev = out.faces[i - 1], next = out.faces[i + 1];
        const x0 = X(prev ? (mid(prev) + mid(r)) / 2 : r.start), x1 = X(next ? (mid(r) + mid(next)) / 2 : r.end);
        c.fillStyle = COLOURS[lab] || "#bbb"; c.fillRect(x0, y, Math.max(1, x1 - x0 - 1), 30);
        c.fillStyle = "#fff"; if (x1 - x0 > 30) c.fillText(lab, x0 + 2, y + 19);
      });
    });
    c.strokeStyle = "#000";
    out.scenes.slice(1).forEach((s) => { c.beginPath(); c.moveTo(X(s.start), 0); c.lineTo(X(s.start), h); c.stroke(); });
    c.fillStyle = "#666"; c.fillText("0 s", 50, h - 2); c.fillText(T.toFixed(0) + " s", w - 30, h - 2);
  }
  function emo(e) {
    return e ? esc(e.label || "") + " (v " + (+e.valence).toFixed(2) + ", a " + (+e.arousal).toFixed(2) + ")" : "none";
  }
  async function referenceVideo(file) {
    try {
      const fd = new FormData(); fd.append("file", file); fd.append("kind", $("ref-kind").value); fd.append("limit", "5");
      const out = await api("/api/reference/video", {method: "POST", body: fd});
      app.reference = out;
      const faces = out.faces.filter((r) => r.face_label !== "no_face").length;
      const voice = out.faces.filter((r) => r.voice_label).length;
      $("ref-out").innerHTML = "<b>" + esc(file.name) + "</b>: " + out.scenes.length + " shot(s); a face in " + faces +
        " of " + out.faces.length + " windows, speech in " + voice +
        (out.valence == null ? "" : "; the soundtrack: valence " + out.valence.toFixed(2) + ", arousal " +
         out.arousal.toFixed(2)) + (out.warnings.length ? "<br><i>" + esc(out.warnings.join("; ")) + "</i>" : "");
      timeline($("ref-timeline"), (out.segments || []).map((s) => ({start: s.start, end: s.end, v: s.valence, a: s.arousal})));
      const th = $("ref-thumbs"); th.innerHTML = "";
      Object.entries(out.thumbnails).sort((a, b) => (+b[0] === out.main_track) - (+a[0] === out.main_track))
        .forEach(([k, src]) => {
          const img = document.createElement("img");
          img.src = src; img.alt = "face " + k; img.className = "thumb" + (+k === out.main_track ? " main" : "");
          th.appendChild(img);
        });
      lanes($("ref-lanes"), out);
      const box = $("ref-scenes"); box.innerHTML = "";
      out.scenes.forEach((sc, i) => {
        const d = document.createElement("div"); d.className = "scene";
        d.innerHTML = "<h4>shot " + (i + 1) + " (" + sc.start.toFixed(1) + "-" + sc.end.toFixed(1) + " s): face " +
          emo(sc.face) + "; voice " + emo(sc.voice) +
          (sc.face && sc.voice && sc.face.label !== sc.voice.label ? ' <span class="disagree">face and voice disagree</span>' : "") +
          "</h4>";
        const ol = document.createElement("ol"); ol.tabIndex = 0; ol.className = "scene-results";
        d.appendChild(ol); box.appendChild(d);
        render(ol, sc.results, {reference: file.name + " shot " + (i + 1), downloads: true});
      });
      $("ref-video").hidden = false;
    } catch (e) { $("ref-out").textContent = e.message; }
  }

  // ---- scans
  $("scan-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const job = await api("/api/scans", {method: "POST", headers: {"Content-Type": "application/json"},
                                           body: JSON.stringify({folder: $("scan-folder").value})});
      follow(job.id);
    } catch (err) { $("scan-text").textContent = err.message; }
  });
  async function follow(id) {
    const j = await api("/api/scans/" + id);
    $("scan-bar").max = Math.max(1, j.total || 1); $("scan-bar").value = j.done || 0;
    $("scan-text").textContent = j.folder + ": " + j.status + ", " + (j.done || 0) + " of " + (j.total == null ? "?" : j.total) +
      " files" + (j.failures.length ? ", " + j.failures.length + " failed" : "") + (j.error ? " (" + j.error + ")" : "");
    $("scan-failures").innerHTML = j.failures.map((f) => "<li>" + esc(f[0]) + ": " + esc(f[1]) + "</li>").join("");
    app.scan = j;
    if (j.status === "queued" || j.status === "running") setTimeout(() => follow(id), 400);
    else listScans();
  }
  async function listScans() {
    try {
      const s = await api("/api/scans");
      $("scan-list").innerHTML = s.scans.slice(0, 20).map((j) => "<li>" + esc(j.folder) + ": " + esc(j.status) + ", " +
        j.done + " of " + (j.total == null ? "?" : j.total) + "</li>").join("");
    } catch (e) { /* shown by the next action */ }
  }

  // ---- start
  (async function start() {
    drawPlane();
    try {
      vocab = await api("/api/vocabulary");
      buildForm();
      await search(false);
      $("results").focus();
    } catch (e) { status(e.message, true); }
    app.ready = true;
  })();
})();
