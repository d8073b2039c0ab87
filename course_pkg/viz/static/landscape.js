// Figure "landscape": accumulated meta-loss Σ_τ L_τ(U^(m)_τ(θ)) with a slider for m, beside each
// task's own loss landscape. Static rendering: every m is precomputed by course_pkg (payload.by_m).

function staticCompute(controls, spec, payload) {
  const m = Math.round(controls.m);
  return payload.by_m[Math.max(0, Math.min(payload.by_m.length - 1, m))];
}

function render({ model, el }) {
  const spec = model.get("spec");
  const f = cvFrame(el, spec, "Left: heat map of the sum of the task losses after m " +
    "fine-tuning steps over the shared starting parameters (a, b), dark = low; squares mark " +
    "the task optima, a star the minimum and a cross the minimum at m = 0 (joint training). " +
    "Right: each task's own loss landscape. The slider sets m.");
  const g = cvGrid(spec.grid);
  const lim = { xlim: [g.extent[0], g.extent[1]], ylim: [g.extent[2], g.extent[3]] };
  const big = new CvPlot(f.plots, Object.assign({ width: 380, height: 340, xlabel: "a",
    ylabel: "b", title: "sum of the task losses after m steps" }, lim));
  const side = cvEl("div", "cviz-side", f.plots);
  side.style.display = "flex"; side.style.flexDirection = "column"; side.style.gap = "4px";
  const small = spec.tasks.map((t, i) => new CvPlot(side, Object.assign({ width: 210, height: 172,
    margin: [20, 8, 34, 40], xlabel: "a", ylabel: "b", xticks: 4, yticks: 4,
    title: `task ${i + 1} (a = ${t[0]}, b = ${t[1]})` }, lim)));
  let m0 = null;  // minimum at m = 0 (joint training), kept as a reference marker

  const slider = cvSlider(f.controls, { name: "m", label: "fine-tuning steps m", min: 0,
    max: spec.max_steps, step: 1, value: model.get("controls").m, fmt: (v) => String(v),
    onInput: (v) => cvSetControls(model, { m: v }) });

  function draw() {
    const data = model.get("data");
    const err = model.get("error");
    if (data.m === 0) m0 = data.argmin;
    const tot = cvArr(data.total);
    big.begin().heatmap(tot, g.na, g.nb, { extent: g.extent });
    for (const t of spec.tasks) big.marker(t[0], t[1], { shape: "square", size: 5, color: "#fff" });
    if (m0 && data.m !== 0) big.marker(m0[0], m0[1], { shape: "cross", size: 6, color: "#ddd" });
    big.marker(data.argmin[0], data.argmin[1], { shape: "star", size: 9, color: CV_COLORS.accent,
      label: "min" });
    big.axes();
    spec.task_landscapes.forEach((enc, i) => {
      const p = small[i];
      p.begin().heatmap(cvArr(enc), g.na, g.nb, { extent: g.extent });
      const t = spec.tasks[i];
      p.marker(t[0], t[1], { shape: "star", size: 6, color: "#fff" });
      p.axes();
    });
    slider.set(model.get("controls").m);
    f.readout.textContent = err ? err :
      `m = ${data.m}: minimum of the accumulated loss at a = ${cvFmt(data.argmin[0], 2)}, ` +
      `b = ${cvFmt(data.argmin[1], 2)} (value ${cvFmt(data.min)}; α = ${spec.inner_lr}). ` +
      `Squares: the task optima; × : the m = 0 minimum (joint training).`;
  }
  return cvWire(model, el, draw);
}

export default { render };
