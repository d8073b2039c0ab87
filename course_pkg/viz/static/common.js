// course_pkg.viz — shared drawing and control helpers.
// This file is concatenated in front of each figure's own module (see course_pkg/viz/_base.py):
// the result is the anywidget ESM of the live widget AND the inline module of the static book
// page, so both renderings run exactly the same code. No imports, no network.

// ---------------------------------------------------------------- arrays sent from Python
// Python encodes arrays as {"$arr": "f32" | "u16", shape, b64, lo?, hi?, log?} (see _base.encode).
function cvDecode(a) {
  if (a === null || a === undefined) return a;
  if (Array.isArray(a) || typeof a === "number") return a;
  if (typeof a === "object" && !a.$arr) return a;
  const bin = atob(a.b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  let out;
  if (a.$arr === "f32") {
    out = Float64Array.from(new Float32Array(bytes.buffer));
  } else if (a.$arr === "u16") {
    const q = new Uint16Array(bytes.buffer);
    out = new Float64Array(q.length);
    for (let i = 0; i < q.length; i++) {
      const v = a.lo + (a.hi - a.lo) * (q[i] / 65535);
      out[i] = a.log ? Math.pow(10, v) : v;
    }
  } else {
    throw new Error("course_pkg.viz: unknown array encoding " + a.$arr);
  }
  out.shape = a.shape;
  return out;
}

// Cache decoded arrays per encoded object (the same spec is read on every redraw).
const cvCache = new WeakMap();
function cvArr(a) {
  if (a === null || typeof a !== "object" || !a.$arr) return cvDecode(a);
  let v = cvCache.get(a);
  if (!v) { v = cvDecode(a); cvCache.set(a, v); }
  return v;
}

// ---------------------------------------------------------------- colours
// CV_METHOD_COLORS is put in front of this file by course_pkg/viz/_base.py from
// course_pkg.viz.palette.METHOD_COLORS: one colour per method in every figure of the course.
const CV_COLORS = {
  true: "#c0392b", model: "#1f5fa8", before: "#8aa6c8", accent: "#e67e22", green: "#1e8449",
  purple: "#7d3c98", grey: "#555", light: "#ddd",
  methods: (typeof CV_METHOD_COLORS === "object") ? CV_METHOD_COLORS
    : { maml: "#0072B2", fomaml: "#D55E00", reptile: "#009E73", imaml: "#CC79A7" },
};
// Perceptually ordered map (viridis anchors); low loss = dark, as in the MAML article.
const CV_VIRIDIS = [
  [68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37],
];
function cvColormap(t) {
  t = Math.min(1, Math.max(0, t));
  const s = t * (CV_VIRIDIS.length - 1);
  const i = Math.min(CV_VIRIDIS.length - 2, Math.floor(s));
  const f = s - i, a = CV_VIRIDIS[i], b = CV_VIRIDIS[i + 1];
  return [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])];
}

// A number for a readout: "–" for none, ∞, 0 for round-off (|v| < 1e-12), exponent for tiny/huge.
function cvFmt(v, d = 3) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
  const a = Math.abs(v);
  if (a < 1e-12) return (0).toFixed(d);
  if (a !== 0 && (a < 1e-3 || a >= 1e4)) return v.toExponential(2).replace("-", "−");
  return v.toFixed(d).replace("-", "−");
}

function cvNiceTicks(lo, hi, n = 5) {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= n) || 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + 1e-9 * step; v += step) {
    out.push(Math.abs(v) < 1e-12 ? 0 : v);
  }
  return out;
}

