"""JupyterLab copies: every ``{eval}`` number reads "(run the cells above)" until it is computed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from course_pkg.book_tools import _EVAL_ROLE, PLACEHOLDER, lab_placeholders, make_workspace

REPO = Path(__file__).resolve().parents[1]


def test_each_eval_role_gets_a_stored_placeholder(tmp_path) -> None:
    make_workspace(REPO, tmp_path)
    n = 0
    for src in sorted((REPO / "book").glob("*.ipynb")):
        copy = json.loads((tmp_path / "book" / src.name).read_text(encoding="utf-8"))
        for cell in copy["cells"]:
            if cell["cell_type"] != "markdown":
                continue
            exprs = {m.group(1) for m in _EVAL_ROLE.finditer("".join(cell["source"]))}
            stored = cell.get("metadata", {}).get("user_expressions", [])
            assert {e["expression"] for e in stored} == exprs, (src.name, exprs)
            for e in stored:
                assert e["result"] == {"status": "ok", "metadata": {},
                                       "data": {"text/plain": PLACEHOLDER}}
            n += len(exprs)
    assert n > 100, f"only {n} {{eval}} roles in the chapters?"
    # the sources in book/ keep no stored results
    src = json.loads((REPO / "book" / "07_maml.ipynb").read_text(encoding="utf-8"))
    assert not any("user_expressions" in c.get("metadata", {}) for c in src["cells"])


def test_a_cell_without_roles_is_left_alone() -> None:
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["no numbers here"]},
                    {"cell_type": "code", "metadata": {}, "source": ["x = 1"], "outputs": []}]}
    assert lab_placeholders(json.loads(json.dumps(nb))) == nb


def test_jupyterlab_myst_restores_results_from_this_metadata_key() -> None:
    """The mechanism the placeholder relies on: jupyterlab-myst keeps an expression's result in
    the cell's ``user_expressions`` metadata and renders it when the notebook opens."""
    ext = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "jupyterlab-myst" / "static"
    bundles = [p.read_text(encoding="utf-8", errors="replace") for p in ext.glob("*.js")]
    assert any('"user_expressions"' in b and "restoreExpressionsFromMetadata" in b
               for b in bundles), "jupyterlab-myst no longer restores user_expressions"
