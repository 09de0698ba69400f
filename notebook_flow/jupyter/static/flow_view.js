// notebook_flow live view: the DAG (SVG laid out in the kernel), node states as CSS classes,
// a filterable log, a status line, progress bars and node details on click.
// Everything heavy happens in the kernel; this file only toggles classes and appends rows.

const STATES = [
  "idle", "pending", "paused", "running", "done", "recovered", "failed", "aborted", "skipped", "cancelled",
];
const ZOOM_MIN = 0.05;
const ZOOM_MAX = 4;
const GRAPH_MAX_HEIGHT = 560; // px: taller graphs are fitted to this height or scrolled by panning
const GRAPH_MIN_HEIGHT = 90;
const STATE_CLASSES = STATES.map((s) => "nf-" + s);
const CATEGORIES = [
  ["progress", "progress"],
  ["step", "steps"],
  ["error", "errors"],
  ["run", "run"],
];

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function svgEl(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  return node;
}

// Bounding box of a node's shape from its attributes (works even while the output is hidden).
function shapeBox(group) {
  const shape = group.querySelector("path, polygon, ellipse");
  if (!shape) return null;
  if (shape.tagName === "ellipse") {
    const [cx, cy, rx, ry] = ["cx", "cy", "rx", "ry"].map((a) => parseFloat(shape.getAttribute(a)));
    return [cx - rx, cy - ry, cx + rx, cy + ry];
  }
  const raw = shape.getAttribute("d") || shape.getAttribute("points") || "";
  const nums = (raw.match(/-?\d+(?:\.\d+)?/g) || []).map(Number);
  const xs = nums.filter((_, i) => i % 2 === 0);
  const ys = nums.filter((_, i) => i % 2 === 1);
  if (!xs.length) return null;
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

// Put ``text`` into ``node`` with line-break chances after dots and before underscores only, so
// a long qualified name wraps between its parts, never inside a word.
function breakable(node, text) {
  const parts = String(text || "").split(/(?<=\.)(?!_)|(?<=[^_.])(?=_)/);
  parts.forEach((part, i) => {
    if (i) node.appendChild(document.createElement("wbr"));
    node.appendChild(document.createTextNode(part));
  });
  return node;
}

function fmtSeconds(s) {
  if (s === null || s === undefined) return "–";
  if (s < 1) return (s * 1000).toFixed(s < 0.01 ? 1 : 0) + " ms";
  if (s < 60) return s.toFixed(2) + " s";
  return Math.floor(s / 60) + " min " + (s % 60).toFixed(0) + " s";
}

// The natural size of a Graphviz SVG in CSS px (it is given in pt).
function svgSize(svg) {
  const px = (v) => {
    const n = parseFloat(v || "0");
    return /pt$/.test(v || "") ? (n * 96) / 72 : n;
  };
  let w = px(svg.getAttribute("width"));
  let h = px(svg.getAttribute("height"));
  if (!(w > 0 && h > 0)) {
    const vb = (svg.getAttribute("viewBox") || "").split(/[\s,]+/).map(Number);
    [w, h] = [vb[2] || 100, vb[3] || 100];
  }
  return [w, h];
}

// Zoom and pan over one SVG: a transform on a stage inside a clipping box. The view is fitted to
// the box's width at first display and on "fit"; it follows the running nodes until the user
// zooms or drags it.
function makeViewport(box, onChange) {
  const stage = el("div", "nf-stage");
  box.appendChild(stage);
  const vp = { k: 1, x: 0, y: 0, w: 0, h: 0, moved: false, stage };

  function apply() {
    stage.style.transform = `translate(${vp.x}px, ${vp.y}px) scale(${vp.k})`;
    onChange(vp);
  }
  function clamp() {
    const bw = box.clientWidth || 600;
    const bh = box.clientHeight || 200;
    const sw = vp.w * vp.k;
    const sh = vp.h * vp.k;
    // keep at least a quarter of the box covered by the graph: it cannot be lost off-screen
    vp.x = Math.min(Math.max(vp.x, Math.min(0, bw * 0.75 - sw)), Math.max(0, bw * 0.25, bw - sw));
    vp.y = Math.min(Math.max(vp.y, Math.min(0, bh * 0.75 - sh)), Math.max(0, bh * 0.25, bh - sh));
  }
  vp.setContent = (w, h) => {
    vp.w = w;
    vp.h = h;
    stage.style.width = w + "px";
    stage.style.height = h + "px";
  };
  vp.fit = () => {
    const bw = Math.max((box.clientWidth || 600) - 2, 50);
    vp.k = Math.min(1, bw / vp.w);
    // a tall graph: fit its height too, unless that makes it unreadably small (then pan)
    if (vp.h * vp.k > GRAPH_MAX_HEIGHT) vp.k = Math.max(Math.min(vp.k, GRAPH_MAX_HEIGHT / vp.h), Math.min(vp.k, 0.35));
    // room for the count badges above a node and the worker pills below one
    box.style.height = Math.round(Math.max(GRAPH_MIN_HEIGHT, Math.min(vp.h * vp.k, GRAPH_MAX_HEIGHT)) + 20) + "px";
    vp.x = Math.max(0, (bw - vp.w * vp.k) / 2);
    vp.y = Math.max(0, ((box.clientHeight || 0) - vp.h * vp.k) / 2);
    vp.moved = false;
    apply();
  };
  vp.zoomAt = (factor, cx, cy) => {
    const k = Math.min(ZOOM_MAX, Math.max(ZOOM_MIN, vp.k * factor));
    vp.x = cx - ((cx - vp.x) * k) / vp.k;
    vp.y = cy - ((cy - vp.y) * k) / vp.k;
    vp.k = k;
    vp.moved = true;
    clamp();
    apply();
  };
  vp.zoom = (factor) => vp.zoomAt(factor, (box.clientWidth || 600) / 2, (box.clientHeight || 200) / 2);
  // bring the rectangle [x0, y0, x1, y1] (stage px) into sight, if the user has not moved the view
  vp.follow = (r) => {
    if (vp.moved) return;
    const bw = box.clientWidth;
    const bh = box.clientHeight;
    if (!bw || !bh) return;
    const [x0, y0, x1, y1] = r.map((v) => v * vp.k);
    const margin = 24;
    let dx = 0;
    let dy = 0;
    if (vp.x + x0 < margin) dx = margin - (vp.x + x0);
    else if (vp.x + x1 > bw - margin) dx = bw - margin - (vp.x + x1);
    if (vp.y + y0 < margin) dy = margin - (vp.y + y0);
    else if (vp.y + y1 > bh - margin) dy = bh - margin - (vp.y + y1);
    if (!dx && !dy) return;
    vp.x += dx;
    vp.y += dy;
    clamp();
    apply();
  };

  // Ctrl (or Cmd) + wheel zooms around the pointer; a plain wheel scrolls the notebook
  box.addEventListener(
    "wheel",
    (e) => {
      if (!e.ctrlKey && !e.metaKey) return;
      e.preventDefault();
      const r = box.getBoundingClientRect();
      vp.zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
    },
    { passive: false },
  );
  // drag pans; a drag is not a click (a node under the pointer is not selected)
  let drag = null;
  box.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    drag = { x: e.clientX, y: e.clientY, vx: vp.x, vy: vp.y, moved: false, id: e.pointerId };
  });
  box.addEventListener("pointermove", (e) => {
    if (!drag || drag.id !== e.pointerId) return;
    const dx = e.clientX - drag.x;
    const dy = e.clientY - drag.y;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
    if (!drag.moved) {
      drag.moved = true;
      box.setPointerCapture(e.pointerId);
      box.classList.add("nf-dragging");
    }
    vp.x = drag.vx + dx;
    vp.y = drag.vy + dy;
    vp.moved = true;
    clamp();
    apply();
  });
  const endDrag = (e) => {
    if (!drag || drag.id !== e.pointerId) return;
    if (drag.moved) {
      box.classList.remove("nf-dragging");
      const swallow = (c) => {
        c.stopPropagation();
        c.preventDefault();
      };
      box.addEventListener("click", swallow, { capture: true, once: true });
      setTimeout(() => box.removeEventListener("click", swallow, { capture: true }), 0);
    }
    drag = null;
  };
  box.addEventListener("pointerup", endDrag);
  box.addEventListener("pointercancel", endDrag);
  return vp;
}

