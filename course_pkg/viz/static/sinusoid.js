// Figure "sinusoid": a 1-40-40-1 ReLU network fine-tuned by k SGD steps on ≤ 5 points of
// A sin(x − b). Static rendering: the browser runs the network (forward + backward) itself.

// Layers of an MLP state dict {"net.<i>.weight": (out, in), "net.<i>.bias": (out,)}.
function mlpLayers(weights) {
  const idx = [...new Set(Object.keys(weights).map((k) => +k.split(".")[1]))].sort((a, b) => a - b);
  return idx.map((i) => {
    const W = cvArr(weights[`net.${i}.weight`]), b = cvArr(weights[`net.${i}.bias`]);
    return { W: Float64Array.from(W), b: Float64Array.from(b), out: W.shape[0], in: W.shape[1] };
  });
}

// Forward pass for scalar inputs xs; returns outputs and (when keep) every layer's activations.
function mlpForward(layers, xs, keep = false) {
  const acts = [];
  const out = new Float64Array(xs.length);
  for (let n = 0; n < xs.length; n++) {
    let h = Float64Array.of(xs[n]);
    const per = [h];
    layers.forEach((L, li) => {
      const z = new Float64Array(L.out);
      for (let o = 0; o < L.out; o++) {
        let s = L.b[o];
        for (let i = 0; i < L.in; i++) s += L.W[o * L.in + i] * h[i];
        z[o] = li < layers.length - 1 ? (s > 0 ? s : 0) : s;  // ReLU on hidden layers
      }
      h = z; per.push(h);
    });
    out[n] = h[0];
    acts.push(per);
  }
  return keep ? { out, acts } : out;
}

// One SGD step on the mean squared error (torch.nn.functional.mse_loss) of (xs, ys).
function mlpSgdStep(layers, xs, ys, lr) {
  const { out, acts } = mlpForward(layers, xs, true);
  const K = xs.length;
  const grads = layers.map((L) => ({ W: new Float64Array(L.W.length), b: new Float64Array(L.out) }));
  for (let n = 0; n < K; n++) {
    let delta = Float64Array.of(2 * (out[n] - ys[n]) / K);  // dL/d(output)
    for (let li = layers.length - 1; li >= 0; li--) {
      const L = layers[li], hin = acts[n][li], G = grads[li];
      for (let o = 0; o < L.out; o++) {
        G.b[o] += delta[o];
        for (let i = 0; i < L.in; i++) G.W[o * L.in + i] += delta[o] * hin[i];
      }
      if (li > 0) {
        const prev = new Float64Array(L.in);
        for (let i = 0; i < L.in; i++) {
          if (!(hin[i] > 0)) continue;  // ReLU'(z) = 1 if z > 0 else 0 (as torch)
          let s = 0;
          for (let o = 0; o < L.out; o++) s += L.W[o * L.in + i] * delta[o];
          prev[i] = s;
        }
        delta = prev;
      }
    }
  }
  return layers.map((L, li) => ({
    W: L.W.map((w, j) => w - lr * grads[li].W[j]), b: L.b.map((v, j) => v - lr * grads[li].b[j]),
    out: L.out, in: L.in,
  }));
}

function sinusoidGrid(spec) {
  const [lo, hi] = spec.x_range, n = spec.n_grid;
  return Array.from({ length: n }, (_, i) => Math.fround(lo + (hi - lo) * i / (n - 1)));
}

const cvLayerCache = {};
function staticCompute(controls, spec) {
  const name = controls.model, m = spec.models[name];
  const layers = cvLayerCache[name] || (cvLayerCache[name] = mlpLayers(m.weights));
  const xg = sinusoidGrid(spec);
  const A = controls.amplitude, ph = controls.phase;
  const f = (x) => A * Math.sin(x - ph);
  const pts = controls.points.slice(-spec.max_points);
  const ys = pts.map(f);
  let phi = layers;
  if (pts.length) for (let s = 0; s < controls.test_steps; s++) phi = mlpSgdStep(phi, pts, ys, m.inner_lr);
  const truth = xg.map(f), before = Array.from(mlpForward(layers, xg));
  const after = Array.from(mlpForward(phi, xg));
  const mse = (p) => p.reduce((s, v, i) => s + (v - truth[i]) ** 2, 0) / p.length;
  return { true: truth, before, after, points: pts, ys, mse_before: mse(before),
           mse_after: mse(after) };
}

