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
  if (pts.length) for (let s = 0; s < controls.steps; s++) phi = mlpSgdStep(phi, pts, ys, m.inner_lr);
  const truth = xg.map(f), before = Array.from(mlpForward(layers, xg));
  const after = Array.from(mlpForward(phi, xg));
  const mse = (p) => p.reduce((s, v, i) => s + (v - truth[i]) ** 2, 0) / p.length;
  return { true: truth, before, after, points: pts, ys, mse_before: mse(before),
           mse_after: mse(after) };
}

function render({ model, el }) {
  const spec = model.get("spec");
  const f = cvFrame(el, spec, "A plot of y against x: the true sine curve A sin(x − b) (red), " +
    "the network before fine-tuning (dashed) and after k SGD steps on the support points " +
    "(blue). Click the plot, or press the 'add a point' button, to place up to five support " +
    "points; the sliders set A, b and k and the buttons choose the model.");
  const xg = sinusoidGrid(spec);
  const plot = new CvPlot(f.plots, { width: 580, height: 330, xlim: spec.x_range, ylim: [-6, 6],
    xlabel: "x", ylabel: "y", title: "click to place up to 5 points (oldest dropped)" });
  const c = () => model.get("controls");
  plot.onPointer({ down: (x) => {
    const pts = c().points.concat([+x.toFixed(3)]).slice(-spec.max_points);
    cvSetControls(model, { points: pts });
  } });
  const amp = cvSlider(f.controls, { name: "amplitude", label: "amplitude A", min: 0.1, max: 5,
    step: 0.01, value: c().amplitude, onInput: (v) => cvSetControls(model, { amplitude: v }) });
  const ph = cvSlider(f.controls, { name: "phase", label: "phase b", min: 0, max: 3.14159,
    step: 0.01, value: c().phase, onInput: (v) => cvSetControls(model, { phase: v }) });
  const steps = cvSlider(f.controls, { name: "steps", label: "fine-tuning steps k", min: 0,
    max: spec.max_steps, step: 1, value: c().steps, fmt: (v) => String(v),
    onInput: (v) => cvSetControls(model, { steps: v }) });
  cvButton(f.controls, "⚄ random points", () => {
    const [lo, hi] = spec.x_range;
    const pts = Array.from({ length: spec.max_points }, () => +(lo + (hi - lo) * Math.random()).toFixed(3));
    cvSetControls(model, { points: pts });
  }, "draw 5 points uniformly at random");
  // keyboard equivalent of a click: the next x of a fixed, well-spread sequence
  const addOrder = [0.5, 0.1, 0.9, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6];
  let added = 0;
  cvButton(f.controls, "+ add a point", () => {
    const [lo, hi] = spec.x_range, t = addOrder[added++ % addOrder.length];
    const pts = c().points.concat([+(lo + (hi - lo) * t).toFixed(3)]).slice(-spec.max_points);
    cvSetControls(model, { points: pts });
  }, "add one support point (the keyboard's way to click the plot)");
  cvButton(f.controls, "clear", () => cvSetControls(model, { points: [] }));
  const sel = cvSelect(f.controls, { label: "model:", value: c().model,
    options: Object.entries(spec.models).map(([k, v]) => [k, v.label]),
    onChange: (v) => cvSetControls(model, { model: v }) });

  function draw() {
    const d = model.get("data"), err = model.get("error"), ctl = c();
    plot.begin();
    plot.line(spec.x_range, [0, 0], { color: "#ccc", width: 1 });
    plot.line(xg, d.true, { color: CV_COLORS.true, width: 2.5 });
    plot.line(xg, d.before, { color: CV_COLORS.before, width: 2, dash: [6, 4] });
    plot.line(xg, d.after, { color: CV_COLORS.model, width: 2.5 });
    plot.points(d.points, d.ys, { color: CV_COLORS.true, r: 6, stroke: "#000" });
    plot.axes();
    plot.legend([{ label: `A sin(x − b)`, color: CV_COLORS.true },
                 { label: "before fine-tuning", color: CV_COLORS.before, dash: [6, 4] },
                 { label: `after ${ctl.steps} step${ctl.steps === 1 ? "" : "s"}`, color: CV_COLORS.model },
                 { label: "support points", color: CV_COLORS.true, dot: true }]);
    amp.set(ctl.amplitude); ph.set(ctl.phase); steps.set(ctl.steps); sel.set(ctl.model);
    const m = spec.models[ctl.model];
    f.readout.textContent = err ? err :
      `${m.label}: mean squared error to the true curve ${cvFmt(d.mse_before)} before, ` +
      `${cvFmt(d.mse_after)} after ${ctl.steps} SGD step${ctl.steps === 1 ? "" : "s"} (α = ${m.inner_lr}) on ` +
      `${d.points.length} point${d.points.length === 1 ? "" : "s"}.` + (m.trained ? "" : " [untrained stand-in: checkpoint missing]");
  }
  return cvWire(model, el, draw);
}

export default { render };
