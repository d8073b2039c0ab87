"""One chapter source for two readers: the HTML book (Jupyter Book 1) and JupyterLab.

Chapter prose shows computed numbers with the ``{eval}`` role, e.g. ``{eval}`ch07_n_eval``` or,
formatted, ``{eval}`f"{ch07_maml10_s1:.2f}"```. The code cells store the values with :func:`glue`.

- In the HTML book, ``book/_ext/course_eval.py`` resolves each ``{eval}`` expression against the
  values glued in the same notebook (myst-nb's glue store) and formats them with Python itself.
- In JupyterLab, ``jupyterlab-myst`` sends the same expression to the kernel (``user_expressions``)
  when the markdown cell runs, where :func:`glue` has bound the value to a variable of that name.

Both evaluate the same Python expression on the same value (``repr`` of a float round-trips), so
the two renderings show the same text.

Command line (run from the repository root)::

    python -m course_pkg.book_tools convert-glue book/*.ipynb   # {glue:text} roles -> {eval}
    python -m course_pkg.book_tools check book/*.ipynb          # report what would not render
    python -m course_pkg.book_tools lab-metadata book/*.ipynb   # metadata JupyterLab would add
    python -m course_pkg.book_tools workspace                   # learner copies (make workspace)

``convert-glue`` rewrites, in markdown cells, ``{glue:text}`name:fmt``` to
``{eval}`f"{name:fmt}"```, ``{glue:text}`name``` / ``{glue:md}`name``` / ``{glue}`name``` to
``{eval}`name```, and in code cells ``from myst_nb import glue`` to
``from course_pkg.book_tools import glue``. It touches nothing else and is idempotent.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from course_pkg.book_references import chapter_for_lab, load_references, page_for_lab, page_titles

__all__ = ["glue", "convert_notebook", "eval_names", "forward_references", "lab_placeholders",
           "main"]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# {glue:text}`name` or {glue:text}`name:fmt`; {glue:md}`name`; {glue}`name`, {glue:any}`name`
_GLUE_ROLE = re.compile(r"\{glue(?::(text|md|any))?\}`(" + _NAME + r")(?::(?!:)([^`]*))?`")
_GLUE_OTHER = re.compile(r"\{glue(?::[a-z]+)?\}`[^`]*`")
_EVAL_ROLE = re.compile(r"\{eval\}`([^`]+)`")
_IMPORT_OLD = "from myst_nb import glue"
_IMPORT_NEW = "from course_pkg.book_tools import glue"

# What the course kernel reports; JupyterLab writes it into the notebook when the kernel starts,
# so a notebook that lacks it shows as modified as soon as it is opened.
KERNELSPEC = {"display_name": "Python 3 (course)", "language": "python", "name": "python3"}


def glue(name: str, value: Any, display: bool = False) -> None:
    """Store ``value`` under ``name`` for the HTML book and bind it as a kernel variable ``name``.

    ``name`` must be a Python identifier: prose refers to it as ``{eval}`name``` (JupyterLab
    evaluates that in the kernel; the book looks up the glued value). ``display`` shows the value
    under the cell as well (myst-nb's default is to show it; ours is not to).
    Raises ``ValueError`` for a name that is not an identifier.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(
            f"glue name {name!r} is not a Python identifier: use letters, digits and '_' "
            "(prose refers to it as {eval}`name`)"
        )
    from myst_nb import glue as nb_glue

    nb_glue(name, value, display=display)
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing to bind
        return
    shell = get_ipython()
    if shell is not None:
        shell.user_ns[name] = value


def count_noun(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` and the noun that agrees with it, for prose and printed lines: ``count_noun(1,
    "inner step")`` is ``"1 inner step"``, ``count_noun(5, "point")`` is ``"5 points"``.

    ``plural`` defaults to ``singular + "s"``. ``n`` is a whole number (an ``int``, a NumPy or a
    0-d torch integer, or a float equal to an integer); raises ``TypeError`` for a bool and
    ``ValueError`` for a fractional number.
    """
    if isinstance(n, bool):
        raise TypeError("count_noun: n is a bool, pass the count itself")
    whole = int(n)
    if whole != n:
        raise ValueError(f"count_noun: {n!r} is not a whole number of {plural or singular + 's'}")
    return f"{whole} {singular if whole == 1 else (plural or singular + 's')}"


# --------------------------------------------------------------------------- conversion
def _convert_markdown(text: str) -> tuple[str, list[str]]:
    """Return ``text`` with glue roles turned into ``{eval}`` roles, and the problems found."""

    def repl(m: re.Match[str]) -> str:
        kind, name, fmt = m.group(1), m.group(2), m.group(3)
        if fmt is not None and kind in (None, "text") and fmt != "":
            if "`" in fmt or '"' in fmt or "{" in fmt:
                return m.group(0)
            return '{eval}`f"{' + name + ":" + fmt + '}"`'
        return "{eval}`" + name + "`"

    out = _GLUE_ROLE.sub(repl, text)
    problems = [f"cannot convert {m.group(0)!r} (another document's glue?)"
                for m in _GLUE_OTHER.finditer(out)]
    return out, problems


def _split_lines(text: str) -> list[str]:
    """Notebook ``source`` list: one item per line, newline kept on all but the last."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def convert_notebook(nb: dict) -> tuple[dict, int, list[str]]:
    """Convert one notebook dict in place; return it, the number of changed cells, the problems."""
    changed, problems = 0, []
    for cell in nb.get("cells", []):
        src = "".join(cell.get("source", []))
        if cell.get("cell_type") == "markdown":
            new, probs = _convert_markdown(src)
            problems += [f"cell {cell.get('id', '?')}: {p}" for p in probs]
        elif cell.get("cell_type") == "code":
            new = re.sub(r"^" + re.escape(_IMPORT_OLD) + r"[ \t]*$", _IMPORT_NEW, src, flags=re.M)
        else:
            continue
        if new != src:
            cell["source"] = _split_lines(new)
            changed += 1
    return nb, changed, problems


def eval_names(expression: str) -> list[str]:
    """Variable names an ``{eval}`` expression reads (``x`` or ``f"{x:.2f} {y}"``)."""
    import ast

    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return []
    return [n.id for n in ast.walk(tree) if isinstance(n, ast.Name)]


def _glue_patterns(code: str) -> list[re.Pattern[str]]:
    """Regexes for the names a code cell glues (f-string names become wildcards)."""
    pats = []
    for m in re.finditer(r"\bglue\(\s*(f?)([\"'])(.*?)\2", code):
        is_f, name = m.group(1), m.group(3)
        if is_f:
            parts = re.split(r"\{[^}]*\}", name)
            pats.append(re.compile("^" + ".+?".join(re.escape(p) for p in parts) + "$"))
        else:
            pats.append(re.compile("^" + re.escape(name) + "$"))
    return pats


def forward_references(nb: dict) -> list[str]:
    """Names that prose evaluates before any code cell above it glues them.

    Run All in JupyterLab evaluates a markdown cell's ``{eval}`` roles when that cell is reached,
    so such a name shows a NameError there (the HTML book would still resolve it).
    """
    seen: list[re.Pattern[str]] = []
    out = []
    for cell in nb.get("cells", []):
        src = "".join(cell.get("source", []))
        if cell.get("cell_type") == "code":
            seen += _glue_patterns(src)
        elif cell.get("cell_type") == "markdown":
            for m in _EVAL_ROLE.finditer(src):
                for name in eval_names(m.group(1)):
                    if not any(p.match(name) for p in seen):
                        out.append(f"cell {cell.get('id', '?')}: {name}")
    return out


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _write(path: Path, nb: dict) -> None:
    """Write in the repository's notebook style (indent 1, sorted keys, UTF-8, final newline)."""
    path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                    encoding="utf-8")


def lab_metadata(nb: dict, language_info: dict | None = None) -> bool:
    """Give ``nb`` the kernelspec and language_info JupyterLab sets on open; True if changed."""
    info = language_info or {
        "codemirror_mode": {"name": "ipython", "version": 3},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3",
        "version": ".".join(map(str, sys.version_info[:3])),
    }
    meta = nb.setdefault("metadata", {})
    before = json.dumps(meta, sort_keys=True)
    meta["kernelspec"] = dict(KERNELSPEC)
    meta["language_info"] = info
    return json.dumps(meta, sort_keys=True) != before


# What `make workspace` copies: (source folder, glob patterns, target folder inside workspace/).
WORKSPACE_ITEMS = (
    ("book", ("*.ipynb", "*.md", "*.bib"), "book"),
    ("exercises", ("*.ipynb",), "exercises"),
    ("exercises/tests", ("**/*",), "exercises/tests"),
)


#: What JupyterLab shows for an ``{eval}`` number until the cell that computes it has run.
PLACEHOLDER = "(run the cells above)"


def lab_placeholders(nb: dict) -> dict:
    """``nb`` with a placeholder result stored for every ``{eval}`` expression (in place).

    jupyterlab-myst shows an ``{eval}`` role's last result, kept in the markdown cell's
    ``user_expressions`` metadata, until the cell is run again; a fresh copy has none, so
    JupyterLab would show the raw expression (``f"{ch07_maml10_s1:.2f}"``). Storing
    :data:`PLACEHOLDER` as that result makes the prose read "(run the cells above)" until
    Run All replaces it with the value.
    """
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        exprs = list(dict.fromkeys(m.group(1) for m in _EVAL_ROLE.finditer(src)))
        if exprs:
            cell.setdefault("metadata", {})["user_expressions"] = [
                {"expression": e, "result": {"status": "ok", "metadata": {},
                                             "data": {"text/plain": PLACEHOLDER}}}
                for e in exprs]
    return nb


def lab_titles(repo: Path) -> dict[str, tuple[str, str]]:
    """``{doc}`` targets of the workspace copies: ``{stem: (title, link)}`` for every page of
    ``book/`` and, as ``exercises/<stem>``, every notebook of ``exercises/`` (the HTML book's
    generated exercise pages; in the workspace ``book/exercises.md`` links the notebooks)."""
    titles = page_titles(Path(repo) / "book")
    for stem, (title, name) in page_titles(Path(repo) / "exercises").items():
        titles[f"exercises/{stem}"] = (title, f"../exercises/{name}")
    return titles


def make_workspace(repo: Path, target: Path | None = None) -> tuple[list[Path], list[Path]]:
    """Copy the chapters, the exercises and their public tests into ``workspace/``.

    In the copies of the chapters and pages, citations show the HTML book's labels, each page
    lists the works it cites and ``{doc}`` roles become links titled like the book's
    (:mod:`course_pkg.book_references`: jupyterlab-myst has no bibliography).

    A file that already exists there is never overwritten (it may hold a learner's work), so
    regenerating the course and running this again leaves the learner's answers alone.
    Returns ``(copied, kept)`` target paths. Raises ``FileNotFoundError`` outside a course clone.
    """
    import shutil

    repo = Path(repo)
    if not (repo / "book").is_dir() or not (repo / "exercises").is_dir():
        raise FileNotFoundError(f"{repo} is not the course repository (no book/ and exercises/)")
    target = Path(target) if target is not None else repo / "workspace"
    bib = repo / "book" / "references.bib"
    refs = load_references(bib) if bib.is_file() else {}
    titles = lab_titles(repo)
    copied, kept = [], []
    for src_dir, patterns, dst_dir in WORKSPACE_ITEMS:
        for pattern in patterns:
            for src in sorted((repo / src_dir).glob(pattern)):
                if not src.is_file() or ".ipynb_checkpoints" in src.parts:
                    continue
                dst = target / dst_dir / src.relative_to(repo / src_dir)
                if dst.exists():
                    kept.append(dst)
                    continue
                dst.parent.mkdir(parents=True, exist_ok=True)
                if src_dir == "book" and src.suffix == ".ipynb":
                    _write(dst, lab_placeholders(
                        chapter_for_lab(_read(src), refs, titles, where=str(src))))
                elif src_dir == "book" and src.suffix == ".md":
                    dst.write_text(page_for_lab(src.read_text(encoding="utf-8"), refs, titles,
                                                where=str(src)), encoding="utf-8")
                else:
                    shutil.copy2(src, dst)
                copied.append(dst)
    return copied, kept


def _paths(items: Iterable[str]) -> list[Path]:
    paths = [Path(p) for p in items]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise SystemExit(f"no such notebook: {', '.join(missing)}")
    return paths


def main(argv: list[str] | None = None) -> int:
    """Command line: ``convert-glue``, ``check`` or ``lab-metadata`` on notebook paths."""
    parser = argparse.ArgumentParser(prog="python -m course_pkg.book_tools", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["convert-glue", "check", "lab-metadata", "workspace"])
    parser.add_argument("notebooks", nargs="*")
    args = parser.parse_args(argv)
    if args.command == "workspace":
        copied, kept = make_workspace(Path.cwd())
        print(f"workspace/: {len(copied)} file(s) copied, {len(kept)} already there (kept as is)")
        return 0
    if not args.notebooks:
        parser.error("name the notebooks, e.g. book/*.ipynb")
    status = 0
    for path in _paths(args.notebooks):
        nb = _read(path)
        if args.command == "convert-glue":
            nb, changed, problems = convert_notebook(nb)
            if changed:
                _write(path, nb)
            print(f"{path}: {changed} cell(s) converted")
        elif args.command == "lab-metadata":
            if lab_metadata(nb):
                _write(path, nb)
                print(f"{path}: metadata updated")
            problems = []
        else:
            problems = [p for p in convert_notebook(json.loads(json.dumps(nb)))[2]]
            left = sum(len(_GLUE_OTHER.findall("".join(c.get("source", []))))
                       for c in nb.get("cells", []) if c.get("cell_type") == "markdown")
            if left:
                problems.append(f"{left} glue role(s) left: run convert-glue")
            problems += [f"used before it is glued: {p}" for p in forward_references(nb)]
        for p in problems:
            print(f"{path}: {p}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
