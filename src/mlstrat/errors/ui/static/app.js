// mlstrat error-analysis UI: keyboard tagging over a small JSON API. No dependencies.
(function () {
  "use strict";
  var token = document.querySelector('meta[name="mlstrat-token"]').content;
  var state = JSON.parse(document.getElementById("initial-state").textContent);
  var OTHER_CAUSES = "no category: other causes";
  var SUMMARY_COLUMNS = ["category", "count", "share", "95% CI", "ceiling", "error if fixed"];
  var row = state.row;
  var pending = 0;
  var $ = function (id) { return document.getElementById(id); };

  function setPending(delta) {
    pending += delta;
    document.body.dataset.pending = String(pending);
  }

  function status(text, kind) {
    var el = $("status");
    el.textContent = text;
    el.className = "status " + (kind || "");
  }

  function api(method, path, body) {
    var opts = { method: method, headers: { "X-Mlstrat-Token": token }, credentials: "same-origin" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(path, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) { throw new Error(data.error || ("HTTP " + r.status)); }
        return data;
      });
    });
  }

  // A change counts as saved only when the server acknowledged it (after its commit).
  // Answers can arrive out of order (the position saved on moving, then a tag): each carries
  // the server's state when it was sent, so an answer older than one already shown is dropped
  // instead of turning the page back to a stale state.
  var issued = 0;
  var shown = 0;

  function post(path, body) {
    var ticket = ++issued;
    return api("POST", path, body).then(function (data) {
      if (ticket > shown) {
        shown = ticket;
        applyUpdate(data);
      }
      return data;
    });
  }

  function change(path, body) {
    setPending(1);
    status("Saving…", "busy");
    return post(path, body).then(function (data) {
      setPending(-1);
      if (pending === 0) { status("All changes saved", "ok"); }
      return data;
    }).catch(function (err) {
      setPending(-1);
      status("Not saved: " + err.message, "error");
      throw err;
    });
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function applyUpdate(data) {
    if (data.categories) { state.categories = data.categories; }
    if (data.progress) { state.progress = data.progress; }
    if (data.summary) { state.summary = data.summary; }
    if (data.row && row && data.row.id === row.id) {
      row.tags = data.row.tags;
      row.comment = data.row.comment;
      row.reviewed = data.row.reviewed;
    }
    if (data.row) {
      state.rows.forEach(function (r) { if (r.id === data.row.id) { r.tags = data.row.tags; } });
    }
    renderCategories();
    renderProgress();
    renderSummary();
  }

  function renderProgress() {
    var p = state.progress;
    $("progress").textContent = p.tagged + " / " + p.total;
    $("progress-bar").style.width = (p.total ? (100 * p.tagged / p.total) : 0).toFixed(1) + "%";
  }

  function renderCategories() {
    var box = $("categories");
    box.textContent = "";
    state.categories.forEach(function (cat, i) {
      var on = row && row.tags.indexOf(cat) >= 0;
      var b = el("button", { type: "button", "class": "cat" + (on ? " on" : ""), "data-name": cat,
                             "aria-pressed": on ? "true" : "false" });
      if (i < 9) { b.appendChild(el("kbd", {}, String(i + 1))); b.appendChild(document.createTextNode(" ")); }
      b.appendChild(document.createTextNode(cat));
      b.addEventListener("click", function () { toggle(cat); });
      box.appendChild(b);
    });
    // the explicit "no category" mark: only it (or a tag) counts a row as reviewed
    var none = row && row.reviewed && row.tags.length === 0;
    var nb = el("button", { type: "button", "class": "nocat" + (none ? " on" : ""), id: "no-category",
                            "aria-pressed": none ? "true" : "false" });
    nb.appendChild(el("kbd", {}, "0"));
    nb.appendChild(document.createTextNode(" no category (other causes)"));
    nb.addEventListener("click", markNoCategory);
    box.appendChild(nb);
  }

  function markNoCategory() {
    if (!row || row.tags.length) { return; }
    var on = !row.reviewed;
    row.reviewed = on;
    renderCategories();
    change("/api/tag", { id: row.id, category: OTHER_CAUSES, on: on }).catch(function () { go(row.pos); });
  }

  // Shares are over the mistakes reviewed so far (tagged or not): "N of M reviewed" and the
  // interval keep early shares readable as the rough estimates they are.
  function renderSummary() {
    var s = state.summary;
    $("summary-note").textContent = s.reviewed + " of " + s.sample_size + " reviewed";
    var body = $("summary-body");
    body.textContent = "";
    // the figures come formatted by the server, as `errors summarize` and the report print them;
    // each cell names its column, so that a phone can show a row as "column  value" lines
    s.shown.rows.forEach(function (c, i, all) {
      var tr = el("tr", i === all.length - 1 ? { "class": "other" } : {});
      [c.name, c.count, c.share, c.share_ci, c.ceiling, c.error_if_fixed]
        .forEach(function (v, k) { tr.appendChild(el("td", { "data-label": SUMMARY_COLUMNS[k] }, v)); });
      body.appendChild(tr);
    });
    $("advice").textContent = s.advice || "";
  }

  // Pixel features as an image: shape (C, H, W), C = 1 (grey, ink dark on white) or 3 (RGB).
  function drawPixels(px) {
    var shape = px.shape || [1, px.side, px.side];
    var c = shape[0], h = shape[1], w = shape[2], vals = px.values, plane = h * w;
    var max = Math.max.apply(null, vals), min = Math.min(0, Math.min.apply(null, vals));
    var span = (max - min) || 1;
    var canvas = el("canvas", { width: w, height: h, "class": "pixels", "aria-label": "pixel image " + h + "x" + w });
    var ctx = canvas.getContext("2d");
    var img = ctx.createImageData(w, h);
    for (var i = 0; i < plane; i++) {
      for (var k = 0; k < 3; k++) {
        var v = (vals[(c === 3 ? k : 0) * plane + i] - min) / span;
        img.data[4 * i + k] = Math.round(255 * (c === 3 ? v : 1 - v));
      }
      img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    var scale = Math.max(1, Math.floor(224 / Math.max(w, h)));
    canvas.style.width = (w * scale) + "px";
    canvas.style.height = (h * scale) + "px";
    return canvas;
  }

  function fileUrl(path) { return "/file/" + encodeURIComponent(path); }

  function renderMedia(vis) {
    vis.textContent = "";
    row.images.forEach(function (im) {
      var fig = el("figure");
      fig.appendChild(el("img", { alt: im.column + ": " + im.path, src: fileUrl(im.path) }));
      fig.appendChild(el("figcaption", {}, im.path));
      vis.appendChild(fig);
    });
    (row.audio || []).forEach(function (au) {
      var fig = el("figure", { "class": "audio" });
      fig.appendChild(el("audio", { controls: "", preload: "metadata", src: fileUrl(au.path),
                                    "aria-label": au.column + ": " + au.path }));
      fig.appendChild(el("figcaption", {}, au.path));
      vis.appendChild(fig);
    });
    if (row.pixels) { vis.appendChild(drawPixels(row.pixels)); }
  }

  // Numeric features: value and z-score against train; the most unusual ones highlighted.
  function renderFeatures() {
    var box = $("features");
    box.textContent = "";
    var feats = row.features || [];
    box.className = feats.length ? "features" : "features hidden";
    if (!feats.length) { return; }
    var table = el("table");
    var head = el("tr");
    ["feature", "value", "z vs train"].forEach(function (h) { head.appendChild(el("th", {}, h)); });
    table.appendChild(head);
    feats.forEach(function (f) {
      var tr = el("tr", f.unusual ? { "class": "unusual", title: "among the most unusual values (|z| >= 2)" } : {});
      tr.appendChild(el("th", {}, f.column));
      tr.appendChild(el("td", {}, f.value));
      tr.appendChild(el("td", {}, f.z === null ? "" : (f.z > 0 ? "+" : "") + f.z.toFixed(1)));
      table.appendChild(tr);
    });
    box.appendChild(table);
  }

  function renderRow() {
    if (!row) { return; }
    $("pos").textContent = String(row.pos + 1);
    $("row-id").textContent = row.id;
    $("y-true").textContent = row.y_true;
    $("y-pred").textContent = row.y_pred;
    $("y-pred").className = row.y_pred === row.y_true ? "match" : "";
    $("confidence").textContent = row.confidence ? "confidence " + row.confidence : "";
    $("sampled-as").className = "badge " + (row.sampled_as === "correct" ? "correct" : "hidden");
    renderMedia($("visual"));
    renderFeatures();
    var texts = $("texts");
    texts.textContent = "";
    row.texts.forEach(function (t) {
      var fig = el("figure", { "class": "text" });
      fig.appendChild(el("figcaption", {}, t.column));
      fig.appendChild(el("div", { "class": "text-body", tabindex: "0" }, t.text));
      texts.appendChild(fig);
    });
    var fields = $("fields");
    fields.textContent = "";
    row.fields.forEach(function (f) {
      var tr = el("tr");
      tr.appendChild(el("th", {}, f.column));
      tr.appendChild(el("td", {}, f.value));
      fields.appendChild(tr);
    });
    $("fields-box").className = row.fields.length ? "" : "hidden";
    $("fields-box").open = !row.images.length && !(row.audio || []).length && !row.pixels &&
      !row.texts.length && !(row.features || []).length;
    $("comment").value = row.comment;
    renderCategories();
  }

  function go(pos) {
    if (pos < 0 || pos >= state.total) { return; }
    saveComment();
    api("GET", "/api/rows/" + pos).then(function (data) {
      row = data;
      renderRow();
      // remember the position (moving reviews nothing: a tag or "no category" does)
      setPending(1);
      post("/api/position", { position: pos }).catch(function () {}).then(function () {
        setPending(-1);
        // a change that finished while the position was in flight left "Saving…" showing
        if (pending === 0 && $("status").classList.contains("busy")) { status("All changes saved", "ok"); }
      });
    }).catch(function (err) { status("Could not load: " + err.message, "error"); });
  }

  function toggle(cat) {
    if (!row) { return; }
    var on = row.tags.indexOf(cat) < 0;
    // show the intent at once; the state from the server's answer replaces it
    row.tags = on ? row.tags.concat([cat]) : row.tags.filter(function (t) { return t !== cat; });
    renderCategories();
    change("/api/tag", { id: row.id, category: cat, on: on }).catch(function () {
      go(row.pos); // reload the row's true state
    });
  }

  function saveComment() {
    if (!row) { return; }
    var text = $("comment").value;
    if (text === row.comment) { return; }
    row.comment = text;
    change("/api/comment", { id: row.id, text: text }).catch(function () {});
  }

  $("comment").addEventListener("blur", saveComment);
  $("prev").addEventListener("click", function () { if (row) { go(row.pos - 1); } });
  $("next").addEventListener("click", function () { if (row) { go(row.pos + 1); } });
  $("add-category").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var input = $("new-category");
    var name = input.value.trim();
    if (!name) { return; }
    change("/api/category", { name: name }).then(function () {
      input.value = "";
      input.blur();
    }).catch(function () {});
  });

  document.addEventListener("keydown", function (ev) {
    var t = ev.target;
    var typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA");
    if (typing) {
      if (ev.key === "Escape") { t.blur(); }
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    if (ev.key === "0") {
      markNoCategory(); ev.preventDefault();
    } else if (ev.key >= "1" && ev.key <= "9") {
      var cat = state.categories[Number(ev.key) - 1];
      if (cat !== undefined) { toggle(cat); ev.preventDefault(); }
    } else if (ev.key === "j" || ev.key === "ArrowRight") {
      if (row) { go(row.pos + 1); } ev.preventDefault();
    } else if (ev.key === "k" || ev.key === "ArrowLeft") {
      if (row) { go(row.pos - 1); } ev.preventDefault();
    } else if (ev.key === "c") {
      $("comment").focus(); ev.preventDefault();
    } else if (ev.key === "n") {
      $("new-category").focus(); ev.preventDefault();
    }
  });

  window.addEventListener("beforeunload", function (ev) {
    if (pending > 0) { ev.preventDefault(); ev.returnValue = ""; }
  });

  renderRow();
  renderProgress();
  renderSummary();
})();
