// Figure "imaml": one quadratic task. φ*(θ) = argmin_φ L_s(φ) + λ/2 ‖φ − θ‖² (closed form) and
// the implicit meta-gradient (I + H_s/λ)⁻¹ ∇L_q(φ*), against the first-order ∇L_q(φ*).

function proxSolve(q, th, lam) {
  return solve2([[q.Hs[0][0] + lam, q.Hs[0][1]], [q.Hs[1][0], q.Hs[1][1] + lam]],
                [q.bs[0] + lam * th[0], q.bs[1] + lam * th[1]]);
}

function staticCompute(c, spec) {
  const q = spec.quad[0], lam = c.imaml_lambda, th = c.theta;
  const phi = proxSolve(q, th, lam);
  const gq = quadGrad(q.Hq, q.bq, phi);
  const A = [[1 + q.Hs[0][0] / lam, q.Hs[0][1] / lam], [q.Hs[1][0] / lam, 1 + q.Hs[1][1] / lam]];
  return { theta: th.slice(), phi, g_implicit: solve2(A, gq), g_first_order: gq,
           query_loss: quadLoss(q.Hq, q.bq, q.cq, phi),
           phi_path: spec.lam_path.map((l) => proxSolve(q, th, l)) };
}

function render({ model, el }) {
  const spec = model.get("spec");
  const f = cvFrame(el, spec, "Heat map of a support loss L_s(φ) over two parameters " +
    "(dark = low, star = optimum). From θ, the proximal solution φ* and the ball of equal " +
    "penalty around θ are drawn, with two arrows: the implicit meta-gradient step (purple) and " +
    "the first-order one (vermillion); a dotted line shows how φ* moves as λ varies. Drag θ, or " +
    "focus the plot and use the arrow keys; the slider sets λ.");
  const g = cvGrid(spec.grid);
  const plot = new CvPlot(f.plots, { width: 460, height: 400, xlim: [g.extent[0], g.extent[1]],
    ylim: [g.extent[2], g.extent[3]], xlabel: "θ₁", ylabel: "θ₂",
    title: "support loss L_s(φ) (drag θ)" });
  const drag = (x, y) => cvSetControls(model, { theta: [x, y] });
  plot.onPointer({ down: drag, move: drag });
  const c = () => model.get("controls");
  plot.onKeys(() => c().theta, drag);
  const lam = cvSlider(f.controls, { name: "imaml_lambda", label: "regularisation λ", min: 0.01, max: 20,
    log: true, value: c().imaml_lambda, onInput: (v) => cvSetControls(model, { imaml_lambda: v }) });

  function draw() {
    const d = model.get("data"), err = model.get("error"), s = spec.arrow_scale;
    const th = d.theta, phi = d.phi, o = spec.optimum;
    plot.begin().heatmap(cvArr(spec.landscape), g.na, g.nb, { extent: g.extent });
    plot.marker(o[0], o[1], { shape: "star", size: 6, color: "#fff" });
    plot.line(d.phi_path.map((p) => p[0]), d.phi_path.map((p) => p[1]), { color: "#eee", width: 1.5, dash: [2, 3] });
    // the proximal ball through φ*: every point of it is equally penalised by λ/2‖φ − θ‖²
    const r = Math.hypot(phi[0] - th[0], phi[1] - th[1]);
    const circ = Array.from({ length: 65 }, (_, i) => i * 2 * Math.PI / 64);
    plot.line(circ.map((a) => th[0] + r * Math.cos(a)), circ.map((a) => th[1] + r * Math.sin(a)),
      { color: "#fff", width: 1, alpha: 0.6 });
    plot.arrow(th[0], th[1], th[0] - s * d.g_first_order[0], th[1] - s * d.g_first_order[1],
      { color: CV_COLORS.methods.fomaml, width: 2.5 });
    plot.arrow(th[0], th[1], th[0] - s * d.g_implicit[0], th[1] - s * d.g_implicit[1],
      { color: CV_COLORS.methods.imaml, width: 3.5 });
    plot.marker(phi[0], phi[1], { size: 4.5, color: "#ffd", label: "φ*" });
    plot.marker(th[0], th[1], { size: 6, color: "#fff", label: "θ" });
    plot.axes();
    plot.legend([{ label: "−(I + H/λ)⁻¹∇L_q(φ*)", color: CV_COLORS.methods.imaml },
                 { label: "−∇L_q(φ*) (first order)", color: CV_COLORS.methods.fomaml },
                 { label: "φ*(θ) as λ varies", color: "#999", dash: [2, 3] }], { right: true });
    lam.set(c().imaml_lambda);
    f.readout.textContent = err ? err :
      `λ = ${cvFmt(c().imaml_lambda, 2)}: φ* = (${cvFmt(phi[0], 2)}, ${cvFmt(phi[1], 2)}), query loss ` +
      `L_q(φ*) = ${cvFmt(d.query_loss)}. Small λ: φ* goes to the task optimum (★); large λ: ` +
      `φ* stays at θ and the implicit gradient tends to the first-order one (arrows ×${s}).`;
  }
  return cvWire(model, el, draw);
}

export default { render };
