// The image annotation tool: boxes, polygons, lines and points drawn on the image, in the image's
// own (natural) pixels whatever the zoom or the window's size. One tool for the four kinds; the
// kind, labels and limits come from the page's data attributes, the answer goes into hidden
// inputs as JSON. Written for this app rather than vendored (docs/decisions.md): an SVG overlay
// over an <img>, no inline script and nothing from another origin (the CSP allows neither).
//
// Also the read-only viewer of [data-annotation-view]: the answer drawn over the image on the
// dashboard.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var HANDLE_PX = 6;      // handle radius on screen
  var CLOSE_PX = 10;      // a click this near a polygon's first vertex closes it
  var CLICK_PX = 3;       // a drag shorter than this is a click, not a box
  var ZOOM_STEP = 1.25;
  var ZOOM_MIN = 0.25;    // relative to "fit"
  var ZOOM_MAX = 32;

  function el(name, attrs) {
    var node = document.createElementNS(SVG, name);
    for (var key in attrs) node.setAttribute(key, attrs[key]);
    return node;
  }

  function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select" || target.isContentEditable) return true;
    return tag === "input" && ["radio", "checkbox", "submit", "button", "hidden"].indexOf(target.type) < 0;
  }

  // Catmull-Rom through the vertices, as cubic Béziers: a smooth curve that passes through each.
  function splinePath(pts) {
    if (pts.length < 3) return "M" + pts.map(function (p) { return p[0] + " " + p[1]; }).join(" L");
    var d = "M" + pts[0][0] + " " + pts[0][1];
    for (var i = 0; i < pts.length - 1; i++) {
      var p0 = pts[i - 1] || pts[i], p1 = pts[i], p2 = pts[i + 1], p3 = pts[i + 2] || p2;
      d += " C" + (p1[0] + (p2[0] - p0[0]) / 6) + " " + (p1[1] + (p2[1] - p0[1]) / 6) + " " +
        (p2[0] - (p3[0] - p1[0]) / 6) + " " + (p2[1] - (p3[1] - p1[1]) / 6) + " " + p2[0] + " " + p2[1];
    }
    return d;
  }

  function Annotator(root) {
    var data = root.dataset;
    var kind = data.kind;                         // box | polygon | line | point
    var withLabels = data.withLabels === "true";
    var minW = Math.max(1, Number(data.minWidth) || 0);
    var minH = Math.max(1, Number(data.minHeight) || 0);
    var least = Number(data.minVertices) || (kind === "polygon" ? 3 : 2);
    var most = Number(data.maxVertices) || Infinity;
    var splines = data.splines === "true";

    var viewport = root.querySelector("[data-viewport]");
    var stage = root.querySelector("[data-stage]");
    var img = root.querySelector("[data-image]");
    var svg = root.querySelector("[data-overlay]");
    var shapesLayer = svg.querySelector("[data-shapes]");
    var draftLayer = svg.querySelector("[data-draft]");
    var handleLayer = svg.querySelector("[data-handles]");
    var output = root.querySelector("[data-output]");
    var widthInput = root.querySelector("[data-image-width]");
    var heightInput = root.querySelector("[data-image-height]");
    var statusLine = root.querySelector("[data-status]");
    var zoomLabel = root.querySelector("[data-zoom-label]");
    var countLabel = root.querySelector("[data-count]");
    var form = root.closest("form");
    var labelButtons = Array.prototype.slice.call(root.querySelectorAll("[data-label-index]"));
    var labels = labelButtons.map(function (b) { return b.querySelector("[data-label-text]").textContent; });

    var natW = 0, natH = 0;
    var fit = 1, zoom = 1, panX = 0, panY = 0;
    var shapes = [];          // {label: index|null, pts: [[x, y], …]}; a box is its two corners
    var undoStack = [], redoStack = [];
    var selected = -1;
    var mode = "draw";
    var current = 0;          // the label new shapes get
    var draft = null;         // the shape being drawn
    var drag = null;          // what the pointer is doing
    var spaceDown = false;

    function scale() { return fit * zoom; }

    function say(text, bad) {
      statusLine.textContent = text;
      statusLine.classList.toggle("bad", !!bad);
    }

    // -- coordinates ---------------------------------------------------------------------------

    // The image pixel under the pointer: from the image's on-screen box, which already includes
    // every zoom, pan and window size, so nothing else has to be trusted.
    function toImage(event) {
      var r = img.getBoundingClientRect();
      return [clamp((event.clientX - r.left) * natW / r.width, 0, natW),
              clamp((event.clientY - r.top) * natH / r.height, 0, natH)];
    }

    function rounded(p) { return [Math.round(p[0]), Math.round(p[1])]; }

    function screenDistance(a, b) {
      return Math.hypot(a[0] - b[0], a[1] - b[1]) * scale();
    }

    // -- layout: fit, zoom, pan ----------------------------------------------------------------

    function layout() {
      var s = scale();
      var vw = viewport.clientWidth, vh = viewport.clientHeight;
      var w = natW * s, h = natH * s;
      // Centre what is smaller than the viewport; never pan the image out of sight.
      panX = w <= vw ? (vw - w) / 2 : clamp(panX, vw - w, 0);
      panY = h <= vh ? (vh - h) / 2 : clamp(panY, vh - h, 0);
      stage.style.width = w + "px";
      stage.style.height = h + "px";
      stage.style.transform = "translate(" + panX + "px, " + panY + "px)";
      zoomLabel.textContent = Math.round(s * 100) + "%";
      render();
    }

    function computeFit() {
      fit = Math.min(viewport.clientWidth / natW, viewport.clientHeight / natH);
    }

    function zoomAt(factor, cx, cy) {
      var old = scale();
      zoom = clamp(zoom * factor, ZOOM_MIN, ZOOM_MAX);
      var s = scale();
      if (cx === undefined) { cx = viewport.clientWidth / 2; cy = viewport.clientHeight / 2; }
      // Keep the image point under (cx, cy) where it is.
      panX = cx - (cx - panX) * s / old;
      panY = cy - (cy - panY) * s / old;
      layout();
    }

    function fitView() { zoom = 1; computeFit(); layout(); }

    // -- history -------------------------------------------------------------------------------

    function snapshot() { return JSON.stringify(shapes); }

    function remember() {
      undoStack.push(snapshot());
      if (undoStack.length > 500) undoStack.shift();
      redoStack = [];
    }

    function restore(from, to) {
      if (!from.length) return false;
      to.push(snapshot());
      shapes = JSON.parse(from.pop());
      selected = -1;
      changed();
      return true;
    }

    function undo() { if (draft) { cancelDraft(); return; } if (restore(undoStack, redoStack)) say("Undone."); }
    function redo() { if (restore(redoStack, undoStack)) say("Redone."); }

    // -- the answer ------------------------------------------------------------------------------

    function shapeAnswer(shape) {
      var out = {};
      if (withLabels) out.label = labels[shape.label];
      if (kind === "box") {
        var a = shape.pts[0], b = shape.pts[1];
        out = Object.assign({ left: Math.min(a[0], b[0]), top: Math.min(a[1], b[1]),
                              width: Math.abs(b[0] - a[0]), height: Math.abs(b[1] - a[1]) }, out);
      } else if (kind === "point") {
        out.x = shape.pts[0][0];
        out.y = shape.pts[0][1];
      } else {
        out.vertices = shape.pts.map(function (p) { return { x: p[0], y: p[1] }; });
      }
      return out;
    }

    function changed() {
      output.value = JSON.stringify(shapes.map(shapeAnswer));
      countLabel.textContent = String(shapes.length);
      render();
    }

    // -- drawing on screen -----------------------------------------------------------------------

    function shapeNode(shape, index) {
      var node;
      var cls = "annot-shape label-" + (shape.label === null ? "none" : shape.label % 6);
      if (kind === "box") {
        var a = shape.pts[0], b = shape.pts[1];
        node = el("rect", { x: Math.min(a[0], b[0]), y: Math.min(a[1], b[1]),
                            width: Math.abs(b[0] - a[0]), height: Math.abs(b[1] - a[1]) });
      } else if (kind === "point") {
        node = el("circle", { cx: shape.pts[0][0], cy: shape.pts[0][1], r: 5 / scale() });
        cls += " point";
      } else if (kind === "polygon") {
        node = el("polygon", { points: shape.pts.join(" ") });
      } else if (splines) {
        node = el("path", { d: splinePath(shape.pts) });
        cls += " line";
      } else {
        node = el("polyline", { points: shape.pts.join(" ") });
        cls += " line";
      }
      node.setAttribute("class", cls + (index === selected ? " selected" : ""));
      if (index !== undefined) node.setAttribute("data-index", String(index));
      return node;
    }

    function labelNode(shape) {
      var x = Infinity, y = Infinity;
      shape.pts.forEach(function (p) { x = Math.min(x, p[0]); y = Math.min(y, p[1]); });
      var text = el("text", { x: x, y: Math.max(y - 4 / scale(), 12 / scale()),
                              "font-size": 12 / scale(), "class": "annot-label-tag" });
      text.textContent = labels[shape.label];   // text, never markup
      return text;
    }

    function render() {
      shapesLayer.textContent = "";
      draftLayer.textContent = "";
      handleLayer.textContent = "";
      shapes.forEach(function (shape, i) {
        shapesLayer.appendChild(shapeNode(shape, i));
        if (withLabels) shapesLayer.appendChild(labelNode(shape));
      });
      if (draft) renderDraft();
      if (selected >= 0 && mode === "select" && kind !== "point") {
        handlePoints(shapes[selected]).forEach(function (p, i) {
          handleLayer.appendChild(el("circle", { cx: p[0], cy: p[1], r: HANDLE_PX / scale(),
                                                 "class": "annot-handle", "data-handle": String(i) }));
        });
      }
      root.classList.toggle("mode-select", mode === "select");
      root.classList.toggle("mode-draw", mode === "draw");
      root.querySelectorAll("[data-action=draw], [data-action=select]").forEach(function (b) {
        b.setAttribute("aria-pressed", String(b.dataset.action === mode));
      });
      root.querySelector("[data-action=delete]").disabled = selected < 0;
      root.querySelector("[data-action=undo]").disabled = !undoStack.length && !draft;
      root.querySelector("[data-action=redo]").disabled = !redoStack.length;
    }

    function renderDraft() {
      if (kind === "box") {
        var node = shapeNode({ label: withLabels ? current : null, pts: [draft.a, draft.b] });
        var w = Math.abs(draft.b[0] - draft.a[0]), h = Math.abs(draft.b[1] - draft.a[1]);
        node.classList.add("draft");
        if (w < minW || h < minH) node.classList.add("too-small");
        draftLayer.appendChild(node);
        return;
      }
      var pts = draft.pts.concat(draft.cursor ? [draft.cursor] : []);
      var line = el("polyline", { points: pts.join(" "), "class": "annot-shape draft label-" +
                                  (withLabels ? current % 6 : "none") });
      draftLayer.appendChild(line);
      draft.pts.forEach(function (p, i) {
        draftLayer.appendChild(el("circle", { cx: p[0], cy: p[1], r: (i === 0 ? 5 : 3) / scale(),
                                              "class": "annot-vertex" + (i === 0 ? " first" : "") }));
      });
    }

    function handlePoints(shape) {
      if (kind !== "box") return shape.pts;
      var a = shape.pts[0], b = shape.pts[1];
      return [[a[0], a[1]], [b[0], a[1]], [b[0], b[1]], [a[0], b[1]]];
    }

    // -- making shapes ---------------------------------------------------------------------------

    function add(pts) {
      remember();
      shapes.push({ label: withLabels ? current : null, pts: pts });
      changed();
    }

    function finishBox() {
      var a = rounded(draft.a), b = rounded(draft.b);
      var w = Math.abs(b[0] - a[0]), h = Math.abs(b[1] - a[1]);
      var dragged = screenDistance(draft.a, draft.b);
      draft = null;
      if (dragged < CLICK_PX) { render(); return; }
      if (w < minW || h < minH) {
        say("Box not added: it is " + w + " × " + h + " px, and this task needs boxes of at least " +
            minW + " × " + minH + " px.", true);
        render();
        return;
      }
      add([[Math.min(a[0], b[0]), Math.min(a[1], b[1])], [Math.max(a[0], b[0]), Math.max(a[1], b[1])]]);
      say("Box added: " + w + " × " + h + " px.");
    }

    function finishPath() {
      if (!draft) return;
      if (draft.pts.length < least) {
        say("A " + kind + " needs at least " + least + " vertices; this one has " + draft.pts.length +
            ". Keep clicking, or press Esc to drop it.", true);
        return;
      }
      var pts = draft.pts;
      draft = null;
      add(pts);
      say(kind === "polygon" ? "Polygon added (" + pts.length + " vertices)." : "Line added (" + pts.length + " vertices).");
    }

    function cancelDraft() {
      draft = null;
      say("Shape dropped.");
      render();
    }

    function addVertex(p) {
      if (!draft) draft = { pts: [], cursor: null };
      var pts = draft.pts;
      if (kind === "polygon" && pts.length >= least && screenDistance(p, pts[0]) <= CLOSE_PX) {
        finishPath();
        return;
      }
      var q = rounded(p);
      var last = pts[pts.length - 1];
      if (!last || last[0] !== q[0] || last[1] !== q[1]) pts.push(q);
      if (pts.length >= most) {
        finishPath();
        return;
      }
      say(pts.length + " vertices. " + (kind === "polygon"
        ? "Click the first vertex, double-click or press Enter to close the polygon."
        : "Double-click or press Enter to end the line."));
      render();
    }

    // -- editing ---------------------------------------------------------------------------------

    function select(index) {
      selected = index;
      if (index >= 0 && withLabels) setCurrent(shapes[index].label, false);
      render();
    }

    function remove() {
      if (selected < 0) return;
      remember();
      shapes.splice(selected, 1);
      selected = -1;
      changed();
      say("Shape deleted.");
    }

    function setCurrent(index, relabel) {
      if (!withLabels || index < 0 || index >= labels.length) return;
      current = index;
      labelButtons.forEach(function (b, i) { b.setAttribute("aria-pressed", String(i === index)); });
      if (relabel && selected >= 0 && shapes[selected].label !== index) {
        remember();
        shapes[selected].label = index;
        changed();
        say("Label changed to " + labels[index] + ".");
      }
    }

    function setMode(next) {
      if (draft) draft = null;
      mode = next;
      if (mode === "draw") selected = -1;
      say(mode === "draw" ? "Draw mode." : "Select mode: click a shape to move it, drag its handles to resize.");
      render();
    }

    // Move every point by (dx, dy), keeping the whole shape inside the image.
    function moveTo(original, dx, dy) {
      var xs = original.map(function (p) { return p[0]; }), ys = original.map(function (p) { return p[1]; });
      dx = clamp(dx, -Math.min.apply(null, xs), natW - Math.max.apply(null, xs));
      dy = clamp(dy, -Math.min.apply(null, ys), natH - Math.max.apply(null, ys));
      return original.map(function (p) { return [p[0] + dx, p[1] + dy]; });
    }

    // A box corner dragged to p: the opposite corner stays; never smaller than the minimum.
    function resizeBox(original, corner, p) {
      var a = original[0], b = original[1];
      var fixedX = corner === 0 || corner === 3 ? b[0] : a[0];
      var fixedY = corner === 0 || corner === 1 ? b[1] : a[1];
      var x = p[0], y = p[1];
      var sx = x < fixedX ? -1 : 1, sy = y < fixedY ? -1 : 1;
      if (Math.abs(x - fixedX) < minW) x = fixedX + sx * minW;
      if (Math.abs(y - fixedY) < minH) y = fixedY + sy * minH;
      if (x < 0 || x > natW) x = fixedX - sx * minW;   // no room on that side: the other
      if (y < 0 || y > natH) y = fixedY - sy * minH;
      x = clamp(x, 0, natW);
      y = clamp(y, 0, natH);
      return [[Math.min(x, fixedX), Math.min(y, fixedY)], [Math.max(x, fixedX), Math.max(y, fixedY)]];
    }

    // -- pointer ---------------------------------------------------------------------------------

    svg.addEventListener("pointerdown", function (event) {
      if (!natW) return;
      if (event.button === 1 || event.button === 2 || spaceDown) {
        event.preventDefault();
        startPan(event);
        return;
      }
      if (event.button !== 0) return;
      event.preventDefault();
      var p = toImage(event);
      if (mode === "draw") {
        if (kind === "box") {
          draft = { a: p, b: p };
          svg.setPointerCapture(event.pointerId);
          drag = { what: "draft" };
          render();
        } else if (kind === "point") {
          add([rounded(p)]);
          say("Point added.");
        } else {
          addVertex(p);
        }
        return;
      }
      var handle = event.target.getAttribute("data-handle");
      var index = event.target.getAttribute("data-index");
      if (handle !== null && selected >= 0) {
        drag = { what: "handle", handle: Number(handle), start: p, before: snapshot(),
                 original: JSON.parse(JSON.stringify(shapes[selected].pts)) };
      } else if (index !== null) {
        select(Number(index));
        drag = { what: "move", start: p, before: snapshot(),
                 original: JSON.parse(JSON.stringify(shapes[selected].pts)) };
      } else {
        select(-1);
        startPan(event);
        return;
      }
      svg.setPointerCapture(event.pointerId);
    });

    function startPan(event) {
      drag = { what: "pan", x: event.clientX, y: event.clientY, panX: panX, panY: panY };
      svg.setPointerCapture(event.pointerId);
      root.classList.add("panning");
    }

    svg.addEventListener("pointermove", function (event) {
      if (!natW) return;
      var p = toImage(event);
      if (!drag) {
        if (draft && draft.pts) { draft.cursor = p; render(); }
        return;
      }
      if (drag.what === "pan") {
        panX = drag.panX + event.clientX - drag.x;
        panY = drag.panY + event.clientY - drag.y;
        layout();
      } else if (drag.what === "draft") {
        draft.b = p;
        var w = Math.round(Math.abs(p[0] - draft.a[0])), h = Math.round(Math.abs(p[1] - draft.a[1]));
        say(w + " × " + h + " px" + (w < minW || h < minH ? " — smaller than the " + minW + " × " +
            minH + " px this task needs" : ""), w < minW || h < minH);
        render();
      } else {
        var shape = shapes[selected];
        if (drag.what === "move") {
          shape.pts = moveTo(drag.original, Math.round(p[0] - drag.start[0]), Math.round(p[1] - drag.start[1]));
        } else if (kind === "box") {
          shape.pts = resizeBox(drag.original, drag.handle, rounded(p));
        } else {
          shape.pts[drag.handle] = rounded(p);
        }
        render();
      }
    });

    function endDrag(event) {
      if (!drag) return;
      var what = drag.what;
      if (what === "draft") {
        draft.b = toImage(event);
        finishBox();
      } else if (what === "move" || what === "handle") {
        if (snapshot() !== drag.before) {
          undoStack.push(drag.before);
          redoStack = [];
          changed();
          say(what === "move" ? "Shape moved." : "Shape resized.");
        }
      }
      root.classList.remove("panning");
      drag = null;
    }

    // A double click ends a polygon or line: its second click landed on the vertex the first
    // one placed, which is not placed twice.
    svg.addEventListener("dblclick", function (event) {
      if (mode === "draw" && draft && draft.pts) {
        event.preventDefault();
        finishPath();
      }
    });

    svg.addEventListener("pointerup", endDrag);
    svg.addEventListener("pointercancel", endDrag);
    svg.addEventListener("contextmenu", function (event) { event.preventDefault(); });

    viewport.addEventListener("wheel", function (event) {
      if (!natW) return;
      event.preventDefault();
      var r = viewport.getBoundingClientRect();
      zoomAt(event.deltaY < 0 ? ZOOM_STEP : 1 / ZOOM_STEP, event.clientX - r.left, event.clientY - r.top);
    }, { passive: false });

    // -- keys ------------------------------------------------------------------------------------

    // Capture phase on window: the tool's keys are handled before work.js, whose Enter submits.
    window.addEventListener("keydown", function (event) {
      if (typing(event.target) || event.altKey) return;
      var key = event.key;
      var handled = true;
      var ctrl = event.ctrlKey || event.metaKey;
      if (ctrl && (key === "z" || key === "Z")) {
        if (event.shiftKey) redo(); else undo();
      } else if (ctrl && (key === "y" || key === "Y")) {
        redo();
      } else if (ctrl) {
        handled = false;   // Ctrl+Enter submits (work.js), the browser keeps the rest
      } else if (key === " ") {
        spaceDown = true;
        root.classList.add("pan-ready");
      } else if (key.length === 1 && key >= "1" && key <= "9") {
        if (withLabels && Number(key) <= labels.length) setCurrent(Number(key) - 1, true);
        else handled = false;
      } else if (key === "d" || key === "D") {
        setMode("draw");
      } else if (key === "s" || key === "S" || key === "v" || key === "V") {
        setMode("select");
      } else if (key === "Enter" && draft && draft.pts) {
        finishPath();
      } else if (key === "Escape") {
        if (draft) cancelDraft(); else if (selected >= 0) select(-1); else handled = false;
      } else if (key === "Backspace" && draft && draft.pts) {
        draft.pts.pop();
        if (!draft.pts.length) draft = null;
        render();
      } else if ((key === "Delete" || key === "Backspace") && selected >= 0) {
        remove();
      } else if (key === "+" || key === "=") {
        zoomAt(ZOOM_STEP);
      } else if (key === "-" || key === "_") {
        zoomAt(1 / ZOOM_STEP);
      } else if (key === "f" || key === "F" || key === "0") {
        fitView();
      } else if (key.indexOf("Arrow") === 0) {
        var step = event.shiftKey ? 200 : 50;
        panX += key === "ArrowLeft" ? step : key === "ArrowRight" ? -step : 0;
        panY += key === "ArrowUp" ? step : key === "ArrowDown" ? -step : 0;
        layout();
      } else {
        handled = false;
      }
      if (handled) {
        event.preventDefault();
        event.stopPropagation();
      }
    }, true);

    window.addEventListener("keyup", function (event) {
      if (event.key === " ") { spaceDown = false; root.classList.remove("pan-ready"); }
    });

    // -- buttons ---------------------------------------------------------------------------------

    root.addEventListener("click", function (event) {
      var button = event.target.closest("button");
      if (!button || !root.contains(button)) return;
      if (button.hasAttribute("data-label-index")) {
        setCurrent(Number(button.dataset.labelIndex), true);
        return;
      }
      var action = button.dataset.action;
      if (!action) return;
      if (action === "draw" || action === "select") setMode(action);
      else if (action === "undo") undo();
      else if (action === "redo") redo();
      else if (action === "delete") remove();
      else if (action === "zoom-in") zoomAt(ZOOM_STEP);
      else if (action === "zoom-out") zoomAt(1 / ZOOM_STEP);
      else if (action === "fit") fitView();
      else if (action === "finish") finishPath();
    });

    // A shape half drawn is not in the answer: say so rather than send less than the worker sees.
    document.addEventListener("submit", function (event) {
      if (event.target !== form || !draft || !draft.pts || !draft.pts.length) return;
      if (event.submitter && event.submitter.hasAttribute("formnovalidate")) return;  // skip
      event.preventDefault();
      event.stopPropagation();
      say("Finish the " + kind + " you are drawing (Enter) or drop it (Esc) before submitting.", true);
    }, true);

    // -- start -----------------------------------------------------------------------------------

    function start() {
      natW = img.naturalWidth;
      natH = img.naturalHeight;
      if (!natW || !natH) {
        say("The image could not be loaded, so nothing can be drawn on it. Skip this task.", true);
        return;
      }
      widthInput.value = String(natW);
      heightInput.value = String(natH);
      svg.setAttribute("viewBox", "0 0 " + natW + " " + natH);
      root.classList.add("ready");
      computeFit();
      layout();
      changed();
      setCurrent(0, false);
      say("Image " + natW + " × " + natH + " px. " + (kind === "box" ? "Drag to draw a box."
        : kind === "point" ? "Click to place a point." : "Click to place each vertex."));
    }

    window.addEventListener("resize", function () {
      if (!natW) return;
      // Keep the image point at the viewport's centre where it is.
      var cx = viewport.clientWidth / 2, cy = viewport.clientHeight / 2;
      var ix = (cx - panX) / scale(), iy = (cy - panY) / scale();
      computeFit();
      panX = viewport.clientWidth / 2 - ix * scale();
      panY = viewport.clientHeight / 2 - iy * scale();
      layout();
    });

    // Shapes of a refused answer come back from the server in the output input.
    try {
      var back = JSON.parse(output.value || "[]");
      if (Array.isArray(back)) {
        shapes = back.map(function (s) {
          var label = withLabels ? Math.max(0, labels.indexOf(s.label)) : null;
          if (kind === "box") return { label: label, pts: [[s.left, s.top], [s.left + s.width, s.top + s.height]] };
          if (kind === "point") return { label: label, pts: [[s.x, s.y]] };
          return { label: label, pts: (s.vertices || []).map(function (v) { return [v.x, v.y]; }) };
        });
      }
    } catch (e) { shapes = []; }

    img.addEventListener("error", function () { say("The image could not be loaded. Skip this task.", true); });
    if (img.complete && img.naturalWidth) start(); else img.addEventListener("load", start);
  }

  // The read-only view: shapes are drawn by the server in image pixels; only the image's size,
  // known once it loads, is needed to place them.
  function Viewer(root) {
    var img = root.querySelector("img");
    var svg = root.querySelector("svg");
    function show() {
      if (!img.naturalWidth) return;
      svg.setAttribute("viewBox", "0 0 " + img.naturalWidth + " " + img.naturalHeight);
      var s = img.getBoundingClientRect().width / img.naturalWidth || 1;
      svg.querySelectorAll("text").forEach(function (t) { t.setAttribute("font-size", String(12 / s)); });
      svg.querySelectorAll("circle").forEach(function (c) { c.setAttribute("r", String(5 / s)); });
      root.classList.add("ready");
    }
    if (img.complete) show(); else img.addEventListener("load", show);
    window.addEventListener("resize", show);
  }

  document.querySelectorAll("[data-annotator]").forEach(function (root) { new Annotator(root); });
  document.querySelectorAll("[data-annotation-view]").forEach(function (root) { new Viewer(root); });
})();