// Keyboard placement of support points (the mouse's click, from the keyboard alone): the plot
// takes the focus and shows a crosshair at the cursor's x; ← → move it by 0.1 (Shift, PageUp/Down:
// by 1; Home/End: the ends), Enter or Space places a point there, Delete or Backspace removes the
// last point. Every move and placement is announced in the figure's status line (aria-live).
const SIN_KEYS = { ArrowLeft: -0.1, ArrowDown: -0.1, ArrowRight: 0.1, ArrowUp: 0.1,
                   PageDown: -1, PageUp: 1 };

function render({ model, el }) {
  const spec = model.get("spec");
  const [lo, hi] = spec.x_range, maxPts = spec.max_points;
  const f = cvFrame(el, spec, "A plot of y against x: the true sine curve A sin(x − b) (red), " +
    "the network before fine-tuning (dashed) and after k SGD steps on the support points " +
    "(blue). Place up to five support points by clicking the plot or from the keyboard (focus " +
    "the plot, move its cursor with the arrow keys, press Enter); the sliders set A, b and k " +
    "and the buttons choose the model.");
  const xg = sinusoidGrid(spec);
  const plot = new CvPlot(f.plots, { width: 580, height: 330, xlim: spec.x_range, ylim: [-6, 6],
    xlabel: "x", ylabel: "y", title: "click, or focus and press Enter, to place up to 5 points" });
  const c = () => model.get("controls");
  const curve = (x) => c().amplitude * Math.sin(x - c().phase);
  const fx = (v) => cvFmt(v, 2);

  // the keyboard's cursor (data x), its instructions and its spoken/visible status line
  let cursor = 0, keyboard = false;
  const cv = plot.canvas;
  const help = cvEl("p", "cviz-sr-only", f.root, "Keyboard: the left and right arrow keys move " +
    "a cursor along x by 0.1 (with Shift, or Page Up and Page Down, by 1; Home and End go to " +
    `the ends, ${lo} and ${hi}); Enter or Space places a support point at the cursor, on the ` +
    "true curve; Delete or Backspace removes the last point placed. At most " +
    `${maxPts} points: a new one drops the oldest.`);
  help.id = cvUid("cviz-help");
  const status = cvEl("div", "cviz-hint cviz-status", null);
  f.plots.after(status);
  status.id = cvUid("cviz-status");
  status.setAttribute("aria-live", "polite");
  status.textContent = "Keyboard: focus the plot, ← → move the cursor, Enter places a point, " +
    "Backspace removes the last.";
  cv.tabIndex = 0;
  cv.setAttribute("role", "application");
  cv.setAttribute("aria-roledescription", "interactive plot");
  cv.setAttribute("aria-label", "sinusoid plot: arrow keys move a cursor along x, Enter places " +
    "a support point");
  cv.setAttribute("aria-describedby", help.id);
  cv.setAttribute("data-lm-suppress-shortcuts", "true");  // JupyterLab: keys stay with the plot
  const say = (text) => { status.textContent = text; cv.dataset.cursorX = String(cursor); };
  const place = (x) => {
    const old = c().points, pts = old.concat([+x.toFixed(3)]).slice(-maxPts);
    const dropped = old.length + 1 > maxPts;
    cursor = x;
    say(`Placed a point at x = ${fx(x)}, y = ${fx(curve(x))} (${pts.length} of ${maxPts}` +
        `${dropped ? ", the oldest dropped" : ""}).`);
    cvSetControls(model, { points: pts });
  };
  plot.onPointer({ down: (x) => { keyboard = false; place(x); } });
  cv.addEventListener("keydown", (e) => {
    let x = cursor;
    if (e.key in SIN_KEYS) x += SIN_KEYS[e.key] * (e.shiftKey ? 10 : 1);
    else if (e.key === "Home") x = lo;
    else if (e.key === "End") x = hi;
    else if (e.key === "Enter" || e.key === " ") {
      e.preventDefault(); e.stopPropagation(); keyboard = true; place(cursor); return;
    } else if (e.key === "Delete" || e.key === "Backspace") {
      e.preventDefault(); e.stopPropagation(); keyboard = true;
      const pts = c().points;
      if (!pts.length) { say("No point to remove."); redraw(); return; }
      const gone = pts[pts.length - 1];
      say(`Removed the point at x = ${fx(gone)} (${pts.length - 1} of ${maxPts} left).`);
      cvSetControls(model, { points: pts.slice(0, -1) });
      return;
    } else return;
    e.preventDefault(); e.stopPropagation(); keyboard = true;
    cursor = Math.round(Math.min(hi, Math.max(lo, x)) * 100) / 100;
    say(`Cursor at x = ${fx(cursor)} (y = ${fx(curve(cursor))} on the curve): Enter places a ` +
        "point.");
    redraw();
  });
  cv.addEventListener("focus", () => {
    keyboard = keyboard || cv.matches(":focus-visible");
    if (keyboard) say(`Cursor at x = ${fx(cursor)}: arrow keys move it, Enter places a point.`);
    redraw();
  });
  cv.addEventListener("blur", () => { keyboard = false; redraw(); });

  const amp = cvSlider(f.controls, { name: "amplitude", label: "amplitude A", min: 0.1, max: 5,
    step: 0.01, value: c().amplitude, onInput: (v) => cvSetControls(model, { amplitude: v }) });
  const ph = cvSlider(f.controls, { name: "phase", label: "phase b", min: 0, max: 3.14159,
    step: 0.01, value: c().phase, onInput: (v) => cvSetControls(model, { phase: v }) });
  const steps = cvSlider(f.controls, { name: "test_steps", label: "fine-tuning steps k", min: 0,
    max: spec.max_test_steps, step: 1, value: c().test_steps, fmt: (v) => String(v),
    onInput: (v) => cvSetControls(model, { test_steps: v }) });
  cvButton(f.controls, "⚄ random points", () => {
    const pts = Array.from({ length: maxPts }, () => +(lo + (hi - lo) * Math.random()).toFixed(3));
    cvSetControls(model, { points: pts });
  }, "draw 5 points uniformly at random");
  cvButton(f.controls, "clear", () => cvSetControls(model, { points: [] }));
  const sel = cvSelect(f.controls, { label: "model:", value: c().model,
    options: Object.entries(spec.models).map(([k, v]) => [k, v.label]),
    onChange: (v) => cvSetControls(model, { model: v }) });

  function draw() {
    const d = model.get("data"), err = model.get("error"), ctl = c();
    const k = ctl.test_steps;
    plot.begin();
    plot.line(spec.x_range, [0, 0], { color: "#ccc", width: 1 });
    plot.line(xg, d.true, { color: CV_COLORS.true, width: 2.5 });
    plot.line(xg, d.before, { color: CV_COLORS.before, width: 2, dash: [6, 4] });
    plot.line(xg, d.after, { color: CV_COLORS.model, width: 2.5 });
    plot.points(d.points, d.ys, { color: CV_COLORS.true, r: 6, stroke: "#000" });
    if (keyboard && cv.matches(":focus")) {  // the keyboard's crosshair
      plot.line([cursor, cursor], plot.ylim, { color: "#111", width: 1.5, dash: [4, 3] });
      plot.marker(cursor, curve(cursor), { color: "rgba(255,255,255,0)", stroke: "#111", size: 8 });
    }
    plot.axes();
    plot.legend([{ label: `A sin(x − b)`, color: CV_COLORS.true },
                 { label: "before fine-tuning", color: CV_COLORS.before, dash: [6, 4] },
                 { label: `after ${k} step${k === 1 ? "" : "s"}`, color: CV_COLORS.model },
                 { label: "support points", color: CV_COLORS.true, dot: true }]);
    amp.set(ctl.amplitude); ph.set(ctl.phase); steps.set(k); sel.set(ctl.model);
    const m = spec.models[ctl.model];
    f.readout.textContent = err ? err :
      `${m.label}: mean squared error to the true curve ${cvFmt(d.mse_before)} before, ` +
      `${cvFmt(d.mse_after)} after ${k} SGD step${k === 1 ? "" : "s"} (α = ${m.inner_lr}) on ` +
      `${d.points.length} point${d.points.length === 1 ? "" : "s"}.` + (m.trained ? "" : " [untrained stand-in: checkpoint missing]");
  }
  const redraw = () => (el.__cvRedraw ? el.__cvRedraw() : draw());
  return cvWire(model, el, draw);
}

export default { render };
