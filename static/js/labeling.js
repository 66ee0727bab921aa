// Keyboard shortcuts, drag-to-rank and time-on-task for the labeling page. The panel is swapped
// by htmx after every answer, so everything here looks the form up afresh on each event. The
// script only fills the form's own fields: without it, the form still submits.
(function () {
  "use strict";
  // Django's JavaScript catalog (/jsi18n/, loaded by base.html) translates; without it, English.
  const gettext = window.gettext || ((s) => s);
  const ngettext = window.ngettext || ((one, many, n) => (n === 1 ? one : many));
  const interpolate = window.interpolate || ((fmt, obj) => fmt.replace(/%\((\w+)\)s/g, (_, k) => obj[k]));
  // Show the server's 4xx answers (a validation message, an expired lease) in the panel.
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "4..", swap: true, error: false },
    { code: "...", swap: false, error: true },
  ];

  // Screen readers hear what changed through one live region outside the swapped panel: a
  // region that is itself swapped in is not announced. Emptied first, so a repeat is heard too.
  function announce(message) {
    const region = document.getElementById("task-announcer");
    if (!region || !message) return;
    region.textContent = "";
    window.setTimeout(() => { region.textContent = message; }, 50);
  }
  const announceTask = () => {
    const panel = document.querySelector("#panel [data-panel]");
    if (panel) announce(panel.dataset.announce);
  };

  let shownAt = performance.now();
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target.id === "panel") {
      shownAt = performance.now();
      focusFirst();
      announceTask();
    }
  });
  document.body.addEventListener("htmx:configRequest", (event) => {
    const f = event.detail.elt.closest ? event.detail.elt.closest("form.judge") : null;
    if (f) event.detail.parameters.duration_ms = Math.round(performance.now() - shownAt);
  });
  document.addEventListener("submit", (event) => {
    if (event.target.matches && event.target.matches("form.judge")) {
      event.target.querySelector('input[name="duration_ms"]').value = Math.round(performance.now() - shownAt);
      dropUnchangedRewrite(event.target);
    }
  }, true);

  const form = () => document.querySelector("form.judge");
  const check = (input) => {
    if (!input) return;
    input.checked = true;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  };
  const pick = (key) => check(form() && form().querySelector(`input[data-key="${key}"]`));

  // Pairwise: outline the response the annotator picked.
  document.addEventListener("change", (event) => {
    if (event.target.name !== "choice") return;
    const key = event.target.dataset.key;
    document.querySelectorAll("form.judge .response").forEach((card) => {
      card.classList.toggle("chosen", (card.dataset.side === "0" ? "left" : "right") === key);
    });
  });

  // Listwise: ranks follow the on-screen order; a tie shares the rank of the item above.
  const rankItems = () => Array.from(document.querySelectorAll("[data-ranking] .rank-item"));
  function renumber() {
    let rank = 0;
    rankItems().forEach((item, index) => {
      if (index === 0) item.dataset.tied = "false";
      if (item.dataset.tied !== "true") rank += 1;
      item.querySelector("input[type=number]").value = rank;
    });
  }
  function moveItem(item, direction) {
    const list = item.parentElement;
    if (direction < 0 && item.previousElementSibling) list.insertBefore(item, item.previousElementSibling);
    if (direction > 0 && item.nextElementSibling) list.insertBefore(item.nextElementSibling, item);
    renumber();
    item.focus();
    announceRank(item);
  }
  function announceRank(item) {
    const items = rankItems();
    const where = { position: items.indexOf(item) + 1, total: items.length, rank: item.querySelector("input[type=number]").value };
    announce(item.dataset.tied === "true"
      ? interpolate(gettext("Position %(position)s of %(total)s, rank %(rank)s, tied with the one above"), where, true)
      : interpolate(gettext("Position %(position)s of %(total)s, rank %(rank)s"), where, true));
  }
  let dragged = null;
  document.addEventListener("dragstart", (e) => { dragged = e.target.closest && e.target.closest(".rank-item"); });
  document.addEventListener("dragover", (e) => { if (dragged && e.target.closest(".rank-item")) e.preventDefault(); });
  document.addEventListener("drop", (e) => {
    const target = e.target.closest && e.target.closest(".rank-item");
    if (!dragged || !target || target === dragged) return;
    e.preventDefault();
    const after = e.clientY > target.getBoundingClientRect().top + target.offsetHeight / 2;
    target.parentElement.insertBefore(dragged, after ? target.nextElementSibling : target);
    dragged = null;
    renumber();
  });
  // A rank typed by hand re-sorts the list (stable for equal ranks, which become ties).
  document.addEventListener("change", (event) => {
    if (!event.target.closest || !event.target.closest(".rank-item") || event.target.type !== "number") return;
    const items = rankItems();
    const ranked = items.map((item, i) => [Number(item.querySelector("input[type=number]").value) || 99, i, item]);
    ranked.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    ranked.forEach(([rank, , item], i) => {
      item.dataset.tied = String(i > 0 && rank === ranked[i - 1][0]);
      item.parentElement.appendChild(item);
    });
    renumber();
  });

  // Principles: rows are focused and answered in turn.
  const rows = () => Array.from(document.querySelectorAll("form.judge .principle-row"));
  function focusRow(row) { if (row) row.focus(); }
  function answerRow(value) {
    const list = rows();
    const row = document.activeElement && document.activeElement.closest(".principle-row") || list[0];
    if (!row) return;
    check(row.querySelector(`input[type=radio][value="${value}"]`));
    focusRow(list[list.indexOf(row) + 1] || row);
  }
  function quoteSelection() {
    const text = String(window.getSelection() || "").trim();
    const row = document.querySelector(".principle-row.last-focused") || rows()[0];
    if (text && row) row.querySelector("input.evidence").value = text;
  }
  document.addEventListener("focusin", (event) => {
    const row = event.target.closest && event.target.closest(".principle-row");
    if (!row) return;
    rows().forEach((r) => r.classList.toggle("last-focused", r === row));
  });

  function focusFirst() {
    const first = document.querySelector("form.judge .principle-row, form.judge .rank-item");
    if (first) first.focus();
  }

  // Rewrite mode: E opens the editor inside the chosen (or the only) response, filled with its
  // text; every keystroke redraws the word-level diff; Escape cancels the edit.
  const rewrite = () => document.querySelector("form.judge [data-rewrite]");
  function originals() {
    const data = document.getElementById("rewrite-originals");
    return data ? JSON.parse(data.textContent) : {};
  }
  function rewriteTarget(f) {
    const cards = Array.from(f.querySelectorAll(".card[data-position]"));
    if (cards.length === 1) return cards[0];
    const choice = f.querySelector("input[name=choice]:checked");
    if (choice && (choice.value === "A" || choice.value === "B")) return f.querySelector(`.card[data-letter="${choice.value}"]`);
    if (choice) return cards[0];  // a tie or both bad: either may be edited; the select can change it
    const ranking = f.querySelector("[data-ranking]");
    if (ranking && !f.querySelector("input[name=not_rankable]:checked")) return ranking.querySelector(".rank-item");
    return null;
  }
  function rewriteError(message) {
    const box = rewrite() && rewrite().querySelector("[data-rewrite-error]");
    if (!box) return;
    box.textContent = message;
    box.hidden = !message;
  }
  function updateDiff() {
    const section = rewrite();
    if (!section) return;
    const editor = section.querySelector("[data-rewrite-editor]");
    const position = section.querySelector("[data-rewrite-target]").value;
    const view = section.querySelector("[data-rewrite-diff]");
    if (position === "" || !window.ArbiterWordDiff) { view.hidden = true; return; }
    const runs = window.ArbiterWordDiff.diff(originals()[position] || "", editor.value);
    window.ArbiterWordDiff.render(runs, section.querySelector("[data-rewrite-diff-body]"));
    const added = window.ArbiterWordDiff.count(runs, "insert"), removed = window.ArbiterWordDiff.count(runs, "delete");
    section.querySelector("[data-rewrite-stats]").textContent = added || removed
      ? interpolate(ngettext("%(added)s word added, %(removed)s removed", "%(added)s words added, %(removed)s removed", added), { added, removed }, true)
      : gettext("no change yet");
    view.hidden = false;
  }
  function openEditorIn(card) {
    const section = rewrite();
    const f = form();
    f.querySelectorAll(".card.editing").forEach((c) => c.classList.remove("editing"));
    card.classList.add("editing");
    card.appendChild(section);
    section.classList.add("open");
    const select = section.querySelector("[data-rewrite-target]");
    const editor = section.querySelector("[data-rewrite-editor]");
    if (select.value !== card.dataset.position || !editor.value) {
      select.value = card.dataset.position;
      editor.value = originals()[card.dataset.position] || "";
    }
    rewriteError("");
    updateDiff();
    editor.focus();
  }
  function startRewrite() {
    const f = form();
    if (!f || !rewrite()) return;
    const card = rewriteTarget(f);
    if (!card) { rewriteError(gettext("Choose the better response first, then press E to edit it.")); return; }
    openEditorIn(card);
  }
  function cancelRewrite() {
    const section = rewrite();
    if (!section) return;
    section.querySelector("[data-rewrite-editor]").value = "";
    section.querySelector("[data-rewrite-target]").value = "";
    section.classList.remove("open");
    document.querySelectorAll("form.judge .card.editing").forEach((c) => c.classList.remove("editing"));
    const home = document.querySelector("form.judge [data-rewrite-home]");
    if (home) home.appendChild(section);
    updateDiff();
    rewriteError("");
    if (document.activeElement) document.activeElement.blur();
  }
  // An editor left as the original is no rewrite: nothing is sent for it.
  function dropUnchangedRewrite(f) {
    const section = f.querySelector("[data-rewrite]");
    if (!section || !window.ArbiterWordDiff) return;
    const editor = section.querySelector("[data-rewrite-editor]");
    const select = section.querySelector("[data-rewrite-target]");
    const original = originals()[select.value];
    const same = (a, b) => a.length === b.length && a.every((t, i) => t.word === b[i].word);
    if (select.value === "" || original === undefined) return;
    if (same(window.ArbiterWordDiff.tokens(original), window.ArbiterWordDiff.tokens(editor.value))) {
      editor.value = "";
      select.value = "";
    }
  }
  document.addEventListener("input", (event) => {
    if (event.target.matches && event.target.matches("[data-rewrite-editor]")) updateDiff();
    if (event.target.matches && event.target.matches("[data-demonstration-editor]")) {
      const count = document.querySelector("[data-demonstration-count]");
      const n = window.ArbiterWordDiff ? window.ArbiterWordDiff.tokens(event.target.value).length : 0;
      if (count) count.textContent = interpolate(ngettext("%(n)s word", "%(n)s words", n), { n }, true);
    }
  });
  document.addEventListener("change", (event) => {
    if (!event.target.matches || !event.target.matches("[data-rewrite-target]")) return;
    const card = form().querySelector(`.card[data-position="${event.target.value}"]`);
    if (card) openEditorIn(card); else cancelRewrite();
  });

  function toggleGuidelines() {
    const dialog = document.getElementById("guidelines");
    if (!dialog) return;
    if (dialog.open) dialog.close(); else dialog.showModal();
    document.getElementById("guidelines-toggle").setAttribute("aria-expanded", String(dialog.open));
  }
  document.addEventListener("click", (event) => {
    if (event.target.id === "guidelines-toggle") toggleGuidelines();
  });

  const common = {
    e: () => startRewrite(),
    s: () => { const b = form() && form().querySelector("[data-skip]"); if (b) b.click(); },
    c: () => { const t = form() && form().querySelector("textarea[name=critique]"); if (t) t.focus(); },
    g: () => toggleGuidelines(),
    Enter: () => { const f = form(); if (f) f.requestSubmit(); },
  };
  const pairwise = {
    ArrowLeft: () => pick("left"), a: () => pick("left"),
    ArrowRight: () => pick("right"), d: () => pick("right"),
    t: () => pick("tie"), x: () => pick("both_bad"),
    1: () => pick("strength-1"), 2: () => pick("strength-2"),
    3: () => pick("strength-3"), 4: () => pick("strength-4"),
  };
  const thumbs = { u: () => pick("up"), n: () => pick("down") };
  const focused = (selector) => document.activeElement && document.activeElement.closest(selector);
  const listwise = {
    ArrowUp: (e) => {
      const item = focused(".rank-item") || rankItems()[0];
      if (!item) return;
      if (e.shiftKey) moveItem(item, -1); else (item.previousElementSibling || item).focus();
    },
    ArrowDown: (e) => {
      const item = focused(".rank-item");
      if (!item) { const first = rankItems()[0]; if (first) first.focus(); return; }
      if (e.shiftKey) moveItem(item, 1); else (item.nextElementSibling || item).focus();
    },
    "=": () => {
      const item = focused(".rank-item");
      if (item && item.previousElementSibling) {
        item.dataset.tied = String(item.dataset.tied !== "true");
        renumber();
        announceRank(item);
      }
    },
    n: () => { const box = form().querySelector("input[name=not_rankable]"); box.checked = !box.checked; },
  };
  const principles = {
    ArrowUp: () => { const list = rows(); const row = focused(".principle-row"); focusRow(list[Math.max(0, list.indexOf(row) - 1)]); },
    ArrowDown: () => { const list = rows(); const row = focused(".principle-row"); focusRow(list[row ? list.indexOf(row) + 1 : 0] || row); },
    y: () => answerRow("yes"), n: () => answerRow("no"), a: () => answerRow("na"),
    q: () => quoteSelection(),
  };

  const demonstration = {
    w: () => { const t = form().querySelector("[data-demonstration-editor]"); if (t) t.focus(); },
  };

  function keymapFor(f) {
    const kind = f.dataset.kind;
    if (kind === "demonstration") return demonstration;
    if (kind === "listwise") return listwise;
    if (kind === "principles") return principles;
    if (kind === "thumbs" || f.querySelector("input[data-key=up]")) return thumbs;
    return pairwise;
  }

  document.addEventListener("keydown", (event) => {
    const inForm = event.target.closest && event.target.closest("form.judge");
    if (inForm && event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.matches("textarea")) {
      // Enter types a new line in a text area; Ctrl+Enter submits from inside it.
      event.preventDefault();
      inForm.requestSubmit();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const typing = event.target.closest && event.target.closest("textarea, input[type=text], input[type=number], select");
    if (typing) {
      if (event.key === "Escape" && event.target.matches("[data-rewrite-editor]")) { event.preventDefault(); cancelRewrite(); return; }
      if (event.key === "Escape") event.target.blur();
      return;  // typing a critique or a quote must not trigger shortcuts
    }
    const dialog = document.getElementById("guidelines");
    if (dialog && dialog.open && event.key.toLowerCase() !== "g") return;
    const f = form();
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    const action = (f && keymapFor(f)[key]) || common[key];
    if (!action) return;
    event.preventDefault();
    action(event);
  });

  document.addEventListener("DOMContentLoaded", () => { focusFirst(); announceTask(); });
})();
