// Learning to Learn — small reading aids shared by every page (book/_static, html_js_files).
// 1. Output tables: cells that hold text (not numbers) are marked .course-text (left-aligned).
// 2. Search results: excerpts show math as plain text (Sphinx's search prints page text, where
//    MathJax's source \( \frac{a}{b} \) would appear verbatim).
// 4. Two ARIA defects of the theme and of Sphinx's HTML, repaired in the page (no axe rule is
//    switched off): a control whose aria-label does not contain its visible text is named by
//    that text instead (WCAG 2.5.3 label in name; the label stays as its title); the bibliography's role="list"
//    gets role="listitem" children (doc-biblioentry is not a list item in ARIA 1.2).
// 3. Boxes that scroll sideways (wide tables and equations on a phone) take the keyboard focus,
//    so that they can be scrolled without a mouse (WCAG 2.1.1).
"use strict";

(function () {
  const NUMERIC = /^[\s\d.,+\-−–eE%±×()/^*…]*\d[\s\d.,+\-−–eE%±×()/^*…]*$/;

  function markTextCells(root) {
    for (const cell of root.querySelectorAll(".cell_output table td, .output table td")) {
      const t = cell.textContent.trim();
      if (t && !NUMERIC.test(t) && !/^(nan|inf|−?∞|–|—|True|False)$/i.test(t)) {
        cell.classList.add("course-text");
      }
    }
    // a header cell of a text column is left-aligned too
    for (const table of root.querySelectorAll(".cell_output table, .output table")) {
      const rows = table.tBodies[0] ? Array.from(table.tBodies[0].rows) : [];
      const head = table.tHead ? table.tHead.rows[table.tHead.rows.length - 1] : null;
      if (!head || !rows.length) continue;
      Array.from(head.cells).forEach((th, i) => {
        const cells = rows.map((r) => r.cells[i]).filter(Boolean);
        if (cells.length && cells.every((c) => c.classList.contains("course-text") ||
                                         c.tagName === "TH")) th.classList.add("course-text");
      });
    }
  }

  const SYMBOLS = {
    alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", varepsilon: "ε", eta: "η",
    theta: "θ", lambda: "λ", mu: "μ", sigma: "σ", tau: "τ", phi: "φ", varphi: "φ", psi: "ψ",
    omega: "ω", Delta: "Δ", Sigma: "Σ", Theta: "Θ", Phi: "Φ", nabla: "∇", partial: "∂",
    sum: "Σ", prod: "Π", infty: "∞", cdot: "·", times: "×", top: "ᵀ", leftarrow: "←",
    rightarrow: "→", to: "→", approx: "≈", le: "≤", leq: "≤", ge: "≥", geq: "≥", ne: "≠",
    in: "∈", sim: "~", mid: "|", ldots: "…", dots: "…", cdots: "…", quad: " ", qquad: " ",
  };

  // TeX source -> readable plain text (good enough for a search excerpt).
  function texToText(tex) {
    let s = tex;
    for (let i = 0; i < 3; i++) s = s.replace(/\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}/g, "($1)/($2)");
    s = s.replace(/\\(?:mathcal|mathbf|mathrm|operatorname|text|mathbb|boldsymbol|hat|tilde|bar)\s*\{([^{}]*)\}/g, "$1");
    s = s.replace(/\\begin\{[^}]*\}|\\end\{[^}]*\}|\\left(?![A-Za-z])|\\right(?![A-Za-z])|\\!|\\,|\\;|&|\\\\/g, " ");
    s = s.replace(/\\([A-Za-z]+)/g, (m, name) => (name in SYMBOLS ? SYMBOLS[name] : ""));
    s = s.replace(/[{}]/g, "").replace(/\s+/g, " ");
    return s.trim();
  }

  function plainMath(text) {
    return text
      .replace(/\$\$([\s\S]*?)\$\$/g, (m, t) => " " + texToText(t) + " ")
      .replace(/\\\[([\s\S]*?)\\\]/g, (m, t) => " " + texToText(t) + " ")
      .replace(/\\\(([\s\S]*?)\\\)/g, (m, t) => texToText(t));
  }
  window.courseTexToText = plainMath;

  function patchSearch() {
    /* global Search */
    if (typeof Search === "undefined" || !Search.htmlToText || Search.__coursePatched) return;
    const orig = Search.htmlToText;
    Search.htmlToText = (html, anchor) => plainMath(orig(html, anchor));
    Search.__coursePatched = true;
  }

  function tabStops() {
    const boxes = document.querySelectorAll(".cell_output .output, .bd-content .math.notranslate," +
                                            " .bd-content mjx-container[display='true']");
    for (const el of boxes) {
      if (el.scrollWidth > el.clientWidth + 1 && !el.hasAttribute("tabindex")) {
        el.setAttribute("tabindex", "0");
      }
    }
  }

  function fixAria() {
    // icon glyphs inside a named button (the theme's colour-mode switch) are decorative: their
    // titles ("Light", "Dark", …) would otherwise count as the button's visible text
    for (const icon of document.querySelectorAll("button[aria-label] i[title]")) {
      icon.setAttribute("aria-hidden", "true");
    }
    for (const el of document.querySelectorAll("button[aria-label], a[aria-label]")) {
      if (el.closest(".cviz-root")) continue;
      const visible = (el.innerText || "").replace(/\s+/g, " ").trim();
      const label = el.getAttribute("aria-label").trim();
      if (visible && !label.toLowerCase().includes(visible.toLowerCase())) {
        // the name then comes from the content, which is the visible text itself
        el.removeAttribute("aria-label");
        if (!el.title) el.title = label;
      }
    }
    for (const list of document.querySelectorAll("[role='list']")) {
      for (const item of list.children) {
        if (item.getAttribute("role") === "doc-biblioentry") item.setAttribute("role", "listitem");
      }
    }
  }

  function init() {
    fixAria();
    markTextCells(document);
    patchSearch();
    tabStops();
    window.addEventListener("resize", tabStops);
    // MathJax typesets after load: check its boxes again once it is done
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      MathJax.startup.promise.then(tabStops);
    }
  }
  patchSearch();
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
