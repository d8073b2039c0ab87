// Figure "fomaml": one quadratic task L(θ) = ½(θ − c)ᵀH(θ − c), H = R diag(h1, h2) Rᵀ.
// One inner step φ = θ − α∇L(θ); MAML's meta-gradient (I − αH)∇L(φ) vs FOMAML's ∇L(φ).

function fomamlHessian(c) {
  const a = c.angle * Math.PI / 180, co = Math.cos(a), si = Math.sin(a);
  return [[c.h1 * co * co + c.h2 * si * si, (c.h1 - c.h2) * co * si],
          [(c.h1 - c.h2) * co * si, c.h1 * si * si + c.h2 * co * co]];
}

function staticCompute(c, spec) {
  const H = fomamlHessian(c), opt = spec.optimum, lr = c.inner_lr;
  const L = (t) => { const d = add2(t, opt, -1); return 0.5 * (d[0] * mv2(H, d)[0] + d[1] * mv2(H, d)[1]); };
  const grad = (t) => mv2(H, add2(t, opt, -1));
  const step = (t) => add2(t, grad(t), -lr);
  const th = c.theta, phi = step(th), gfo = grad(phi);
  const gm = add2(gfo, mv2(H, gfo), -lr);  // (I − αH) ∇L(φ)
  const g = cvGrid(spec.grid), tg = new Float64Array(g.na * g.nb), mg = new Float64Array(g.na * g.nb);
  for (let j = 0; j < g.nb; j++) for (let i = 0; i < g.na; i++) {
    const t = [g.a(i), g.b(j)];
    tg[j * g.na + i] = L(t); mg[j * g.na + i] = L(step(t));
  }
  return { theta: th.slice(), phi, g_maml: gm, g_fomaml: gfo, meta_loss: L(phi), task_loss: L(th),
           H, task_grid: tg, meta_grid: mg };
}

