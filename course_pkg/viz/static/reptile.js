// Figure "reptile": three curve-fitting tasks y = tanh(a x + b). From θ, k gradient steps on each
// task give φ_i; Reptile moves θ ← θ + ε (mean φ_i − θ). The path repeats that update.

// Mean squared error of tanh(a x + b) on (xs, ys) and its gradient w.r.t. (a, b).
function tanhGrad(t, xs, ys) {
  let ga = 0, gb = 0;
  const n = xs.length;
  for (let i = 0; i < n; i++) {
    const h = Math.tanh(t[0] * xs[i] + t[1]), r = h - ys[i], s = 2 * r * (1 - h * h) / n;
    ga += s * xs[i]; gb += s;
  }
  return [ga, gb];
}

function reptileInner(spec, th, k, lr) {
  return spec.x.map((xs, i) => {
    const tr = [th];
    let p = th;
    for (let s = 0; s < k; s++) { p = add2(p, tanhGrad(p, xs, spec.y[i]), -lr); tr.push(p); }
    return tr;
  });
}

function staticCompute(c, spec) {
  const k = Math.round(c.inner_steps), lr = c.inner_lr, eps = c.meta_lr;
  const trajs = reptileInner(spec, c.theta, k, lr);
  const mean = (tr) => {
    const T = tr.length;
    return [tr.reduce((s, t) => s + t[t.length - 1][0], 0) / T, tr.reduce((s, t) => s + t[t.length - 1][1], 0) / T];
  };
  const path = [c.theta.slice()];
  let cur = c.theta;
  for (let it = 0; it < Math.max(1, c.iterations); it++) {
    const m = mean(reptileInner(spec, cur, k, lr));
    cur = add2(cur, add2(m, cur, -1), eps);
    path.push(cur);
  }
  return { theta: c.theta.slice(), trajectories: trajs, mean_phi: mean(trajs), next: path[1],
           path: path.slice(0, c.iterations + 1) };
}

function render({ model, el }) {
  const spec = model.get("spec");
  const f = cvFrame(el, spec, "Heat map of the mean loss of three curve-fitting tasks over " +
    "(a, b) (dark = low), with each task's optimum as a coloured star. From θ, each task's k " +
    "gradient steps are drawn as a coloured path ending at φᵢ; a green arrow shows the Reptile " +
    "update towards the mean φ, and a dotted line the next Reptile updates. Drag θ, or focus " +
    "the plot and use the arrow keys; the sliders set k, α, ε and the number of updates shown.");
  const g = cvGrid(spec.grid);
  const plot = new CvPlot(f.plots, { width: 480, height: 400, xlim: [g.extent[0], g.extent[1]],
    ylim: [g.extent[2], g.extent[3]], xlabel: "a", ylabel: "b",
    title: "mean loss of the three tasks (drag θ)" });
  const drag = (x, y) => cvSetControls(model, { theta: [x, y] });
  plot.onPointer({ down: drag, move: drag });
  const c = () => model.get("controls");
  plot.onKeys(() => c().theta, drag);
  const sl = {};
  const mk = (name, label, min, max, step, fmt) => {
    sl[name] = cvSlider(f.controls, { name, label, min, max, step, value: c()[name], fmt,
      onInput: (v) => cvSetControls(model, { [name]: v }) });
  };
  const int = (v) => String(Math.round(v));
  mk("inner_steps", "inner steps k", 1, 20, 1, int);
  mk("inner_lr", "inner rate α", 0.01, 1, 0.01);
  mk("meta_lr", "interpolation ε", 0, 1, 0.01);
  mk("iterations", "Reptile updates shown", 0, 30, 1, int);
  const taskCols = ["#ff9896", "#aec7e8", "#98df8a"];

  function draw() {
    const d = model.get("data"), err = model.get("error");
    plot.begin().heatmap(cvArr(spec.landscape), g.na, g.nb, { extent: g.extent });
    spec.optima.forEach((o, i) => plot.marker(o[0], o[1], { shape: "star", size: 6, color: taskCols[i % 3] }));
    d.trajectories.forEach((tr, i) => {
      plot.line(tr.map((p) => p[0]), tr.map((p) => p[1]), { color: taskCols[i % 3], width: 2 });
      const e = tr[tr.length - 1];
      plot.marker(e[0], e[1], { size: 3.5, color: taskCols[i % 3], label: `φ${"₁₂₃"[i] || ""}` });
    });
    const th = d.theta;
    plot.line(d.path.map((p) => p[0]), d.path.map((p) => p[1]), { color: "#fff", width: 1.5, dash: [3, 3] });
    plot.points(d.path.slice(1).map((p) => p[0]), d.path.slice(1).map((p) => p[1]), { color: "#fff", r: 2.5, stroke: "#000" });
    plot.marker(d.mean_phi[0], d.mean_phi[1], { shape: "square", size: 4, color: "#ffe", label: "mean φ" });
    plot.arrow(th[0], th[1], d.next[0], d.next[1], { color: CV_COLORS.methods.reptile, width: 3.5 });
    plot.marker(th[0], th[1], { size: 6, color: "#fff", label: "θ" });
    plot.axes();
    for (const k in sl) sl[k].set(c()[k]);
    f.readout.textContent = err ? err :
      `θ = (${cvFmt(th[0], 2)}, ${cvFmt(th[1], 2)}) → θ + ε(mean φ − θ) = ` +
      `(${cvFmt(d.next[0], 2)}, ${cvFmt(d.next[1], 2)}).  Coloured: each task's ${c().inner_steps} SGD ` +
      `steps; dotted: ${c().iterations} successive Reptile updates; stars: task optima.`;
  }
  return cvWire(model, el, draw);
}

export default { render };
