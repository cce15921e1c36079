// The browser half of circus_nb's SliceView: one slice on a <canvas>.
//
// The kernel owns the volume and the labels. For each slice it sends one message: the
// pixels (int16 or float32) and, when labels cut the slice, a code per pixel (uint8 or
// uint16) with the RGBA colour of each code (one code per combination of labels).
// This side windows the pixels (so a preset or level/width change needs no message),
// zooms and pans, draws a stroke at once while the mouse moves, and sends the stroke
// (points in slice pixels) to the kernel on mouse up. The kernel paints it into the
// label and sends the slice back.
//
// Keys on the focused canvas (the notebook's own shortcuts are kept out):
//   ArrowUp/ArrowDown, PageUp/PageDown (10), Home/End, mouse wheel: slice
//   1-9: window presets     + / - / 0: zoom in, out, fit
//   V, B, E, F: view (drag pans), brush, eraser, fill     [ / ]: brush size
//   Ctrl+Z: undo      Ctrl+Shift+Z or Ctrl+Y: redo
// Shift+drag or a middle-button drag pans with any tool; Ctrl+wheel zooms.

const TOOL_KEYS = { v: "view", b: "brush", e: "eraser", f: "fill" };

function render({ model, el }) {
  el.classList.add("cnb-slice-view");
  const canvas = document.createElement("canvas");
  canvas.tabIndex = 0;
  canvas.className = "cnb-slice-canvas";
  // Lumino looks for this attribute from the event's target up: with it, JupyterLab's
  // command-mode keys (M, B, J, K...) stay out of the viewer.
  canvas.setAttribute("data-lm-suppress-shortcuts", "true");
  const info = document.createElement("div");
  info.className = "cnb-slice-info";
  el.append(canvas, info);

  const ctx = canvas.getContext("2d");
  const base = document.createElement("canvas"); // the slice and its labels, a pixel a voxel
  let slice = null; // {axis, index, w, h, aspect, text, pixels, codes, colors}
  let stroke = null; // {points: [[col, row], ...], erase, axis, index; pan: [x, y] panning}

  const TYPES = { int16: Int16Array, float32: Float32Array, uint8: Uint8Array,
                  uint16: Uint16Array };
  function typed(view, name) {
    const Type = TYPES[name], count = view.byteLength / Type.BYTES_PER_ELEMENT;
    if (view.byteOffset % Type.BYTES_PER_ELEMENT === 0) {
      return new Type(view.buffer, view.byteOffset, count); // no copy
    }
    return new Type(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
  }

  // the window applied to the pixels, the labels' colours blended over them
  function paintBase() {
    const [level, width] = model.get("window");
    const low = level - width / 2, scale = 255 / width;
    const image = new ImageData(slice.w, slice.h), out = image.data;
    const { pixels, codes, colors } = slice;
    for (let i = 0, j = 0; i < pixels.length; i++, j += 4) {
      let g = (pixels[i] - low) * scale;
      g = g < 0 ? 0 : g > 255 ? 255 : g;
      const code = codes ? codes[i] : 0;
      if (code) {
        const k = 4 * code, a = colors[k + 3] / 255, keep = (1 - a) * g;
        out[j] = colors[k] * a + keep; out[j + 1] = colors[k + 1] * a + keep;
        out[j + 2] = colors[k + 2] * a + keep;
      } else {
        out[j] = out[j + 1] = out[j + 2] = g;
      }
      out[j + 3] = 255;
    }
    base.width = slice.w; base.height = slice.h;
    base.getContext("2d").putImageData(image, 0, 0);
  }

  // image pixel (col, row) -> canvas pixel: fit, then zoom about the view's centre
  function transform() {
    const size = model.get("display_size"), zoom = model.get("zoom");
    const fit = size / Math.max(slice.w, slice.h * slice.aspect);
    const sx = fit * zoom, sy = fit * zoom * slice.aspect;
    const centre = model.get("center");
    const [cx, cy] = centre.length === 2 ? centre : [slice.w / 2, slice.h / 2];
    return { sx, sy, ox: canvas.width / 2 - cx * sx, oy: canvas.height / 2 - cy * sy };
  }

  function compose() {
    if (!slice) return;
    const size = model.get("display_size");
    const height = Math.round(size * Math.min(1, (slice.h * slice.aspect) / slice.w));
    if (canvas.width !== size || canvas.height !== height) {
      canvas.width = size; canvas.height = height;
    }
    const t = transform();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.imageSmoothingEnabled = false;
    ctx.setTransform(t.sx, 0, 0, t.sy, t.ox, t.oy);
    ctx.drawImage(base, 0, 0);
    if (stroke && stroke.points.length) drawStroke();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    const [level, width] = model.get("window");
    const zoom = model.get("zoom");
    info.textContent = `${slice.text}   W ${+width.toFixed(1)} L ${+level.toFixed(1)}` +
      (zoom !== 1 ? `   zoom ${+zoom.toFixed(2)}x` : "");
    el.dataset.shown = `${slice.axis}:${slice.index}`;
  }

  function drawStroke() {
    const r = model.get("radius");
    ctx.strokeStyle = stroke.erase ? "rgba(255,255,255,0.8)" : model.get("brush_color");
    ctx.fillStyle = ctx.strokeStyle;
    ctx.lineWidth = 2 * r + 1;
    ctx.lineCap = ctx.lineJoin = "round";
    const [first, ...rest] = stroke.points;
    ctx.beginPath();
    ctx.moveTo(first[0] + 0.5, first[1] + 0.5);
    for (const p of rest) ctx.lineTo(p[0] + 0.5, p[1] + 0.5);
    if (rest.length) ctx.stroke();
    else ctx.fillRect(first[0] - r, first[1] - r, 2 * r + 1, 2 * r + 1);
  }

  function voxel(event) {
    const box = canvas.getBoundingClientRect(), t = transform();
    const x = ((event.clientX - box.left) * canvas.width / box.width - t.ox) / t.sx;
    const y = ((event.clientY - box.top) * canvas.height / box.height - t.oy) / t.sy;
    return [Math.floor(x), Math.floor(y)];
  }

  function go(index) {
    const last = model.get("count") - 1;
    model.set("index", Math.max(0, Math.min(last, index)));
    model.save_changes(); // the kernel answers with the slice
  }

  function zoomBy(factor) {
    model.set("zoom", Math.max(0.25, Math.min(32, model.get("zoom") * factor)));
    model.save_changes();
    compose();
  }

  function onKey(event) {
    const key = event.key, index = model.get("index"), command = event.ctrlKey || event.metaKey;
    const presets = model.get("presets");
    let handled = true;
    if (command && key.toLowerCase() === "z") model.send({ type: event.shiftKey ? "redo" : "undo" });
    else if (command && key.toLowerCase() === "y") model.send({ type: "redo" });
    else if (command) handled = false; // copy, paste... stay the browser's
    else if (key === "ArrowUp" || key === "ArrowRight") go(index + 1);
    else if (key === "ArrowDown" || key === "ArrowLeft") go(index - 1);
    else if (key === "PageUp") go(index + 10);
    else if (key === "PageDown") go(index - 10);
    else if (key === "Home") go(0);
    else if (key === "End") go(model.get("count") - 1);
    else if (key >= "1" && key <= "9" && presets[+key - 1]) {
      const [, level, width] = presets[+key - 1];
      model.set("window", [level, width]);
      model.save_changes();
    } else if (key === "+" || key === "=") zoomBy(1.25);
    else if (key === "-") zoomBy(0.8);
    else if (key === "0") { model.set("zoom", 1); model.set("center", []); model.save_changes(); }
    else if (TOOL_KEYS[key.toLowerCase()]) {
      model.set("tool", TOOL_KEYS[key.toLowerCase()]);
      model.save_changes();
    } else if (key === "[" || key === "]") {
      model.set("radius", Math.max(0, Math.min(64, model.get("radius") + (key === "]" ? 1 : -1))));
      model.save_changes();
    } else handled = false;
    if (handled) event.preventDefault();
    // Tab and Escape leave the viewer as they leave any control; every other key stays here
    if (key !== "Tab" && key !== "Escape") event.stopPropagation();
  }

  function onDown(event) {
    if (!slice || (event.button !== 0 && event.button !== 1)) return;
    canvas.focus();
    event.preventDefault();
    const tool = model.get("tool"), p = voxel(event);
    if (event.button === 1 || event.shiftKey || tool === "view") {
      stroke = { points: [], pan: [event.clientX, event.clientY] };
    } else if (tool === "fill") {
      model.send({ type: "fill", axis: slice.axis, index: slice.index, col: p[0], row: p[1] });
    } else {
      // the slice it begins on: the wheel or the kernel may show another before mouse up
      stroke = { points: [p], erase: tool === "eraser", axis: slice.axis, index: slice.index };
      compose();
    }
  }

  function onMove(event) {
    if (!stroke) return;
    if (stroke.pan) {
      const t = transform(), box = canvas.getBoundingClientRect();
      const k = canvas.width / box.width;
      const centre = model.get("center");
      const [cx, cy] = centre.length === 2 ? centre : [slice.w / 2, slice.h / 2];
      model.set("center", [cx - (event.clientX - stroke.pan[0]) * k / t.sx,
                           cy - (event.clientY - stroke.pan[1]) * k / t.sy]);
      stroke.pan = [event.clientX, event.clientY];
    } else {
      stroke.points.push(voxel(event));
    }
    compose();
  }

  function onUp() {
    if (!stroke) return;
    if (stroke.pan) model.save_changes();
    else {
      model.send({ type: "stroke", axis: stroke.axis, index: stroke.index, points: stroke.points,
                   erase: stroke.erase, radius: model.get("radius") });
    }
    stroke = null; // the stroke stays drawn until the kernel's slice replaces it
  }

  function onWheel(event) {
    event.preventDefault();
    if (event.ctrlKey) zoomBy(event.deltaY < 0 ? 1.1 : 1 / 1.1);
    else go(model.get("index") + (event.deltaY < 0 ? 1 : -1));
  }

  // slices by "axis:index", oldest first, as the kernel remembers sending them
  const cache = new Map();
  let version = -1;

  function onMessage(message, buffers) {
    if (message.type !== "slice" || message.version < version) return;
    if (message.version > version) { cache.clear(); version = message.version; }
    const labelled = message.codes !== null;
    const entry = { axis: message.axis, index: message.index, w: message.w, h: message.h,
                    aspect: message.aspect, text: message.text,
                    pixels: typed(buffers[0], message.pixels),
                    codes: labelled ? typed(buffers[1], message.codes) : null,
                    colors: labelled ? typed(buffers[2], "uint8") : null };
    const key = `${entry.axis}:${entry.index}`;
    cache.delete(key);
    cache.set(key, entry);
    while (cache.size > model.get("cache_size")) cache.delete(cache.keys().next().value);
    if (entry.axis === model.get("axis") && entry.index === model.get("index")) display(entry);
  }

  function display(entry) {
    slice = entry;
    paintBase();
    compose();
  }

  // the slice asked for (here or by the kernel): drawn at once when it is in the cache,
  // else when the kernel's message arrives
  function showCurrent() {
    const entry = cache.get(`${model.get("axis")}:${model.get("index")}`);
    if (entry && entry !== slice) display(entry);
  }

  const repaint = () => { if (slice) { paintBase(); compose(); } };
  canvas.addEventListener("keydown", onKey);
  canvas.addEventListener("mousedown", onDown);
  canvas.addEventListener("wheel", onWheel, { passive: false });
  window.addEventListener("mousemove", onMove);
  window.addEventListener("mouseup", onUp);
  // what the view listens to on its model, registered here and removed with the view
  const listeners = [["msg:custom", onMessage], ["change:index", showCurrent],
    ["change:axis", showCurrent], ["change:window", repaint], ["change:zoom", compose],
    ["change:center", compose], ["change:display_size", compose]];
  for (const [event, handler] of listeners) model.on(event, handler);
  model.send({ type: "ready" });
  return () => {
    window.removeEventListener("mousemove", onMove);
    window.removeEventListener("mouseup", onUp);
    for (const [event, handler] of listeners) model.off(event, handler);
  };
}

export default { render };
