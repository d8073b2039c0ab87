// Figure "comparison": MAML, FOMAML, Reptile and iMAML meta-training θ on four quadratic tasks
// (closed-form 2-D versions of course_pkg.algorithms' updates, same hyper-parameters).

function cmpInnerSupport(q, th, k, lr) { return quadDescent(q.Hs, q.bs, th, k, lr)[k]; }

function cmpProx(q, th, lam, k, lr) {  // k GD steps on L_s(φ) + λ/2‖φ − θ‖² from φ = θ
  let p = th;
  for (let i = 0; i < k; i++) {
    const gr = add2(quadGrad(q.Hs, q.bs, p), add2(p, th, -1), lam);
    p = add2(p, gr, -lr);
  }
  return p;
}

function cmpMean(vs) {
  return [vs.reduce((s, v) => s + v[0], 0) / vs.length, vs.reduce((s, v) => s + v[1], 0) / vs.length];
}

function cmpStep(method, th, c, quad) {
  if (method === "maml" || method === "fomaml") {
    const k = c[method + "_inner_steps"], a = c[method + "_inner_lr"];
    const gs = quad.map((q) => {
      let gr = quadGrad(q.Hq, q.bq, cmpInnerSupport(q, th, k, a));
      if (method === "maml") for (let i = 0; i < k; i++) gr = add2(gr, mv2(q.Hs, gr), -a);
      return gr;
    });
    return add2(th, cmpMean(gs), -c[method + "_meta_lr"]);
  }
  if (method === "reptile") {
    const phis = quad.map((q) => quadDescent(q.Ha, q.ba, th, c.reptile_inner_steps, c.reptile_inner_lr)[c.reptile_inner_steps]);
    return add2(th, add2(cmpMean(phis), th, -1), c.reptile_meta_lr);
  }
  const lam = c.imaml_lambda;
  const gs = quad.map((q) => {
    const phi = cmpProx(q, th, lam, c.imaml_inner_steps, c.imaml_inner_lr);
    const A = [[1 + q.Hs[0][0] / lam, q.Hs[0][1] / lam], [q.Hs[1][0] / lam, 1 + q.Hs[1][1] / lam]];
    return solve2(A, quadGrad(q.Hq, q.bq, phi));
  });
  return add2(th, cmpMean(gs), -c.imaml_meta_lr);
}

function cmpLoss(method, th, c, quad) {
  const ls = quad.map((q) => {
    const phi = method === "imaml" ? cmpProx(q, th, c.imaml_lambda, c.imaml_inner_steps, c.imaml_inner_lr)
      : cmpInnerSupport(q, th, c[method + "_inner_steps"], c[method + "_inner_lr"]);
    return quadLoss(q.Hq, q.bq, q.cq, phi);
  });
  return ls.reduce((s, v) => s + v, 0) / ls.length;
}

function staticCompute(c, spec) {
  const trajectories = {}, loss = {};
  for (const m of spec.methods) {
    const tr = [c.theta0.slice()];
    for (let i = 0; i < c.n; i++) tr.push(cmpStep(m, tr[tr.length - 1], c, spec.quad));
    trajectories[m] = tr;
    loss[m] = cmpLoss(m, tr[tr.length - 1], c, spec.quad);
  }
  return { n: c.n, trajectories, loss };
}

const CMP_CARDS = {
  maml: ["MAML", [["inner_lr", "inner α", 0.01, 0.5, 0.01], ["inner_steps", "steps k", 1, 5, 1], ["meta_lr", "meta β", 0.01, 1, 0.01]]],
  fomaml: ["FOMAML", [["inner_lr", "inner α", 0.01, 0.5, 0.01], ["inner_steps", "steps k", 1, 5, 1], ["meta_lr", "meta β", 0.01, 1, 0.01]]],
  reptile: ["Reptile", [["inner_lr", "inner α", 0.01, 0.5, 0.01], ["inner_steps", "steps k", 1, 10, 1], ["meta_lr", "ε", 0.01, 1, 0.01]]],
  imaml: ["iMAML", [["inner_lr", "inner α", 0.01, 0.5, 0.01], ["inner_steps", "steps k", 1, 30, 1], ["lambda", "λ", 0.1, 10, 0.1], ["meta_lr", "meta β", 0.01, 1, 0.01]]],
};