// ---------------------------------------------------------------- plot
class CvPlot {
  constructor(parent, opts) {
    this.o = Object.assign({ width: 340, height: 300, margin: [28, 12, 40, 48], title: "",
                             xlabel: "", ylabel: "", equal: false }, opts);
    this.wrap = document.createElement("div");
    this.wrap.className = "cviz-plot";
    // At most its drawing size, shrinking with its container (phones); height follows the
    // canvas's aspect ratio. The backing store has devicePixelRatio (≥ 2) pixels per CSS pixel,
    // so a shrunk or HiDPI canvas stays crisp. Pointer positions are rescaled in onPointer.
    this.wrap.style.width = this.o.width + "px";
    this.canvas = document.createElement("canvas");
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute("aria-label", this.o.title || this.o.label || "plot");
    this.wrap.appendChild(this.canvas);
    parent.appendChild(this.wrap);
    const dpr = Math.max(2, Math.min(3, (typeof window !== "undefined" && window.devicePixelRatio) || 1));
    this.dpr = dpr;
    this.canvas.width = Math.round(this.o.width * dpr);
    this.canvas.height = Math.round(this.o.height * dpr);
    this.canvas.style.width = "100%";
    this.canvas.style.height = "auto";
    this.canvas.style.aspectRatio = `${this.o.width} / ${this.o.height}`;
    this.ctx = this.canvas.getContext("2d");
    this.setLimits(this.o.xlim || [0, 1], this.o.ylim || [0, 1]);
    // The figure refits its plots to its width (cvWire): register with the figure's root.
    this.base = [this.o.width, this.o.height];
    const root = parent.closest ? parent.closest(".cviz-root") : null;
    if (root) (root.__cvPlots = root.__cvPlots || []).push(this);
  }
  // Resize the drawing to at most `avail` CSS px wide (never wider than designed, never below
  // 200 px), keeping the aspect ratio; returns true when the size changed (redraw needed).
  // Fonts keep their pixel size, so a phone gets a smaller plot with readable labels.
  fit(avail) {
    const w = Math.max(200, Math.min(this.base[0], Math.floor(avail)));
    if (w === this.o.width) return false;
    this.o.width = w;
    this.o.height = Math.round(this.base[1] * w / this.base[0]);
    this.wrap.style.width = w + "px";
    this.canvas.width = Math.round(w * this.dpr);
    this.canvas.height = Math.round(this.o.height * this.dpr);
    this.canvas.style.aspectRatio = `${w} / ${this.o.height}`;
    this.setLimits(this.xlim, this.ylim);
    return true;
  }
  setLimits(xlim, ylim) {
    this.xlim = xlim; this.ylim = ylim;
    const [t, r, b, l] = this.o.margin;
    this.x0 = l; this.x1 = this.o.width - r; this.y0 = t; this.y1 = this.o.height - b;
  }
  px(x) { return this.x0 + (x - this.xlim[0]) / (this.xlim[1] - this.xlim[0]) * (this.x1 - this.x0); }
  py(y) { return this.y1 - (y - this.ylim[0]) / (this.ylim[1] - this.ylim[0]) * (this.y1 - this.y0); }
  inv(px, py) {
    return [this.xlim[0] + (px - this.x0) / (this.x1 - this.x0) * (this.xlim[1] - this.xlim[0]),
            this.ylim[0] + (this.y1 - py) / (this.y1 - this.y0) * (this.ylim[1] - this.ylim[0])];
  }
  inside(x, y) {
    return x >= this.xlim[0] && x <= this.xlim[1] && y >= this.ylim[0] && y <= this.ylim[1];
  }
  begin() {
    const c = this.ctx;
    c.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    c.clearRect(0, 0, this.o.width, this.o.height);
    c.fillStyle = "#fff"; c.fillRect(0, 0, this.o.width, this.o.height);
    return this;
  }
  clip(fn) {
    const c = this.ctx;
    c.save(); c.beginPath(); c.rect(this.x0, this.y0, this.x1 - this.x0, this.y1 - this.y0); c.clip();
    fn(c); c.restore();
  }
  // values: row-major, ny rows (y ascending) × nx columns (x ascending); extent = data limits.
  heatmap(values, nx, ny, opts = {}) {
    const log = opts.log !== false;
    let lo = Infinity, hi = -Infinity;
    const t = new Float64Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = log ? Math.log10(Math.max(values[i], 1e-12)) : values[i];
      t[i] = v;
      if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
    if (log) lo = Math.max(lo, hi - (opts.decades || 4));  // an exact zero would swamp the map
    if (opts.vmin !== undefined) lo = log ? Math.log10(opts.vmin) : opts.vmin;
    if (opts.vmax !== undefined) hi = log ? Math.log10(opts.vmax) : opts.vmax;
    const off = document.createElement("canvas");
    off.width = nx; off.height = ny;
    const octx = off.getContext("2d"), img = octx.createImageData(nx, ny);
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const v = t[j * nx + i];
        const col = Number.isFinite(v) ? cvColormap((v - lo) / (hi - lo || 1)) : [255, 255, 255];
        const k = ((ny - 1 - j) * nx + i) * 4;
        img.data[k] = col[0]; img.data[k + 1] = col[1]; img.data[k + 2] = col[2]; img.data[k + 3] = 255;
      }
    }
    octx.putImageData(img, 0, 0);
    const ext = opts.extent || [this.xlim[0], this.xlim[1], this.ylim[0], this.ylim[1]];
    const dx = (ext[1] - ext[0]) / (nx - 1), dy = (ext[3] - ext[2]) / (ny - 1);
    this.clip((c) => {
      c.imageSmoothingEnabled = true;
      const X0 = this.px(ext[0] - dx / 2), X1 = this.px(ext[1] + dx / 2);
      const Y0 = this.py(ext[3] + dy / 2), Y1 = this.py(ext[2] - dy / 2);
      c.drawImage(off, X0, Y0, X1 - X0, Y1 - Y0);
    });
    return this;
  }
  line(xs, ys, opts = {}) {
    this.clip((c) => {
      c.strokeStyle = opts.color || "#000"; c.lineWidth = opts.width || 2;
      c.setLineDash(opts.dash || []); c.globalAlpha = opts.alpha ?? 1;
      c.beginPath();
      let started = false;
      for (let i = 0; i < xs.length; i++) {
        if (!Number.isFinite(ys[i]) || !Number.isFinite(xs[i])) { started = false; continue; }
        const X = this.px(xs[i]), Y = Math.max(-1e4, Math.min(1e4, this.py(ys[i])));
        if (!started) { c.moveTo(X, Y); started = true; } else c.lineTo(X, Y);
      }
      c.stroke();
    });
    return this;
  }
  points(xs, ys, opts = {}) {
    this.clip((c) => {
      for (let i = 0; i < xs.length; i++) {
        c.beginPath(); c.arc(this.px(xs[i]), this.py(ys[i]), opts.r || 5, 0, 2 * Math.PI);
        c.fillStyle = opts.color || "#000"; c.fill();
        c.lineWidth = 1.5; c.strokeStyle = opts.stroke || "#fff"; c.stroke();
      }
    });
    return this;
  }
  marker(x, y, opts = {}) {
    const s = opts.size || 7, X = this.px(x), Y = this.py(y);
    this.clip((c) => {
      c.fillStyle = opts.color || "#fff"; c.strokeStyle = opts.stroke || "#000"; c.lineWidth = 1.5;
      c.beginPath();
      if (opts.shape === "star") {
        for (let k = 0; k < 10; k++) {
          const r = k % 2 ? s * 0.45 : s * 1.2, a = -Math.PI / 2 + k * Math.PI / 5;
          c.lineTo(X + r * Math.cos(a), Y + r * Math.sin(a));
        }
        c.closePath();
      } else if (opts.shape === "cross") {
        c.lineWidth = 3; c.strokeStyle = opts.color || "#fff";
        c.moveTo(X - s, Y - s); c.lineTo(X + s, Y + s); c.moveTo(X + s, Y - s); c.lineTo(X - s, Y + s);
        c.stroke(); return;
      } else if (opts.shape === "square") {
        c.rect(X - s * 0.8, Y - s * 0.8, s * 1.6, s * 1.6);
      } else {
        c.arc(X, Y, s, 0, 2 * Math.PI);
      }
      c.fill(); c.stroke();
    });
    if (opts.label) {
      this.text(x, y, opts.label, { dx: s + 3, dy: -s - 2, color: opts.labelColor || "#fff",
                                    halo: "rgba(0, 0, 0, 0.85)", font: "bold 12px sans-serif" });
    }
    return this;
  }
  arrow(x0, y0, x1, y1, opts = {}) {
    const X0 = this.px(x0), Y0 = this.py(y0), X1 = this.px(x1), Y1 = this.py(y1);
    const L = Math.hypot(X1 - X0, Y1 - Y0);
    this.clip((c) => {
      c.strokeStyle = opts.color || "#fff"; c.fillStyle = opts.color || "#fff";
      c.lineWidth = opts.width || 2.5; c.setLineDash(opts.dash || []);
      if (L < 1) return;
      const h = Math.min(opts.head || 10, L * 0.6), a = Math.atan2(Y1 - Y0, X1 - X0);
      c.beginPath(); c.moveTo(X0, Y0);
      c.lineTo(X1 - h * 0.8 * Math.cos(a), Y1 - h * 0.8 * Math.sin(a)); c.stroke();
      c.setLineDash([]);
      c.beginPath(); c.moveTo(X1, Y1);
      c.lineTo(X1 - h * Math.cos(a - 0.4), Y1 - h * Math.sin(a - 0.4));
      c.lineTo(X1 - h * Math.cos(a + 0.4), Y1 - h * Math.sin(a + 0.4));
      c.closePath(); c.fill();
    });
    return this;
  }
  text(x, y, s, opts = {}) {
    const c = this.ctx;
    c.font = opts.font || "12px sans-serif"; c.fillStyle = opts.color || "#222";
    c.textAlign = opts.align || "left"; c.textBaseline = opts.baseline || "alphabetic";
    const X = this.px(x) + (opts.dx || 0), Y = this.py(y) + (opts.dy || 0);
    if (opts.halo) {  // a dark outline keeps light labels readable on light (yellow) map areas
      c.save(); c.lineWidth = 3.5; c.lineJoin = "round"; c.strokeStyle = opts.halo;
      c.setLineDash([]); c.strokeText(s, X, Y); c.restore();
    }
    c.fillText(s, X, Y);
    return this;
  }
  axes() {
    const c = this.ctx, o = this.o;
    c.setLineDash([]); c.strokeStyle = "#333"; c.lineWidth = 1;
    c.strokeRect(this.x0, this.y0, this.x1 - this.x0, this.y1 - this.y0);
    c.font = "11px sans-serif"; c.fillStyle = "#333";
    c.textAlign = "center"; c.textBaseline = "top";
    for (const v of cvNiceTicks(this.xlim[0], this.xlim[1], o.xticks || 6)) {
      const X = this.px(v);
      c.beginPath(); c.moveTo(X, this.y1); c.lineTo(X, this.y1 + 4); c.stroke();
      c.fillText(String(+v.toFixed(3)).replace("-", "−"), X, this.y1 + 6);
    }
    c.textAlign = "right"; c.textBaseline = "middle";
    for (const v of cvNiceTicks(this.ylim[0], this.ylim[1], o.yticks || 5)) {
      const Y = this.py(v);
      c.beginPath(); c.moveTo(this.x0 - 4, Y); c.lineTo(this.x0, Y); c.stroke();
      c.fillText(String(+v.toFixed(3)).replace("-", "−"), this.x0 - 6, Y);
    }
    c.font = "12px sans-serif"; c.textAlign = "center"; c.textBaseline = "bottom";
    if (o.xlabel) c.fillText(o.xlabel, (this.x0 + this.x1) / 2, o.height - 4);
    if (o.title) {  // shrink the font (13 → 9 px) until the title fits the canvas
      let size = 13;
      do { c.font = `bold ${size}px sans-serif`; size -= 1; }
      while (size >= 9 && c.measureText(o.title).width > o.width - 6);
      c.fillText(o.title, Math.min(Math.max((this.x0 + this.x1) / 2,
        c.measureText(o.title).width / 2 + 3), o.width - c.measureText(o.title).width / 2 - 3),
        this.y0 - 8);
    }
    if (o.ylabel) {
      c.save(); c.translate(12, (this.y0 + this.y1) / 2); c.rotate(-Math.PI / 2);
      c.font = "12px sans-serif"; c.textBaseline = "middle"; c.fillText(o.ylabel, 0, 0); c.restore();
    }
    return this;
  }
  legend(items, opts = {}) {
    const c = this.ctx;
    let Y = this.y0 + 12;
    const w = opts.width || 150;
    const X = opts.right ? this.x1 - w - 2 : this.x0 + 8;
    c.font = "11px sans-serif"; c.textAlign = "left"; c.textBaseline = "middle";
    c.fillStyle = "rgba(255,255,255,0.85)";
    c.fillRect(X - 4, this.y0 + 3, w, items.length * 16 + 4);
    for (const it of items) {
      c.strokeStyle = it.color; c.fillStyle = it.color; c.lineWidth = 2; c.setLineDash(it.dash || []);
      if (it.dot) { c.beginPath(); c.arc(X + 10, Y, 4, 0, 2 * Math.PI); c.fill(); }
      else { c.beginPath(); c.moveTo(X, Y); c.lineTo(X + 20, Y); c.stroke(); }
      c.setLineDash([]); c.fillStyle = "#222"; c.fillText(it.label, X + 26, Y);
      Y += 16;
    }
    return this;
  }
  // Pointer interaction in data coordinates: handlers {down, move, up} get (x, y, event).
  onPointer(h) {
    const pos = (e) => {
      const r = this.canvas.getBoundingClientRect();
      return this.inv((e.clientX - r.left) * this.o.width / r.width,
                      (e.clientY - r.top) * this.o.height / r.height);
    };
    let dragging = false;
    this.canvas.addEventListener("pointerdown", (e) => {
      const [x, y] = pos(e);
      if (!this.inside(x, y)) return;
      dragging = true;
      try { this.canvas.setPointerCapture(e.pointerId); } catch (_) { /* synthetic events */ }
      h.down && h.down(x, y, e);
    });
    this.canvas.addEventListener("pointermove", (e) => {
      if (!dragging) return;
      const [x, y] = pos(e);
      h.move && h.move(Math.min(Math.max(x, this.xlim[0]), this.xlim[1]),
                       Math.min(Math.max(y, this.ylim[0]), this.ylim[1]), e);
    });
    const end = (e) => { if (dragging) { dragging = false; h.up && h.up(e); } };
    this.canvas.addEventListener("pointerup", end);
    this.canvas.addEventListener("pointercancel", end);
    this.canvas.style.cursor = "crosshair";
    this.canvas.style.touchAction = "none";
    return this;
  }
  // Keyboard equivalent of dragging a point: the canvas takes the focus and the arrow keys move
  // get() -> [x, y] by 1/40 of the axis range (Shift: 1/8); set(x, y) receives the new point.
  onKeys(get, set, what = "θ") {
    const cv = this.canvas;
    cv.tabIndex = 0;
    cv.setAttribute("role", "application");
    cv.setAttribute("aria-roledescription", "interactive plot");
    cv.setAttribute("aria-label", `${this.o.title || "plot"}: arrow keys move ${what}`);
    cv.setAttribute("data-lm-suppress-shortcuts", "true");  // JupyterLab: keys stay with the plot
    cv.addEventListener("keydown", (e) => {
      const d = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] }[e.key];
      if (!d) return;
      e.preventDefault();
      const f = e.shiftKey ? 1 / 8 : 1 / 40, [x, y] = get();
      const clamp = (v, lim) => Math.min(Math.max(v, lim[0]), lim[1]);
      set(clamp(x + d[0] * f * (this.xlim[1] - this.xlim[0]), this.xlim),
          clamp(y + d[1] * f * (this.ylim[1] - this.ylim[0]), this.ylim));
    });
    return this;
  }
}

