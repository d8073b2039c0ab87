// Figure "adaptation": the two task landscapes; drag θ, set the learning rate α; arrows show one
// gradient step on each task, φ_τ = θ − α ∇L_τ(θ). Static rendering computes the step here.

function cvSoftplus(z) { return z > 20 ? z : Math.log1p(Math.exp(z)); }  // torch's threshold=20
function cvSoftplusGrad(z) { return z > 20 ? 1 : 1 / (1 + Math.exp(-z)); }

// Mean squared error of f(x) = softplus(a x + b) on (xs, ys) and its gradient w.r.t. (a, b).
function softplusLossGrad(theta, xs, ys) {
  let L = 0, ga = 0, gb = 0;
  const n = xs.length;
  for (let i = 0; i < n; i++) {
    const z = theta[0] * xs[i] + theta[1], r = cvSoftplus(z) - ys[i], s = cvSoftplusGrad(z);
    L += r * r / n; ga += 2 * r * s * xs[i] / n; gb += 2 * r * s / n;
  }
  return [L, [ga, gb]];
}

function staticCompute(controls, spec) {
  const th = controls.theta, lr = controls.inner_lr;
  const phi = [], lt = [], lp = [];
  spec.y.forEach((ys) => {
    const [L, g] = softplusLossGrad(th, spec.x, ys);
    const p = [th[0] - lr * g[0], th[1] - lr * g[1]];
    phi.push(p); lt.push(L); lp.push(softplusLossGrad(p, spec.x, ys)[0]);
  });
  return { theta: th.slice(), phi, loss_theta: lt, loss_phi: lp };
}

function render({ model, el }) {
  const spec = model.get("spec");
  const f = cvFrame(el, spec, "Two heat maps, one per task, of the task loss over the " +
    "parameters (a, b), dark = low loss; a star marks each task's optimum. θ is the shared " +
    "starting point and an arrow shows one gradient step from θ to the adapted φ of each task. " +
    "Click or drag in a plot, or focus a plot and use the arrow keys, to move θ; the slider sets " +
    "the learning rate α.");
  const g = cvGrid(spec.grid);
  const lim = { xlim: [g.extent[0], g.extent[1]], ylim: [g.extent[2], g.extent[3]] };
  const plots = spec.tasks.map((t, i) => new CvPlot(f.plots, Object.assign({ width: 295,
    height: 285, xlabel: "a", ylabel: "b", title: `task ${i + 1}: L${"₁₂"[i]}(θ)` }, lim)));
  let local = null;  // θ while dragging (drawn immediately, sent to the backend too)
  const move = (x, y) => {
    local = [x, y];
    cvSetControls(model, { theta: [x, y] });
  };
  for (const p of plots) {
    p.onPointer({ down: move, move, up: () => { local = null; } });
    p.onKeys(() => model.get("controls").theta, move);
  }
  const slider = cvSlider(f.controls, { name: "inner_lr", label: "learning rate α", min: 0, max: 2,
    step: 0.01, value: model.get("controls").inner_lr, onInput: (v) => cvSetControls(model, { inner_lr: v }) });
  cvEl("span", "cviz-hint", f.controls, "click or drag θ in either plot (or arrow keys)");

  function draw() {
    const d = model.get("data"), err = model.get("error");
    const th = d.theta;
    plots.forEach((p, i) => {
      p.begin().heatmap(cvArr(spec.task_landscapes[i]), g.na, g.nb, { extent: g.extent });
      const t = spec.tasks[i];
      p.marker(t[0], t[1], { shape: "star", size: 6, color: "#fff" });
      p.arrow(th[0], th[1], d.phi[i][0], d.phi[i][1], { color: CV_COLORS.accent, width: 3 });
      p.marker(th[0], th[1], { size: 6, color: "#fff", label: "θ" });
      p.marker(d.phi[i][0], d.phi[i][1], { size: 4, color: CV_COLORS.accent,
        label: `φ${"₁₂"[i]}`, labelColor: "#fff" });
      p.axes();
    });
    slider.set(model.get("controls").inner_lr);
    const sb = d.loss_theta[0] + d.loss_theta[1], sa = d.loss_phi[0] + d.loss_phi[1];
    f.readout.textContent = err ? err :
      `θ = (${cvFmt(th[0], 2)}, ${cvFmt(th[1], 2)}).  L₁(θ) + L₂(θ) = ${cvFmt(sb)};  ` +
      `after one step, MAML's objective L₁(φ₁) + L₂(φ₂) = ${cvFmt(sa)}.`;
  }
  return cvWire(model, el, draw);
}

export default { render };
