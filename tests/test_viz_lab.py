"""course_pkg.viz, live side: a figure driven through the widget protocol in a real kernel.

A jupyter_client kernel creates the widget; the test plays the JupyterLab front end: it receives
the widget's ``comm_open`` (its ESM and state), sends a ``comm_msg`` ``update`` of ``controls``
exactly as the browser does when a slider moves, and reads the ``data`` the kernel recomputed and
sent back — then checks it against course_pkg computed in this process. Bounded in time; the
kernel is shut down at the end.
"""

from __future__ import annotations

import os
import queue
import time

import pytest
import torch

jupyter_client = pytest.importorskip("jupyter_client")

TIMEOUT = 120.0


def _iopub_until(kc, predicate, deadline: float) -> dict:
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=1.0)
        except queue.Empty:
            continue
        if msg["msg_type"] == "error":
            raise AssertionError("kernel error: " + "\n".join(msg["content"]["traceback"]))
        if predicate(msg):
            return msg
    raise AssertionError("timed out waiting for the kernel")


@pytest.fixture(scope="module")
def kernel():
    km = jupyter_client.KernelManager(kernel_name="python3")
    env = {**os.environ, "COURSE_STATIC_FIGURES": "0", "MPLBACKEND": "Agg"}
    km.start_kernel(env=env)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_adaptation_widget_recomputes_on_frontend_update(kernel) -> None:
    kc = kernel
    deadline = time.monotonic() + TIMEOUT
    kc.execute("from course_pkg import viz\nfig = viz.two_task_adaptation()\nfig")
    opened = {}

    def is_our_open(msg) -> bool:
        if msg["msg_type"] != "comm_open":
            return False
        state = msg["content"]["data"].get("state", {})
        if state.get("kind") == "adaptation":
            opened.update(msg["content"])
            return True
        return False

    _iopub_until(kc, is_our_open, deadline)
    state = opened["data"]["state"]
    assert state["_esm"].count("function render(") == 1 and "staticCompute" in state["_esm"]
    assert "cviz-root" in state["_css"]
    comm_id = opened["comm_id"]

    # the front end moves θ and the learning-rate slider: one "update" message, as anywidget sends
    controls = dict(state["controls"], theta=[-0.4, 1.1], inner_lr=0.6)
    kc.shell_channel.send(kc.session.msg("comm_msg", {
        "comm_id": comm_id,
        "data": {"method": "update", "state": {"controls": controls}, "buffer_paths": []},
    }))

    def is_data_update(msg) -> bool:
        if msg["msg_type"] != "comm_msg" or msg["content"]["comm_id"] != comm_id:
            return False
        return "data" in msg["content"]["data"].get("state", {})

    reply = _iopub_until(kc, is_data_update, deadline)
    data = reply["content"]["data"]["state"]["data"]
    assert data["theta"] == [-0.4, 1.1]

    from course_pkg.algorithms.core import loss_at
    from course_pkg.viz.landscapes import softplus_tasks

    model, batch = softplus_tasks()
    t = torch.tensor([-0.4, 1.1])
    for i in range(2):
        xs, ys = batch.x_support[i], batch.y_support[i]
        g = torch.func.grad(lambda p, xs=xs, ys=ys: loss_at(model, {"theta": p}, xs, ys))(t)
        assert data["phi"][i] == pytest.approx((t - 0.6 * g).tolist(), abs=1e-5)

    # and the kernel-side object agrees (the trait was really set there)
    msg_id = kc.execute("print(fig.controls['inner_lr'], fig.data['phi'][0][0])")
    out = _iopub_until(kc, lambda m: m["msg_type"] == "stream"
                       and m["parent_header"].get("msg_id") == msg_id, deadline)
    lr, phi00 = map(float, out["content"]["text"].split())
    assert lr == 0.6 and phi00 == pytest.approx(data["phi"][0][0], abs=1e-9)