// ---------------------------------------------------------------- controls
function cvEl(tag, cls, parent, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}

// A labelled range slider. opts: {label, min, max, step, value, fmt, log, onInput(v)}.
// With log=true the slider moves in log10 space while value/min/max stay in linear units.
function cvSlider(parent, opts) {
  const row = cvEl("label", "cviz-slider", parent);
  cvEl("span", "cviz-slider-label", row, opts.label);
  const input = cvEl("input", null, row);
  input.type = "range";
  const tr = opts.log ? (v) => Math.log10(v) : (v) => v;
  const un = opts.log ? (v) => Math.pow(10, v) : (v) => v;
  input.min = tr(opts.min); input.max = tr(opts.max);
  input.step = opts.log ? (tr(opts.max) - tr(opts.min)) / 200 : opts.step;
  input.setAttribute("aria-label", opts.ariaLabel || opts.label);
  input.dataset.control = opts.name || opts.label;
  const out = cvEl("span", "cviz-slider-value", row);
  const fmt = opts.fmt || ((v) => cvFmt(v, 2));
  const snap = (v) => opts.log ? v : Math.round(v / opts.step) * opts.step;
  // screen readers announce the value as shown (λ itself, not log10 λ of a log slider)
  const show = (v) => { const t = fmt(v); out.textContent = t; input.setAttribute("aria-valuetext", t); };
  const api = {
    input,
    set(v) { input.value = tr(v); show(v); },
    get() { return snap(un(parseFloat(input.value))); },
  };
  input.addEventListener("input", () => {
    const v = api.get(); show(v); opts.onInput(v);
  });
  api.set(opts.value);
  return api;
}