function render({ model, el: host }) {
  const root = el("div", "nf-view");
  host.appendChild(root);

  // -- status line and progress bars
  const head = el("div", "nf-head");
  const title = el("span", "nf-title");
  const badge = el("span", "nf-badge");
  const meta = el("span", "nf-meta");
  // a link to the cluster's own dashboard (Dask's), once a step ran there; a link only
  const dashboard = el("a", "nf-dashboard");
  dashboard.target = "_blank";
  dashboard.rel = "noopener noreferrer";
  dashboard.hidden = true;
  const reason = el("span", "nf-reason");
  const stop = el("button", "nf-stop", "Stop");
  stop.type = "button";
  stop.title = "Cancel the run";
  stop.hidden = true;
  stop.addEventListener("click", () => {
    stop.disabled = true;
    model.send({ type: "stop" });
  });
  head.append(title, badge, meta, reason, stop, dashboard);
  const zoombar = el("div", "nf-zoombar");
  const bars = el("div", "nf-bars");

  // -- graph: zoom bar over a viewport
  const graph = el("div", "nf-graph");
  const zoomLevel = el("span", "nf-zoom-level", "100%");
  const button = (label, tip, cls, fn) => {
    const b = el("button", cls, label);
    b.type = "button";
    b.title = tip;
    b.addEventListener("click", fn);
    return b;
  };
  const zoomOut = button("−", "Zoom out (or Ctrl + wheel)", "nf-zoom-out", () => viewport.zoom(1 / 1.25));
  const zoomIn = button("+", "Zoom in (or Ctrl + wheel)", "nf-zoom-in", () => viewport.zoom(1.25));
  const fitButton = button("fit", "Fit the graph to the view", "nf-fit", () => viewport.fit());
  const flip = button("", "Lay the graph out the other way", "nf-rankdir", () => {
    model.set("rankdir", model.get("rankdir") === "TB" ? "LR" : "TB");
    model.save_changes();
  });
  zoombar.append(zoomOut, zoomLevel, zoomIn, fitButton, flip);
  head.appendChild(zoombar);
  const viewport = makeViewport(graph, (vp) => {
    zoomLevel.textContent = Math.round(vp.k * 100) + "%";
    graph.dataset.zoom = vp.k.toFixed(3);
  });

  // -- log and details
  const lower = el("div", "nf-lower");
  const logPanel = el("div", "nf-log-panel");
  const toolbar = el("div", "nf-log-toolbar");
  const filter = el("input", "nf-filter");
  filter.type = "search";
  filter.placeholder = "filter the log…";
  toolbar.appendChild(filter);
  const toggles = {};
  for (const [cat, label] of CATEGORIES) {
    const lab = el("label", "nf-toggle nf-toggle-" + cat);
    const box = el("input");
    box.type = "checkbox";
    box.checked = true;
    box.dataset.cat = cat;
    lab.append(box, document.createTextNode(" " + label));
    toolbar.appendChild(lab);
    toggles[cat] = box;
  }
  const dropped = el("div", "nf-dropped");
  const logList = el("div", "nf-log");
  logPanel.append(toolbar, dropped, logList);
  const details = el("div", "nf-details");
  lower.append(logPanel, details);

  // -- timeline (after the run)
  const timeline = el("details", "nf-timeline");
  const tlSummary = el("summary", null, "Timeline of the run");
  const tlBody = el("div", "nf-timeline-body");
  timeline.append(tlSummary, tlBody);

  root.append(head, bars, graph, lower, timeline);

  let nodeEls = new Map(); // svg id -> <g>
  let edgeEls = new Map();
  let appliedStates = {};
  let logRun = null;
  let logTotal = 0;
  let statusAt = performance.now();
  let timer = null;

  function showDetailsHint() {
    details.replaceChildren(
      el("div", "nf-details-title", "Node details"),
      el("div", "nf-muted", "Click a node to see its last input, output, error and timing."),
    );
  }

  // ---------------------------------------------------------------- graph
  function drawGraph() {
    const svg = model.get("svg");
    flip.textContent = model.get("rankdir") === "TB" ? "↓ top-down" : "→ left-right";
    if (svg) {
      viewport.stage.innerHTML = svg;
      graph.replaceChildren(viewport.stage);
      zoombar.hidden = false;
      graph.classList.remove("nf-text");
      graph.style.height = "";
      const svgNode = viewport.stage.querySelector("svg");
      if (svgNode) {
        const [w, h] = svgSize(svgNode);
        svgNode.setAttribute("width", w);
        svgNode.setAttribute("height", h);
        viewport.setContent(w, h);
        fitWhenShown();
      }
    } else {
      graph.replaceChildren(el("pre", "nf-text-graph", model.get("text_graph")));
      graph.classList.add("nf-text");
      zoombar.hidden = true;
    }
    nodeEls = new Map();
    edgeEls = new Map();
    const nodes = model.get("nodes") || {};
    for (const g of graph.querySelectorAll("g.node")) {
      if (!g.id.startsWith("ev_")) continue;
      nodeEls.set(g.id, g);
      const info = nodes[g.id];
      const t = g.querySelector("title");
      if (t && info) t.textContent = info.id;
      g.addEventListener("click", () => select(g.id));
    }
    for (const g of graph.querySelectorAll("g.edge")) edgeEls.set(g.id, g);
    appliedStates = {};
    applyStates();
    applyEdges();
    markSelected();
  }

  function setBadge(g, count) {
    let b = g.querySelector(":scope > g.nf-count");
    if (count <= 1) {
      if (b) b.remove();
      return;
    }
    if (!b) {
      const box = shapeBox(g);
      if (!box) return;
      b = svgEl("g", { class: "nf-count" });
      const label = svgEl("text", { y: (box[1] + 3).toFixed(2), "text-anchor": "middle" });
      const pill = svgEl("rect", { y: (box[1] - 6).toFixed(2), height: 12, rx: 6 });
      b.append(pill, label);
      b.dataset.right = String(box[2]);
      g.appendChild(b);
    }
    const text = "×" + count;
    const width = 7 + 5.6 * text.length;
    const right = parseFloat(b.dataset.right);
    const [pill, label] = b.children;
    pill.setAttribute("x", (right - width + 4).toFixed(2));
    pill.setAttribute("width", width.toFixed(2));
    label.setAttribute("x", (right - width / 2 + 4).toFixed(2));
    label.textContent = text;
  }

  // the remote worker that ran a node last: a small pill under the node's bottom-left corner
  function setWorker(g, name) {
    let w = g.querySelector(":scope > g.nf-worker");
    if (!name) {
      if (w) w.remove();
      return;
    }
    if (!w) {
      const box = shapeBox(g);
      if (!box) return;
      w = svgEl("g", { class: "nf-worker" });
      const pill = svgEl("rect", { x: (box[0] - 2).toFixed(2), y: (box[3] - 7).toFixed(2), height: 12, rx: 3 });
      const label = svgEl("text", { y: (box[3] + 2).toFixed(2) });
      w.append(pill, svgEl("title"), label);
      w.dataset.left = String(box[0]);
      g.appendChild(w);
    }
    const [pill, tip, label] = w.children;
    const text = "⚙ " + name;
    const width = 6 + 5.4 * text.length;
    label.setAttribute("x", (parseFloat(w.dataset.left) + 3).toFixed(2));
    label.textContent = text;
    pill.setAttribute("width", width.toFixed(2));
    tip.textContent = "ran on worker " + name;
  }

  // Fit once the output has a width (a view drawn while hidden, e.g. in a collapsed cell, fits
  // when it is first shown).
  let sized = null;
  function fitWhenShown() {
    if (graph.clientWidth) {
      viewport.fit();
      return;
    }
    if (sized || typeof ResizeObserver === "undefined") return;
    sized = new ResizeObserver(() => {
      if (!graph.clientWidth) return;
      sized.disconnect();
      sized = null;
      viewport.fit();
    });
    sized.observe(graph);
  }

  // keep the running nodes in sight (stage coordinates: the svg's own px)
  function followRunning() {
    const running = [...nodeEls.entries()].filter(([id]) => appliedStates[id] === "running");
    if (!running.length || !viewport.stage.firstElementChild) return;
    const stageBox = viewport.stage.getBoundingClientRect();
    const k = viewport.k || 1;
    let box = null;
    for (const [, g] of running) {
      const r = g.getBoundingClientRect();
      if (!r.width) continue;
      const b = [(r.left - stageBox.left) / k, (r.top - stageBox.top) / k, (r.right - stageBox.left) / k, (r.bottom - stageBox.top) / k];
      box = box ? [Math.min(box[0], b[0]), Math.min(box[1], b[1]), Math.max(box[2], b[2]), Math.max(box[3], b[3])] : b;
    }
    if (box) viewport.follow(box);
  }

  function applyStates() {
    const states = model.get("states") || {};
    const counts = model.get("counts") || {};
    const workers = model.get("workers") || {};
    for (const [id, g] of nodeEls) {
      const state = states[id] || "idle";
      if (appliedStates[id] !== state) {
        g.classList.remove(...STATE_CLASSES);
        g.classList.add("nf-" + state);
        appliedStates[id] = state;
      }
      setBadge(g, counts[id] || 0);
      setWorker(g, workers[id] || "");
    }
    followRunning();
  }

  function applyEdges() {
    const seen = new Set(model.get("edges_seen") || []);
    for (const [id, g] of edgeEls) g.classList.toggle("nf-seen", seen.has(id));
  }

  // ---------------------------------------------------------------- status and bars
  function drawStatus() {
    const st = model.get("status") || {};
    const state = st.state || "waiting";
    title.textContent = st.flow || "";
    dashboard.hidden = !st.dashboard;
    if (st.dashboard) {
      dashboard.href = st.dashboard;
      dashboard.textContent = (st.dashboard_of ? st.dashboard_of[0].toUpperCase() + st.dashboard_of.slice(1) + " " : "") + "dashboard ↗";
      dashboard.title = st.dashboard;
    }
    badge.textContent = state;
    badge.className = "nf-badge nf-run-" + state;
    reason.textContent = st.reason ? "— " + st.reason : "";
    stop.hidden = !(st.can_stop && model.get("stop_button"));
    if (stop.hidden) stop.disabled = false;
    statusAt = performance.now();
    drawMeta();
    if (state === "running" && !timer) timer = setInterval(drawMeta, 100);
    if (state !== "running" && timer) {
      clearInterval(timer);
      timer = null;
    }
  }

  function drawMeta() {
    const st = model.get("status") || {};
    if (st.run_id === null || st.run_id === undefined) {
      meta.textContent = "waiting for a run";
      return;
    }
    let elapsed = st.elapsed || 0;
    if (st.state === "running") elapsed += (performance.now() - statusAt) / 1000;
    const parts = [
      st.run || "run " + st.run_id,
      fmtSeconds(elapsed),
      st.steps_done + " step" + (st.steps_done === 1 ? "" : "s") + " done",
    ];
    if (st.running) parts.push(st.running + " running");
    parts.push(st.failures + " failure" + (st.failures === 1 ? "" : "s"));
    meta.textContent = parts.join(" · ");
    meta.classList.toggle("nf-has-failures", st.failures > 0);
    meta.title = st.error || "";
  }

  function drawBars() {
    const list = model.get("bars") || [];
    bars.replaceChildren(
      ...list.map((b) => {
        const row = el("div", "nf-bar");
        const pct = Math.round((b.fraction || 0) * 100);
        const what = b.description || b.step;
        const label = el("span", "nf-bar-label");
        label.append(el("b", null, b.label), document.createTextNode(what ? "  " + what : ""));
        label.title = [b.label, b.step, b.description].filter(Boolean).join(" · ");
        const track = el("span", "nf-bar-track");
        const fill = el("span", "nf-bar-fill");
        fill.style.width = pct + "%";
        track.appendChild(fill);
        row.append(label, track, el("span", "nf-bar-pct", pct + "%"));
        return row;
      }),
    );
  }

  // ---------------------------------------------------------------- log
  function rowMatches(row) {
    const q = filter.value.trim().toLowerCase();
    return !q || row.dataset.search.includes(q);
  }

  function makeRow(line) {
    const [t, event, cat, text, detail] = line;
    const row = el(detail ? "details" : "div", "nf-row nf-cat-" + cat);
    const head = el(detail ? "summary" : "span", "nf-row-head");
    head.append(
      el("span", "nf-t", "+" + Number(t).toFixed(3) + "s"),
      el("span", "nf-ev", event || "run"),
      el("span", "nf-msg", text),
    );
    row.appendChild(head);
    if (detail) row.appendChild(el("pre", "nf-tb", detail));
    row.dataset.search = (event + " " + text).toLowerCase();
    row.hidden = !rowMatches(row);
    return row;
  }

  function drawDropped() {
    const shown = logList.childElementCount;
    const gone = logTotal - shown;
    dropped.textContent =
      gone > 0
        ? gone.toLocaleString() + " earlier line" + (gone === 1 ? "" : "s") +
          " dropped (the log keeps the last " + model.get("log_limit") + ")"
        : "";
    dropped.hidden = gone <= 0;
  }

  function addLines(msg) {
    if (msg.reset || msg.run !== logRun) {
      logList.replaceChildren();
      logRun = msg.run;
    }
    const stick = logList.scrollTop + logList.clientHeight >= logList.scrollHeight - 4;
    const frag = document.createDocumentFragment();
    for (const line of msg.lines) frag.appendChild(makeRow(line));
    logList.appendChild(frag);
    const limit = model.get("log_limit") || 500;
    while (logList.childElementCount > limit) logList.firstElementChild.remove();
    logTotal = msg.total;
    drawDropped();
    if (stick) logList.scrollTop = logList.scrollHeight;
  }

  function applyFilter() {
    for (const [cat, box] of Object.entries(toggles)) root.classList.toggle("nf-hide-" + cat, !box.checked);
    for (const row of logList.children) row.hidden = !rowMatches(row);
  }
  filter.addEventListener("input", applyFilter);
  for (const box of Object.values(toggles)) box.addEventListener("change", applyFilter);

  // ---------------------------------------------------------------- details
  function select(id) {
    model.set("selected", id);
    model.save_changes();
    markSelected();
    model.send({ type: "details", node: id });
  }

  function markSelected() {
    const id = model.get("selected");
    for (const [nid, g] of nodeEls) g.classList.toggle("nf-selected", nid === id);
  }

  function field(name, value, cls) {
    const row = el("div", "nf-field");
    row.append(el("span", "nf-field-name", name), el(cls === "pre" ? "pre" : "span", "nf-field-value", value));
    return row;
  }

  function drawDetails(data) {
    const state = data.state || "idle";
    const headRow = el("div", "nf-details-title");
    headRow.append(el("span", null, data.label), el("span", "nf-pill nf-pill-" + state, state));
    const rows = [headRow, breakable(el("div", "nf-muted nf-details-id"), data.id)];
    if (data.handlers) rows.push(field("handlers", data.handlers.join(", ")));
    if (!data.runs) {
      rows.push(el("div", "nf-muted", "Has not run in this run."));
    } else {
      rows.push(field("runs", String(data.runs)));
      rows.push(
        field(
          "timing",
          "last started +" + fmtSeconds(data.started) + ", took " + fmtSeconds(data.duration) +
            (data.runs > 1 ? ", " + fmtSeconds(data.busy) + " in all" : ""),
        ),
      );
      if (data.worker) rows.push(field("worker", data.worker));
      rows.push(field("input", data.input, "pre"));
      if (data.output !== null && data.output !== undefined) rows.push(field("output", data.output, "pre"));
      if (data.error) {
        const err = field("error", data.error, "pre");
        err.classList.add("nf-field-error");
        rows.push(err);
        const tb = el("details", "nf-tb-box");
        tb.append(el("summary", null, "traceback"), el("pre", "nf-tb", data.traceback));
        rows.push(tb);
      }
    }
    details.replaceChildren(...rows);
    details.dataset.node = data.id;
  }

  // ---------------------------------------------------------------- timeline
  function drawTimeline() {
    const svg = model.get("timeline");
    timeline.hidden = !svg;
    tlBody.innerHTML = svg || "";
  }

  // ---------------------------------------------------------------- wiring
  let selectedSeen = "";
  function onStates() {
    applyStates();
    // refresh the open details when the selected node changed state or ran again
    const sel = model.get("selected");
    if (!sel || !details.dataset.node) return;
    const now = (model.get("states") || {})[sel] + "/" + (model.get("counts") || {})[sel];
    if (now !== selectedSeen) {
      selectedSeen = now;
      model.send({ type: "details", node: sel });
    }
  }
  function onCustom(msg) {
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "log") addLines(msg);
    else if (msg.type === "details" && msg.node === model.get("selected")) drawDetails(msg.data);
  }
  const handlers = [
    ["change:svg", drawGraph],
    ["change:rankdir", () => (flip.textContent = model.get("rankdir") === "TB" ? "↓ top-down" : "→ left-right")],
    ["change:text_graph", drawGraph],
    ["change:states", onStates],
    ["change:counts", applyStates],
    ["change:workers", applyStates],
    ["change:edges_seen", applyEdges],
    ["change:status", drawStatus],
    ["change:bars", drawBars],
    ["change:timeline", drawTimeline],
    ["msg:custom", onCustom],
  ];
  for (const [name, fn] of handlers) model.on(name, fn);

  showDetailsHint();
  drawGraph();
  drawStatus();
  drawBars();
  drawTimeline();
  drawDropped();
  model.send({ type: "hello" });
  if (model.get("selected")) model.send({ type: "details", node: model.get("selected") });

  return () => {
    for (const [name, fn] of handlers) model.off(name, fn);
    if (timer) clearInterval(timer);
    if (sized) sized.disconnect();
  };
}

export default { render };