def test_landscape_widget_slider_in_kernel(kernel) -> None:
    kc = kernel
    deadline = time.monotonic() + TIMEOUT
    msg_id = kc.execute(
        "from course_pkg import viz\n"
        "w = viz.meta_loss_landscape()\n"
        "a0 = list(w.data['argmin'])\n"
        "w.update(m=20)\n"
        "print(isinstance(w, viz.VizWidget), a0, w.data['m'], w.data['argmin'])\n")
    out = _iopub_until(kc, lambda m: m["msg_type"] == "stream"
                       and m["parent_header"].get("msg_id") == msg_id, deadline)
    text = out["content"]["text"]
    assert text.startswith("True ") and " 20 " in text
    assert "[0.6, 0.39]" in text  # m = 0: the joint-training minimum on the grid


# --------------------------------------------------------------------------- real JupyterLab
@pytest.mark.browser
@pytest.mark.slow
def test_widget_live_in_headless_jupyterlab(tmp_path) -> None:
    """Open a notebook in a real JupyterLab (headless Chromium), run it, move a slider and click
    the plot: the figure must redraw from data the kernel recomputed (the readout shows the new
    θ and α, which only the Python side computes in the live widget)."""
    import nbformat
    from browser_utils import in_browser_thread, jupyterlab_server, require_chromium

    from course_pkg.book_tools import KERNELSPEC

    require_chromium()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "from course_pkg import viz\n"
        "w = viz.two_task_adaptation(theta=(1.2, -0.6), inner_lr=0.5)\nw")]
    nb.metadata = {"kernelspec": dict(KERNELSPEC)}  # the course kernel, as JupyterLab names it
    nbformat.write(nb, tmp_path / "live.ipynb")
    env = {**os.environ, "COURSE_STATIC_FIGURES": "0", "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")}
    with jupyterlab_server(tmp_path, tmp_path / "server.log", env=env) as base:
        in_browser_thread(lambda browser: _drive_lab(browser, base), timeout_s=480)


def _drive_lab(browser, base: str) -> None:
    """Run the notebook in JupyterLab, move the slider, click θ; check the kernel redrew it."""
    from browser_utils import run_all_cells

    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}lab/tree/live.ipynb", timeout=120_000)
        page.wait_for_selector(".jp-Notebook", timeout=120_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                               timeout=180_000)  # the kernel has started: Run All can run
        run_all_cells(page, "live.ipynb")
        root = page.locator(".cviz-root").first
        root.locator("canvas").first.wait_for(timeout=180_000)
        readout = root.locator(".cviz-readout")
        page.wait_for_function(
            "() => document.querySelector('.cviz-readout')?.textContent.includes('1.20')",
            timeout=60_000)
        before_text, before_png = readout.text_content(), root.screenshot()
        # the figure's JavaScript bumps data-cviz-draws after every redraw: after each event wait
        # for the readout the kernel recomputed and for a redraw after it, never for time
        redrawn = ("([t, n]) => +(document.querySelector('.cviz-root').dataset.cvizDraws || 0)"
                   " > n && document.querySelector('.cviz-readout').textContent !== t")
        draws = int(root.get_attribute("data-cviz-draws") or 0)
        root.locator("input[type=range]").first.evaluate(
            "(el) => { el.value = '0.3'; el.dispatchEvent(new Event('input')); }")
        page.wait_for_function(redrawn, arg=[before_text, draws], timeout=60_000)
        slider_text = readout.text_content()
        assert slider_text.startswith("θ = (1.20"), slider_text  # α changed, θ not yet
        draws = int(root.get_attribute("data-cviz-draws") or 0)
        box = root.locator("canvas").first.bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
        page.wait_for_function(  # θ leaves (1.20, ·) only when the kernel moved it to the click
            "([n]) => +(document.querySelector('.cviz-root').dataset.cvizDraws || 0) > n &&"
            " !document.querySelector('.cviz-readout').textContent.startsWith('θ = (1.20')",
            arg=[draws], timeout=60_000)
        after_text, after_png = readout.text_content(), root.screenshot()
        assert after_png != before_png
        assert "1.20" not in after_text.split(")")[0], after_text  # θ moved
        assert not errors, errors
    finally:
        context.close()