function cvButton(parent, label, onClick, title) {
  const b = cvEl("button", "cviz-button", parent, label);
  b.type = "button";
  if (title) b.title = title;
  b.addEventListener("click", onClick);
  return b;
}

// Radio-like segmented selector: options [[value, label], ...].
function cvSelect(parent, opts) {
  const row = cvEl("div", "cviz-select", parent);
  row.setAttribute("role", "group");
  if (opts.label) {
    const lab = cvEl("span", "cviz-slider-label", row, opts.label);
    lab.id = cvUid("cviz-label");
    row.setAttribute("aria-labelledby", lab.id);
  }
  const btns = {};
  for (const [v, lab] of opts.options) {
    const b = cvButton(row, lab, () => { api.set(v); opts.onChange(v); });
    b.dataset.value = v;
    btns[v] = b;
  }
  const api = {
    set(v) {
      for (const k in btns) {
        const on = String(k) === String(v);
        btns[k].classList.toggle("cviz-active", on);
        btns[k].setAttribute("aria-pressed", on ? "true" : "false");
      }
    },
  };
  api.set(opts.value);
  return api;
}

// ---------------------------------------------------------------- model plumbing
// Set one or more controls (a dict trait "controls") and send them to the backend.
function cvSetControls(model, patch) {
  model.set("controls", Object.assign({}, model.get("controls"), patch));
  model.save_changes();
}