function render({ model, el }) {
  const spec = model.get("spec");
  const f = cvFrame(el, spec, "A heat map of the mean query loss of four quadratic tasks " +
    "over θ = (θ₁, θ₂), dark = low, with the four task optima as stars. From the start θ₀ " +
    "each method's meta-training path is drawn in its colour (MAML blue, FOMAML vermillion, " +
    "Reptile green, iMAML purple). Drag θ₀ in the plot, or focus the plot and use the arrow " +
    "keys; the buttons add meta-steps and each method's card has its own sliders.");
  const g = cvGrid(spec.grid);
  const plot = new CvPlot(f.plots, { width: 520, height: 420, xlim: [g.extent[0], g.extent[1]],
    ylim: [g.extent[2], g.extent[3]], xlabel: "θ₁", ylabel: "θ₂",
    title: "mean query loss of four tasks (drag the start θ₀)" });
  const c = () => model.get("controls");
  const drag = (x, y) => cvSetControls(model, { theta0: [x, y] });
  plot.onPointer({ down: drag, move: drag });
  plot.onKeys(() => c().theta0, drag, "θ₀");
  const nsl = cvSlider(f.controls, { name: "n", label: "meta-steps n", min: 0, max: spec.max_steps,
    step: 1, value: c().n, fmt: (v) => String(Math.round(v)), onInput: (v) => cvSetControls(model, { n: v }) });
  cvButton(f.controls, "step ▶", () => cvSetControls(model, { n: Math.min(spec.max_steps, c().n + 1) }));
  cvButton(f.controls, "+10", () => cvSetControls(model, { n: Math.min(spec.max_steps, c().n + 10) }));
  cvButton(f.controls, "reset", () => cvSetControls(model, { n: 0 }));
  const cards = cvEl("div", "cviz-cards", f.root);
  const sl = {}, readouts = {};
  for (const m of spec.methods) {
    const [title, params] = CMP_CARDS[m];
    const card = cvEl("div", "cviz-card", cards);
    card.style.borderColor = CV_COLORS.methods[m];
    const head = cvEl("div", "cviz-card-title", card);
    cvEl("span", "cviz-swatch", head).style.background = CV_COLORS.methods[m];
    cvEl("span", null, head, title);
    for (const [p, label, lo, hi, st] of params) {
      const name = `${m}_${p}`;
      sl[name] = cvSlider(card, { name, label, ariaLabel: `${title} ${label}`, min: lo, max: hi,
        step: st, value: c()[name],
        fmt: st === 1 ? (v) => String(Math.round(v)) : undefined,
        onInput: (v) => cvSetControls(model, { [name]: v }) });
    }
    readouts[m] = cvEl("div", "cviz-card-readout", card);
  }

  function draw() {
    const d = model.get("data"), err = model.get("error");
    plot.begin().heatmap(cvArr(spec.landscape), g.na, g.nb, { extent: g.extent });
    spec.optima.forEach((o) => plot.marker(o[0], o[1], { shape: "star", size: 5, color: "#fff" }));
    for (const m of spec.methods) {
      const tr = d.trajectories[m], col = CV_COLORS.methods[m];
      plot.line(tr.map((p) => p[0]), tr.map((p) => p[1]), { color: col, width: 2.5 });
      plot.points(tr.slice(1).map((p) => p[0]), tr.slice(1).map((p) => p[1]), { color: col, r: 2.5, stroke: col });
      const e = tr[tr.length - 1];
      plot.marker(e[0], e[1], { size: 5, color: col, stroke: "#fff" });
      const span = Math.max(g.extent[1] - g.extent[0], g.extent[3] - g.extent[2]);
      const far = !(Number.isFinite(e[0]) && Number.isFinite(e[1])) ||
        Math.max(Math.abs(e[0]), Math.abs(e[1])) > 100 * span;
      readouts[m].textContent = far
        ? `diverged: θ left the plot (|θ| ≈ ${cvFmt(Math.max(Math.abs(e[0]), Math.abs(e[1])), 1)}); ` +
          `lower the meta rate or the inner α`
        : `θ = (${cvFmt(e[0], 2)}, ${cvFmt(e[1], 2)}); loss after adapting ${cvFmt(d.loss[m])}`;
      readouts[m].classList.toggle("cviz-warning", far);
    }
    const t0 = c().theta0;
    plot.marker(t0[0], t0[1], { size: 6, color: "#fff", label: "θ₀" });
    plot.axes();
    plot.legend(spec.methods.map((m) => ({ label: CMP_CARDS[m][0], color: CV_COLORS.methods[m] })), { right: true });
    nsl.set(c().n);
    for (const k in sl) sl[k].set(c()[k]);
    f.readout.textContent = err ? err : `${d.n} meta-step${d.n === 1 ? "" : "s"} from θ₀; stars: the four task optima. ` +
      `"loss after adapting" is the mean query loss after each method's own inner loop.`;
  }
  return cvWire(model, el, draw);
}

export default { render };
