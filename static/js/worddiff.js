// A word-level diff of two texts, for the rewrite editor: which words of the original were kept,
// removed or added. Pure: window.ArbiterWordDiff.diff(original, edited) returns a list of
// {op: "equal" | "delete" | "insert", text} runs, and render(runs, element) draws them with
// <ins>/<del> built from text nodes (never HTML strings: the texts are untrusted).
(function () {
  "use strict";

  // Beyond this many cells the middle of the two texts is shown as one removal and one insertion
  // instead of being aligned word by word (the table would cost too much memory and time).
  const MAX_CELLS = 4000000;

  // Words with the whitespace that follows each one, so the diff keeps the text's line breaks.
  function tokens(text) {
    const found = [];
    const re = /(\S+)(\s*)/g;
    const lead = /^\s*/.exec(text)[0];
    let m;
    while ((m = re.exec(text)) !== null) found.push({ word: m[1], text: m[0] });
    if (lead && found.length) found[0] = { word: found[0].word, text: lead + found[0].text };
    return found;
  }

  function push(runs, op, text) {
    const last = runs[runs.length - 1];
    if (last && last.op === op) last.text += text;
    else runs.push({ op, text });
  }

  // Longest common subsequence of the words of a and b (both arrays of tokens), as edit runs.
  function align(a, b, runs) {
    const n = a.length, m = b.length;
    if (n * m > MAX_CELLS) {
      a.forEach((t) => push(runs, "delete", t.text));
      b.forEach((t) => push(runs, "insert", t.text));
      return;
    }
    // lcs[i][j]: LCS length of a[i:] and b[j:], in one flat typed array.
    const width = m + 1;
    const lcs = new Uint32Array((n + 1) * width);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * width + j] = a[i].word === b[j].word
          ? lcs[(i + 1) * width + j + 1] + 1
          : Math.max(lcs[(i + 1) * width + j], lcs[i * width + j + 1]);
      }
    }
    let i = 0, j = 0;
    while (i < n && j < m) {
      if (a[i].word === b[j].word) { push(runs, "equal", b[j].text); i++; j++; }
      else if (lcs[(i + 1) * width + j] >= lcs[i * width + j + 1]) { push(runs, "delete", a[i].text); i++; }
      else { push(runs, "insert", b[j].text); j++; }
    }
    for (; i < n; i++) push(runs, "delete", a[i].text);
    for (; j < m; j++) push(runs, "insert", b[j].text);
  }

  function diff(original, edited) {
    const a = tokens(original || ""), b = tokens(edited || "");
    const runs = [];
    let start = 0;
    while (start < a.length && start < b.length && a[start].word === b[start].word) {
      push(runs, "equal", b[start].text);
      start++;
    }
    let endA = a.length, endB = b.length;
    while (endA > start && endB > start && a[endA - 1].word === b[endB - 1].word) { endA--; endB--; }
    align(a.slice(start, endA), b.slice(start, endB), runs);
    for (let k = endB; k < b.length; k++) push(runs, "equal", b[k].text);
    return runs;
  }

  function count(runs, op) {
    return runs.filter((r) => r.op === op).reduce((n, r) => n + tokens(r.text).length, 0);
  }

  function render(runs, element) {
    element.replaceChildren();
    for (const run of runs) {
      const node = run.op === "equal" ? document.createElement("span")
        : document.createElement(run.op === "insert" ? "ins" : "del");
      node.textContent = run.text;
      element.appendChild(node);
    }
  }

  window.ArbiterWordDiff = { diff, render, tokens, count };
})();