// Static (kernel-free) model: the same get/set/on/save_changes surface as an anywidget model,
// with data recomputed in the browser by the figure's staticCompute(controls, spec, payload).
function cvStaticModel(init, compute) {
  const values = Object.assign({}, init);
  const listeners = {};
  const pending = new Set();
  const fire = (k) => {
    for (const cb of listeners["change:" + k] || []) cb();
    for (const cb of listeners["change"] || []) cb();
  };
  return {
    get: (k) => values[k],
    set: (k, v) => { values[k] = v; pending.add(k); },
    save_changes() {
      const keys = [...pending]; pending.clear();
      if (keys.includes("controls")) {
        values.data = compute(values.controls, values.spec, values.payload);
        keys.push("data");
      }
      for (const k of keys) fire(k);
    },
    on(evt, cb) { (listeners[evt] = listeners[evt] || []).push(cb); },
    off(evt, cb) {
      if (!evt) { for (const k in listeners) delete listeners[k]; return; }
      listeners[evt] = (listeners[evt] || []).filter((f) => f !== cb);
    },
    send() {},
  };
}

// Mount a figure into `el` without a kernel (used by the static HTML of the book).
function cvMountStatic(el, init, render, compute) {
  const model = cvStaticModel(init, compute);
  if (!init.data || Object.keys(init.data).length === 0) {
    model.set("controls", init.controls); model.save_changes();
  }
  el.__cviz = { model, compute };
  render({ model, el });
  el.dataset.cvizReady = "1";
  return model;
}

