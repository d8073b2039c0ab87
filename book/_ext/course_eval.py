"""Sphinx extension: the ``{eval}`` role of the chapters, resolved from myst-nb's glued values.

Chapter prose shows computed numbers as ``{eval}`name``` or ``{eval}`f"{name:.2f}"```. In
JupyterLab, jupyterlab-myst evaluates that expression in the kernel, where
``course_pkg.book_tools.glue(name, value)`` bound ``name``. Here the same expression is evaluated
by Python on the value glued under ``name`` in the same notebook (its ``text/plain``, read back
with ``ast.literal_eval``; a float's repr round-trips exactly), so both show the same text.

Accepted expressions: a name, or an f-string of names with constant format specs (no calls,
attributes or arithmetic). A bare name whose glued value is Markdown (``IPython.display.Markdown``)
is rendered as inline Markdown, as myst-nb's ``{glue:md}`` does. Anything else, an unknown name
or a value that is not a Python literal gives a build warning (an error under ``-W``).

This replaces myst-nb's own ``eval`` role, which needs ``nb_execution_mode: inline``.
"""

from __future__ import annotations

import ast
from typing import Any

from docutils import nodes
from myst_nb.core.variables import RetrievalError
from myst_nb.ext.glue.roles import PasteMarkdownRole
from myst_nb.ext.glue.utils import glue_warning, retrieve_glue_data
from myst_nb.ext.utils import RoleBase

_ALLOWED = (ast.Expression, ast.Name, ast.Load, ast.JoinedStr, ast.FormattedValue, ast.Constant)


def _check(tree: ast.AST) -> list[str]:
    """Names read by ``tree``; raises ``ValueError`` for anything but names and f-strings."""
    names = []
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ValueError(f"only names and f-strings are allowed, not {type(node).__name__}")
        if isinstance(node, ast.FormattedValue) and node.conversion != -1:
            raise ValueError("no !r/!s/!a conversions")
        if isinstance(node, ast.Name):
            names.append(node.id)
    return names


def _literal(text: str) -> Any:
    """The Python value of a glued ``text/plain`` (strings come back without their quotes)."""
    try:
        return ast.literal_eval(text)
    except (SyntaxError, ValueError):
        return None


class EvalGlueRole(RoleBase):
    """``{eval}`expr```: evaluate ``expr`` on the values glued in this notebook."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        expr = self.text.strip()
        try:
            tree = ast.parse(expr, mode="eval")
            names = _check(tree)
        except (SyntaxError, ValueError) as exc:
            return [], [self._warn(f"{{eval}}`{expr}`: {exc}")]
        values = {}
        for name in names:
            try:
                data = retrieve_glue_data(self.document, name).data
            except RetrievalError:
                return [], [self._warn(
                    f"{{eval}}`{expr}`: nothing was glued under {name!r} in this notebook "
                    "(course_pkg.book_tools.glue(name, value) in a code cell)")]
            if isinstance(tree.body, ast.Name) and "text/markdown" in data:
                return self._markdown(name)
            plain = data.get("text/plain")
            value = _literal(plain) if plain is not None else None
            if value is None:
                return [], [self._warn(
                    f"{{eval}}`{expr}`: the value glued under {name!r} is not a Python literal "
                    f"({plain!r}); glue a float, int or str (the kernel formats the object "
                    "itself, the book only its text)")]
            values[name] = value
        try:
            result = eval(compile(tree, "<eval role>", "eval"), {"__builtins__": {}}, values)  # noqa: S307 (names and f-strings only, checked above)
        except Exception as exc:  # a format spec that does not fit the value
            return [], [self._warn(f"{{eval}}`{expr}`: {type(exc).__name__}: {exc}")]
        text = str(result)
        node = nodes.inline(text, text, classes=["pasted-text", "course-eval"])
        self.set_source_info(node)
        return [node], []

    def _markdown(self, name: str) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        role = PasteMarkdownRole()
        role.text, role.inliner, role.rawtext = name, self.inliner, self.rawtext
        role.source, role.line = self.source, self.line
        return role.run()

    def _warn(self, msg: str) -> nodes.system_message:
        return glue_warning(msg, self.document, self.line)


def setup(app: Any) -> dict[str, Any]:
    # after myst_nb (listed later in the extensions), so this replaces its kernel-bound role
    app.setup_extension("myst_nb")
    app.add_role("eval", EvalGlueRole(), override=True)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
