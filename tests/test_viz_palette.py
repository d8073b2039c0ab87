"""One colour per method, and only for methods (course_pkg.viz.palette and .colorguard)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from course_pkg.viz import colorguard, palette  # noqa: E402
from course_pkg.viz.palette import METHOD_COLORS  # noqa: E402

CHROMATIC = [k for k, c in METHOD_COLORS.items() if palette._chroma(c) >= 5]


def test_non_method_palettes_never_return_a_method_colour() -> None:
    for n in (1, 2, 5, 6, 12):
        for colours in (palette.sequential_colors(n),
                        palette.category_colors(min(n, 6))):
            assert len(colours) == min(n, 6) or len(colours) == n
            for c in colours:
                assert palette.is_method_color(c) is None, c
                assert min(palette.delta_e(c, METHOD_COLORS[k]) for k in CHROMATIC) >= 20, c
    for level in range(len(palette.NEUTRALS)):
        assert palette.is_method_color(palette.neutral_color(level)) is None
    with pytest.raises(ValueError):
        palette.sequential_colors(0)
    with pytest.raises(ValueError):
        palette.neutral_color(9)
    with pytest.raises(ValueError, match="sequential_colors"):
        palette.category_colors(len(palette.CATEGORY_POOL) + 1)
    # the default cycle of the book's figures holds no method colour
    palette.use_course_style(check_colors=False)
    for c in matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]:
        assert palette.is_method_color(c) is None, c


def test_series_color_refuses_a_method_colour_for_a_non_method() -> None:
    assert palette.series_color("MAML, K = 5") == METHOD_COLORS["maml"]
    assert palette.series_color("Reptile", METHOD_COLORS["reptile"]) == METHOD_COLORS["reptile"]
    with pytest.raises(ValueError, match="MAML's colour"):
        palette.series_color("task optimum", METHOD_COLORS["maml"])
    with pytest.raises(ValueError, match="MAML's colour"):  # a near-copy counts too
        palette.series_color("after 5 steps", "#0273B3")
    with pytest.raises(ValueError, match="not a method"):
        palette.series_color("random")
    with pytest.raises(ValueError, match="its colour"):
        palette.series_color("FOMAML", METHOD_COLORS["maml"])
    grey = palette.neutral_color()
    assert palette.series_color("random", grey) == grey
    assert palette.method_label("maml") == "MAML" and palette.method_label("iMAML") == "iMAML"


def test_register_methods_updates_the_shared_registry() -> None:
    saved_c, saved_l = dict(METHOD_COLORS), dict(palette.METHOD_LABELS)
    try:
        palette.register_methods({"anil": ("ANIL", "#44AA99")})
        assert palette.method_color("ANIL") == "#44AA99"
        # a colour registered for a method leaves the non-method palettes and the cycle
        palette.register_methods({"tealish": ("Tealish", palette.category_colors(1)[0])})
        assert palette.category_colors(1)[0] != METHOD_COLORS["tealish"]
        assert palette.method_for_label("ANIL, 5-way") == "anil"
        assert METHOD_COLORS is palette.METHOD_COLORS and "anil" in METHOD_COLORS
        with pytest.raises(ValueError, match="share a colour"):
            palette.register_methods({"other": ("Other", METHOD_COLORS["maml"])})
        assert "other" not in METHOD_COLORS  # unchanged after a refused registration
        with pytest.raises(ValueError, match="label, colour"):
            palette.register_methods({"bad": "MAML"})  # type: ignore[dict-item]
    finally:
        palette.register_methods({k: (saved_l[k], c) for k, c in saved_c.items()}, replace=True)
    assert METHOD_COLORS == saved_c


def test_check_figure_flags_a_method_colour_on_a_non_method() -> None:
    fig, (a, b) = plt.subplots(1, 2)
    a.plot([0, 1], [0, 1], color=METHOD_COLORS["maml"], label="MAML")
    a.plot([1], [1], "o", color=METHOD_COLORS["maml"])  # MAML's end point: fine
    a.fill_between([0, 1], [0, 0], [1, 1], color=METHOD_COLORS["maml"], alpha=0.2)
    b.plot([0, 1], [1, 0], color=palette.sequential_colors(3)[0], label="after 1 step")
    b.scatter([0, 1, 2], [0, 1, 2], c=[0.0, 0.5, 1.0], cmap="viridis")  # colour-mapped data
    assert colorguard.check_figure(fig) == []
    b.plot([0, 1], [0, 0], color=METHOD_COLORS["fomaml"], label="task optimum")
    b.plot([0, 1], [2, 2], color=METHOD_COLORS["reptile"])
    a.plot([0, 1], [3, 3], color=METHOD_COLORS["fomaml"], label="MAML, 1st order")
    problems = colorguard.check_figure(fig)
    plt.close(fig)
    assert len(problems) == 3, problems
    assert any("'task optimum' is not a method" in p for p in problems)
    assert any("unlabelled" in p and "Reptile" in p for p in problems)
    assert any("drawn in FOMAML's colour" in p for p in problems)


def test_the_cell_check_fails_the_cell_that_draws_a_method_colour_for_a_non_method() -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        assert colorguard.install_cell_check()
        shell.run_cell("import matplotlib.pyplot as plt\nfrom course_pkg.viz.palette import "
                       "METHOD_COLORS\nfig, ax = plt.subplots()")
        ok = shell.run_cell("ax.plot([0, 1], color=METHOD_COLORS['maml'], label='MAML')\n1 + 1")
        assert ok.success and ok.result == 2  # the last value is still the cell's result
        bad = shell.run_cell("ax.plot([0, 1], color=METHOD_COLORS['reptile'], label='goal')")
        assert not bad.success and "'goal' is not a method" in str(bad.error_in_exec)
        shell.run_cell("plt.close('all')")
    finally:
        shell.ast_transformers[:] = [t for t in shell.ast_transformers
                                     if not isinstance(t, colorguard._AppendCheck)]
        InteractiveShell.clear_instance()