// Mount every not-yet-mounted static figure of `kind` on the page. Each figure is a
// <div class="cviz-root" data-cviz="kind"> holding its state as <script type="application/json"
// class="cviz-init">. The figure's module runs this once per copy of the module: inline in a
// self-contained snippet (each copy mounts what is there and not mounted yet), or once per page
// when the book loads the module from _static (course_pkg/viz/embed.py).
function cvMountAll(kind, render, compute) {
  for (const el of document.querySelectorAll(`.cviz-root[data-cviz="${kind}"]`)) {
    if (el.dataset.cvizReady || el.__cvizMounting) continue;
    const src = el.querySelector(":scope > script.cviz-init");
    if (!src) continue;
    el.__cvizMounting = true;
    cvMountStatic(el, JSON.parse(src.textContent), render, compute);
  }
}

// Build the figure skeleton: title, a row of plots, a control panel, a caption/readout line.
// The figure is a role="figure" named by its title and described by `about` (what it shows and
// how to operate it, read by screen readers) and by the readout line (announced on change).
function cvFrame(el, spec, about) {
  el.classList.add("cviz-root");
  el.innerHTML = "";
  el.__cvPlots = [];
  const root = cvEl("div", "cviz-figure", el);
  root.setAttribute("role", "figure");
  if (spec.title) {
    const t = cvEl("div", "cviz-title", root, spec.title);
    t.id = cvUid("cviz-title");
    root.setAttribute("aria-labelledby", t.id);
  } else {
    root.setAttribute("aria-label", "interactive figure");
  }
  const desc = cvEl("p", "cviz-sr-only", root, about || "");
  desc.id = cvUid("cviz-about");
  const plots = cvEl("div", "cviz-plots", root);
  const controls = cvEl("div", "cviz-controls", root);
  const readout = cvEl("div", "cviz-readout", root);
  readout.id = cvUid("cviz-readout");
  readout.setAttribute("aria-live", "polite");
  root.setAttribute("aria-describedby", `${desc.id} ${readout.id}`);
  return { root, plots, controls, readout };
}

