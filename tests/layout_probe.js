// What a reader sees on one page (tests/test_page_layout.py): shapes of images, words in table
// cells, inline math, content wider than the column. Returns plain data; the test decides.
() => {
  const out = {vw: document.documentElement.clientWidth,
               scroll: document.documentElement.scrollWidth,
               images: [], brokenWords: [], mathScroll: [], mathTab: 0, wide: [], canvases: [],
               padding: [], imgs: []};
  const article = document.querySelector("article.bd-article") || document.querySelector("main");
  const col = article.getBoundingClientRect();
  const name = (el) => el.tagName.toLowerCase() + (el.className && typeof el.className === "string"
    ? "." + el.className.trim().split(/\s+/).slice(0, 2).join(".") : "");
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };

  // 1. images keep their natural aspect ratio (within 2 %)
  for (const img of article.querySelectorAll("img")) {
    if (!img.complete || !img.naturalWidth || !visible(img)) continue;
    // the picture is the content box (dark mode frames images with a padding)
    const r = img.getBoundingClientRect(), s = getComputedStyle(img);
    const px = (k) => parseFloat(s[k]) || 0;
    const w = r.width - px("paddingLeft") - px("paddingRight") - px("borderLeftWidth") -
              px("borderRightWidth");
    const h = r.height - px("paddingTop") - px("paddingBottom") - px("borderTopWidth") -
              px("borderBottomWidth");
    const err = Math.abs((w / h) / (img.naturalWidth / img.naturalHeight) - 1);
    out.images.push({src: img.getAttribute("src").slice(-24), err, w, h});
  }
  // 2. no word of a table cell is broken across lines (the cell is at least as wide as it)
  for (const cell of article.querySelectorAll("td, th")) {
    if (!visible(cell)) continue;
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT, {acceptNode(n) {
      return n.parentElement.closest("mjx-container, .MathJax") ? NodeFilter.FILTER_REJECT
                                                                 : NodeFilter.FILTER_ACCEPT; }});
    while (walker.nextNode()) {
      const node = walker.currentNode, text = node.nodeValue;
      // words: runs between spaces; a line may break after a hyphen, slash, dash or bar
      // (Unicode line-break class BA)
      const re = /[^\s\-/–—|]+[\-/–—|]?/g;
      let m;
      while ((m = re.exec(text))) {
        if (m[0].length < 2) continue;
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].replace(/[\-/–—|]$/, "").length);
        const tops = new Set(Array.from(range.getClientRects()).filter((q) => q.width > 0)
                                 .map((q) => Math.round(q.top)));
        if (tops.size > 1) out.brokenWords.push(m[0] + " in '" +
                                                cell.textContent.trim().slice(0, 30) + "'");
      }
    }
  }
  // 3. inline math: no scroll box, no Tab stop
  for (const m of article.querySelectorAll("span.math, span.math mjx-container, mjx-container:not([display='true'])")) {
    if (m.scrollWidth > m.clientWidth + 1 && ["auto", "scroll"].includes(getComputedStyle(m).overflowX)) {
      out.mathScroll.push(m.textContent.slice(0, 30));
    }
    if (m.tabIndex >= 0 && m.getAttribute("tabindex") !== null) out.mathTab += 1;
  }
  // 4. code blocks, text outputs and display equations fit the column (no sideways scrolling)
  for (const el of article.querySelectorAll("div.highlight pre, .cell_output pre, .output pre, div.math")) {
    if (!visible(el)) continue;
    const r = el.getBoundingClientRect();
    const over = Math.max(el.scrollWidth - el.clientWidth, r.right - col.right);
    if (over > 1) out.wide.push(`${name(el)} ${Math.round(over)} px: ` +
                                el.textContent.trim().slice(0, 40));
  }
  // 4b. what pushes the page sideways (elements outside any scrolling box)
  out.pushers = [];
  for (const el of article.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > out.vw + 1) {
      let p = el.parentElement, scrolls = false;
      while (p && p !== document.body) {
        if (getComputedStyle(p).overflowX !== "visible") { scrolls = true; break; }
        p = p.parentElement;
      }
      if (!scrolls) out.pushers.push(`${name(el)} ${Math.round(r.right)} px: ` +
                                     el.textContent.trim().slice(0, 40));
    }
  }
  // 5. interactive figures fit their figure and the screen, drawn at the screen's density
  for (const c of document.querySelectorAll("[data-cviz] canvas")) {
    const fig = c.closest(".cviz-figure") || c.closest("[data-cviz]");
    const r = c.getBoundingClientRect(), f = fig.getBoundingClientRect();
    out.canvases.push({w: r.width, right: r.right, figRight: f.right, figW: f.width,
                       px: c.width, fig: c.closest("[data-cviz]").dataset.cviz});
  }
  // 6. output tables are padded; images are described
  for (const c of article.querySelectorAll(".cell_output td, .cell_output th, .output td, .output th")) {
    const s = getComputedStyle(c);
    const l = parseFloat(s.paddingLeft), r = parseFloat(s.paddingRight);
    if ((l < 4 || r < 4) && c.textContent.trim()) out.padding.push(
      `${c.textContent.trim().slice(0, 20)} (padding ${l}/${r} px)`);
  }
  out.imgs = Array.from(article.querySelectorAll("img")).map((i) => ({
    alt: i.getAttribute("alt"), src: i.getAttribute("src"),
    hidden: i.getAttribute("aria-hidden") === "true" || i.getAttribute("role") === "presentation"}));
  return out;
}