function render({ model, el }) {
  const spec = model.get("spec");
  const f = cvFrame(el, spec, "Left: heat map of one quadratic task loss L(θ) (dark = low, " +
    "star = optimum) with the inner step from θ to φ. Right: heat map of the meta-objective " +
    "L(θ − α∇L(θ)) with two arrows from θ, MAML's meta-gradient step (blue) and FOMAML's " +
    "(vermillion). Click or drag in either plot, or focus a plot and use the arrow keys, to move " +
    "θ; the sliders set the two curvatures, the rotation of the Hessian and the inner rate α.");
  const g = cvGrid(spec.grid);
  const lim = { xlim: [g.extent[0], g.extent[1]], ylim: [g.extent[2], g.extent[3]] };
  const left = new CvPlot(f.plots, Object.assign({ width: 295, height: 285, xlabel: "θ₁",
    ylabel: "θ₂", title: "task loss L(θ), inner step θ → φ" }, lim));
  const right = new CvPlot(f.plots, Object.assign({ width: 295, height: 285, xlabel: "θ₁",
    ylabel: "θ₂", title: "meta-objective L(θ − α∇L(θ))" }, lim));
  const drag = (x, y) => cvSetControls(model, { theta: [x, y] });
  for (const p of [left, right]) {
    p.onPointer({ down: drag, move: drag });
    p.onKeys(() => model.get("controls").theta, drag);
  }
  const c = () => model.get("controls");
  const sl = {};
  const mk = (name, label, min, max, step, fmt) => {
    sl[name] = cvSlider(f.controls, { name, label, min, max, step, value: c()[name], fmt,
      onInput: (v) => cvSetControls(model, { [name]: v }) });
  };
  mk("h1", "curvature h₁", 0.1, 4, 0.05);
  mk("h2", "curvature h₂", 0.1, 4, 0.05);
  mk("angle", "rotation (°)", 0, 180, 1, (v) => String(Math.round(v)));
  mk("inner_lr", "inner rate α", 0, 0.45, 0.01);
  cvEl("span", "cviz-hint", f.controls, "click or drag θ in either plot (or arrow keys)");

  function draw() {
    const d = model.get("data"), err = model.get("error");
    const th = d.theta, opt = spec.optimum;
    // One scale for both arrows (their ratio is the point): spec.arrow_scale, stretched so the
    // longer arrow is at least 1/10 of the plot and shrunk so that both tips stay inside it.
    const span = g.extent[1] - g.extent[0];
    const longest = Math.max(Math.hypot(...d.g_maml), Math.hypot(...d.g_fomaml));
    let s = spec.arrow_scale;
    if (longest > 1e-12) {
      s = Math.max(s, 0.1 * span / longest);
      for (const v of [d.g_maml, d.g_fomaml]) {  // the tip is θ − s v
        for (const [i, lo, hi] of [[0, g.extent[0], g.extent[1]], [1, g.extent[2], g.extent[3]]]) {
          if (v[i] > 1e-12) s = Math.min(s, 0.95 * (th[i] - lo) / v[i]);
          if (v[i] < -1e-12) s = Math.min(s, 0.95 * (hi - th[i]) / -v[i]);
        }
      }
    }
    s = +s.toPrecision(2);
    left.begin().heatmap(cvArr(d.task_grid), g.na, g.nb, { extent: g.extent });
    left.marker(opt[0], opt[1], { shape: "star", size: 6, color: "#fff" });
    left.arrow(th[0], th[1], d.phi[0], d.phi[1], { color: "#fff", width: 2 });
    left.marker(th[0], th[1], { size: 5, color: "#fff", label: "θ" });
    left.marker(d.phi[0], d.phi[1], { size: 4, color: "#ddd", label: "φ" });
    left.axes();
    right.begin().heatmap(cvArr(d.meta_grid), g.na, g.nb, { extent: g.extent });
    right.arrow(th[0], th[1], th[0] - s * d.g_fomaml[0], th[1] - s * d.g_fomaml[1],
      { color: CV_COLORS.methods.fomaml, width: 3 });
    right.arrow(th[0], th[1], th[0] - s * d.g_maml[0], th[1] - s * d.g_maml[1],
      { color: CV_COLORS.methods.maml, width: 3 });
    right.marker(th[0], th[1], { size: 5, color: "#fff", label: "θ" });
    right.axes();
    right.legend([{ label: "−(I − αH)∇L(φ)  MAML", color: CV_COLORS.methods.maml },
                  { label: "−∇L(φ)  FOMAML", color: CV_COLORS.methods.fomaml }], { width: 160 });
    for (const k in sl) sl[k].set(c()[k]);
    const dot = d.g_maml[0] * d.g_fomaml[0] + d.g_maml[1] * d.g_fomaml[1];
    const cross = d.g_maml[0] * d.g_fomaml[1] - d.g_maml[1] * d.g_fomaml[0];
    const nm = Math.hypot(...d.g_maml), nf = Math.hypot(...d.g_fomaml);
    // atan2 is exact for parallel vectors (α = 0 gives 0°, not acos round-off such as 1e−6°)
    let ang = nm > 1e-12 && nf > 1e-12 ? Math.atan2(Math.abs(cross), dot) * 180 / Math.PI : 0;
    if (ang < 1e-6) ang = 0;
    f.readout.textContent = err ? err :
      `H = [[${cvFmt(d.H[0][0], 2)}, ${cvFmt(d.H[0][1], 2)}], [${cvFmt(d.H[1][0], 2)}, ` +
      `${cvFmt(d.H[1][1], 2)}]]; MAML ‖g‖ = ${cvFmt(nm)}, FOMAML ‖g‖ = ${cvFmt(nf)}, ` +
      `angle between them ${cvFmt(ang, 1)}°; meta-loss L(φ) = ${cvFmt(d.meta_loss)} ` +
      `(arrows drawn ×${s}).`;
  }
  return cvWire(model, el, draw);
}

export default { render };