let cvUidCount = 0;
function cvUid(prefix) {
  cvUidCount += 1;
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}-${cvUidCount}`;
}

// Draw now and after every change of data or error; after each draw the figure's element gets
// data-cviz-draws incremented (tests wait for that signal instead of for time).
// The plots are refitted to the figure's width first and whenever it changes (phones, a resized
// window or JupyterLab panel), then redrawn at that size.
function cvWire(model, el, draw) {
  const run = () => {
    draw();
    el.dataset.cvizDraws = String((+el.dataset.cvizDraws || 0) + 1);
  };
  el.__cvRedraw = run;  // a redraw without new data (a keyboard cursor), counted the same way
  const fit = () => {
    const fig = el.querySelector(".cviz-figure");
    if (!el.clientWidth || !fig) return false;
    const cs = getComputedStyle(fig);
    const pad = parseFloat(cs.paddingLeft) + parseFloat(cs.paddingRight) +
      parseFloat(cs.borderLeftWidth) + parseFloat(cs.borderRightWidth);
    let changed = false;
    for (const p of el.__cvPlots || []) changed = p.fit(el.clientWidth - pad) || changed;
    return changed;
  };
  fit();
  model.on("change:data", run);
  model.on("change:error", run);
  run();
  let ro = null;
  if (typeof ResizeObserver !== "undefined") {
    ro = new ResizeObserver(() => { if (fit()) run(); });
    ro.observe(el);
  }
  return () => {
    model.off("change:data", run); model.off("change:error", run);
    if (ro) ro.disconnect();
  };
}

// Grid helpers shared by the landscape figures. spec.grid = {a: [lo, hi, n], b: [lo, hi, n]}.
function cvGrid(grid) {
  const [alo, ahi, na] = grid.a, [blo, bhi, nb] = grid.b;
  return { na, nb, extent: [alo, ahi, blo, bhi],
           a: (i) => alo + (ahi - alo) * i / (na - 1), b: (j) => blo + (bhi - blo) * j / (nb - 1) };
}

// ---------------------------------------------------------------- 2-D linear algebra
// Quadratic toy losses L(θ) = ½ θᵀHθ − bᵀθ + c (see course_pkg.viz.methods.quadratic_spec).
function mv2(H, v) { return [H[0][0] * v[0] + H[0][1] * v[1], H[1][0] * v[0] + H[1][1] * v[1]]; }
function add2(u, v, s = 1) { return [u[0] + s * v[0], u[1] + s * v[1]]; }
function solve2(A, b) {
  const det = A[0][0] * A[1][1] - A[0][1] * A[1][0];
  return [(A[1][1] * b[0] - A[0][1] * b[1]) / det, (A[0][0] * b[1] - A[1][0] * b[0]) / det];
}
function quadGrad(H, b, th) { return add2(mv2(H, th), b, -1); }
function quadLoss(H, b, c, th) {
  const Ht = mv2(H, th);
  return 0.5 * (th[0] * Ht[0] + th[1] * Ht[1]) - (b[0] * th[0] + b[1] * th[1]) + c;
}
// k gradient-descent steps with rate lr on a quadratic; returns the trajectory [θ_0 … θ_k].
function quadDescent(H, b, th, k, lr) {
  const out = [th];
  for (let i = 0; i < k; i++) { th = add2(th, quadGrad(H, b, th), -lr); out.push(th); }
  return out;
}
