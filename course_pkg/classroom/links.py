"""nbgitpuller and Binder links to the learner's copies of the student release.

A student who follows an nbgitpuller link logs in to the class's JupyterHub, which clones the
student release into their home folder the first time and merges its updates afterwards (their
own edits win: nbgitpuller never overwrites a file they changed), then opens the page in
JupyterLab. The links open ``learner/``, the copies that ``make workspace`` converts (citations
and chapter links JupyterLab can render), never the raw ``book/`` sources.

    python -m course_pkg.classroom links --hub https://hub.example.edu \\
        --repo https://github.com/me/learning-to-learn-student            # one link per page
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

from .release import LEARNER_DIR


def repo_name(repo_url: str) -> str:
    """The folder nbgitpuller clones ``repo_url`` into (its last path part, no ``.git``)."""
    name = repo_url.rstrip("/").split("/")[-1]
    return name[:-4] if name.endswith(".git") else name


def learner_path(page: str) -> str:
    """The learner's copy of a book page or exercise, relative to the release.

    ``book/07_maml`` or ``book/07_maml.ipynb`` -> ``learner/book/07_maml.ipynb``;
    ``exercises/ex07_maml.ipynb`` -> ``learner/exercises/ex07_maml.ipynb``; a ``.md`` page keeps
    its suffix. Raises ``ValueError`` for anything else (the learner copies hold only these)."""
    p = page.strip("/")
    if p.startswith(f"{LEARNER_DIR}/"):
        p = p[len(LEARNER_DIR) + 1:]
    folder = p.split("/", 1)[0]
    if folder not in ("book", "exercises") or "/" not in p:
        raise ValueError(f"{page!r}: only book/<page> and exercises/<name> have learner copies")
    if not p.endswith((".ipynb", ".md")):
        p += ".ipynb"
    return f"{LEARNER_DIR}/{p}"


def nbgitpuller_link(hub_url: str, repo_url: str, page: str, branch: str = "main") -> str:
    """The nbgitpuller link that opens the learner's copy of ``page`` in JupyterLab.

    ``hub_url``: the hub's base URL (``https://hub.example.edu`` or with a base path);
    ``repo_url``: the student release's git URL; ``page`` as :func:`learner_path` takes it."""
    if not hub_url.startswith(("http://", "https://")):
        raise ValueError(f"hub URL {hub_url!r} must start with http:// or https://")
    target = repo_name(repo_url)
    query = urllib.parse.urlencode({
        "repo": repo_url, "branch": branch, "targetpath": target,
        "urlpath": f"lab/tree/{target}/{learner_path(page)}",
    })
    return f"{hub_url.rstrip('/')}/hub/user-redirect/git-pull?{query}"


def binder_link(binderhub_url: str, repo_url: str, page: str, branch: str = "main") -> str:
    """A BinderHub link opening the learner's copy of ``page`` in JupyterLab (GitHub
    repositories as ``gh/<owner>/<name>``, any other git URL as ``git/<URL>``)."""
    if not binderhub_url.startswith(("http://", "https://")):
        raise ValueError(f"BinderHub URL {binderhub_url!r} must start with http:// or https://")
    parts = urllib.parse.urlsplit(repo_url)
    if parts.netloc == "github.com":
        spec = "gh/" + parts.path.strip("/").removesuffix(".git")
    else:
        spec = "git/" + urllib.parse.quote(repo_url, safe="")
    path = urllib.parse.quote(f"lab/tree/{learner_path(page)}", safe="")
    return f"{binderhub_url.rstrip('/')}/v2/{spec}/{branch}?urlpath={path}"


def course_pages(root: Path) -> list[str]:
    """Every chapter and page of the book (``_toc.yml`` order) and every exercise notebook."""
    import yaml

    toc = yaml.safe_load((Path(root) / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part.get("chapters", [])]
    pages = []
    for f in files:
        suffix = ".ipynb" if (Path(root) / f"{f}.ipynb").is_file() else ".md"
        pages.append(f"{f}{suffix}")
    pages += [f"exercises/{p.name}" for p in sorted((Path(root) / "exercises").glob("*.ipynb"))]
    return pages


def all_links(root: Path, hub_url: str, repo_url: str, branch: str = "main") -> dict[str, str]:
    """``{page: nbgitpuller link}`` for every page of :func:`course_pages`."""
    return {p: nbgitpuller_link(hub_url, repo_url, p, branch) for p in course_pages(root)}


def links_markdown(root: Path, hub_url: str, repo_url: str, branch: str = "main") -> str:
    """A Markdown table of the links, to paste into the course's page or LMS."""
    rows = ["| page | link |", "|---|---|"]
    rows += [f"| `{p}` | [open on the hub]({u}) |"
             for p, u in all_links(root, hub_url, repo_url, branch).items()]
    return "\n".join(rows) + "\n"


def links_json(root: Path, hub_url: str, repo_url: str, branch: str = "main") -> str:
    return json.dumps(all_links(root, hub_url, repo_url, branch), indent=1)


__all__ = ["all_links", "binder_link", "course_pages", "learner_path", "links_markdown",
           "nbgitpuller_link", "repo_name"]
