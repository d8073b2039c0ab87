// Learning to Learn — small reading aids shared by every page (book/_static, html_js_files).
// 1. Output tables: cells that hold text (not numbers) are marked .course-text (left-aligned).
// 2. Search results: excerpts show math as plain text (Sphinx's search prints page text, where
//    MathJax's source \( \frac{a}{b} \) would appear verbatim).
// 4. Two ARIA defects of the theme and of Sphinx's HTML, repaired in the page (no axe rule is
//    switched off): a control whose aria-label does not contain its visible text is named by
//    that text instead (WCAG 2.5.3 label in name; the label stays as its title); the bibliography's role="list"
//    gets role="listitem" children (doc-biblioentry is not a list item in ARIA 1.2).
// 3. Display equations wider than the column are scaled to fit; boxes that still scroll sideways
//    (wide tables on a phone) take the keyboard focus (WCAG 2.1.1); inline math never does.
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

  // A display equation wider than the column is scaled down to fit (to 70 % at least); one
  // that still does not fit scrolls in its box (.course-scrolls), which then takes the keyboard
  // focus. Inline math never scrolls and never takes the focus.
  const MIN_SCALE = 0.7;
  function fitEquations() {
    for (const box of document.querySelectorAll(".bd-content div.math")) {
      const eq = box.querySelector("mjx-container");
      if (!eq) continue;
      eq.style.fontSize = "";
      const avail = box.clientWidth, need = eq.scrollWidth;
      if (need > avail + 1) {
        const scale = Math.max(MIN_SCALE, Math.floor((avail / need) * 1000) / 1000);
        eq.style.fontSize = (scale * 100).toFixed(1) + "%";
      }
      const scrolls = box.scrollWidth > box.clientWidth + 1;
      box.classList.toggle("course-scrolls", scrolls);
      scrollStop(box, scrolls);
    }
    // an inline formula cannot break across lines: one wider than its paragraph is scaled too
    for (const eq of document.querySelectorAll(".bd-content span.math > mjx-container")) {
      eq.style.fontSize = "";
      const block = eq.closest("p, li, td, th, dd, div") || eq.parentElement;
      const avail = block.clientWidth, need = eq.getBoundingClientRect().width;
      if (avail > 0 && need > avail) {
        eq.style.fontSize = (Math.max(MIN_SCALE, Math.floor((avail / need) * 1000) / 1000) * 100)
          .toFixed(1) + "%";
      }
    }
  }

  // Boxes that scroll sideways (wide tables on a phone) take the keyboard focus, so that they
  // can be scrolled without a mouse (WCAG 2.1.1); boxes that fit do not.
  function scrollStop(el, scrolls) {
    if (scrolls && !el.hasAttribute("tabindex")) {
      el.setAttribute("tabindex", "0");
      el.dataset.courseScrollStop = "1";
      if (!el.hasAttribute("role")) el.setAttribute("role", "region");
      if (!el.hasAttribute("aria-label")) el.setAttribute("aria-label", "scrollable content");
    } else if (!scrolls && el.dataset.courseScrollStop === "1") {
      el.removeAttribute("tabindex");
      el.removeAttribute("role");
      el.removeAttribute("aria-label");
      delete el.dataset.courseScrollStop;
    }
  }

  function tabStops() {
    for (const el of document.querySelectorAll(".cell_output .output.text_html," +
                                               " .pst-scrollable-table-container")) {
      scrollStop(el, el.scrollWidth > el.clientWidth + 1);
    }
    fitEquations();
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
    // the sidebar's expand toggle of a page with sub-pages (the exercises) is an icon only:
    // name it after its page (axe: summary-name)
    for (const sum of document.querySelectorAll("nav details > summary")) {
      if (sum.textContent.trim() || sum.hasAttribute("aria-label")) continue;
      const link = sum.parentElement.parentElement.querySelector(":scope > a");
      sum.setAttribute("aria-label", `Pages under ${link ? link.textContent.trim() : "this page"}`);
    }
    for (const list of document.querySelectorAll("[role='list']")) {
      for (const item of list.children) {
        if (item.getAttribute("role") === "doc-biblioentry") item.setAttribute("role", "listitem");
      }
    }
  }

  // Fewer Tab stops before the content a reader came for: a copy button per code cell (20 on
  // chapter 7 before its first figure) and a link around each figure to the same image file
  // leave the Tab order; both stay usable with a pointer, the code stays selectable.
  function quietTabStops() {
    for (const b of document.querySelectorAll("button.copybtn")) {
      b.tabIndex = -1;
      if (!b.hasAttribute("aria-label")) b.setAttribute("aria-label", "Copy the code");
    }
    for (const a of document.querySelectorAll(".bd-content a.image-reference")) a.tabIndex = -1;
  }

  // sphinx-togglebutton names every answer button "Toggle hidden content": name it after the
  // question it answers (the paragraph or list item before the dropdown).
  function nameToggles() {
    for (const b of document.querySelectorAll(".bd-content .dropdown button.toggle-button")) {
      const box = b.closest(".dropdown");
      let q = box.previousElementSibling;
      while (q && !q.textContent.trim()) q = q.previousElementSibling;
      const title = (box.querySelector(".admonition-title") || box).textContent.trim() || "Answer";
      const text = q ? q.textContent.replace(/\s+/g, " ").trim() : "";
      const short = text.length > 70 ? text.slice(0, 70).replace(/\s\S*$/, "") + "…" : text;
      b.setAttribute("aria-label", short ? `${title}: ${short}` : title);
    }
  }

  // Both themes bind their sidebar toggles to the page's FIRST .primary-toggle and
  // .secondary-toggle (pydata's navbar icons, hidden by the book theme), so the visible header
  // buttons did nothing: they forward their clicks to the bound ones.
  function sidebarToggles() {
    for (const cls of ["primary-toggle", "secondary-toggle"]) {
      const [bound, ...others] = document.querySelectorAll(`.${cls}`);
      for (const b of others) {
        b.addEventListener("click", (e) => {
          e.preventDefault();
          e.stopPropagation();
          bound.click();
        });
      }
    }
  }

  function init() {
    sidebarToggles();
    quietTabStops();
    nameToggles();
    window.addEventListener("load", nameToggles);
    window.addEventListener("load", quietTabStops);
    fixAria();
    markTextCells(document);
    patchSearch();
    tabStops();
    window.addEventListener("resize", tabStops);
    window.addEventListener("beforeprint", tabStops);
    window.addEventListener("afterprint", tabStops);
    // folded tables (course_pkg.viz.collapsible) print open
    window.addEventListener("beforeprint", () => {
      for (const d of document.querySelectorAll("details.course-collapsible")) d.open = true;
    });
    // MathJax typesets after load: fit its equations once it is done, then say so
    // (<html data-course-layout="done">, the signal the browser tests wait for)
    const done = () => { tabStops(); document.documentElement.dataset.courseLayout = "done"; };
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      MathJax.startup.promise.then(done);
    } else if (document.querySelector(".math")) {
      // MathJax loads after this script (defer): wait for its startup promise
      window.addEventListener("load", () => {
        if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
          MathJax.startup.promise.then(done);
        } else done();
      });
    } else done();
  }
  // MathJax puts every formula in the Tab order (its context menu): 100+ Tab stops on a chapter
  // before the first figure. The menu stays on right click / long press; keyboard users reach
  // the controls. (This script runs before the deferred MathJax reads its configuration.)
  if (window.MathJax && !window.MathJax.version) {
    const opts = (window.MathJax.options = window.MathJax.options || {});
    const menu = (opts.menuOptions = opts.menuOptions || {});
    menu.settings = Object.assign(menu.settings || {}, {inTabOrder: false});
  }
  patchSearch();
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
