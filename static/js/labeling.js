// Keyboard shortcuts and time-on-task for the labeling page. The panel is swapped by htmx
// after every answer, so everything here looks the form up afresh on each key.
(function () {
  "use strict";
  // Show the server's 4xx answers (a validation message, an expired lease) in the panel.
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "4..", swap: true, error: false },
    { code: "...", swap: false, error: true },
  ];

  let shownAt = performance.now();
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target.id === "panel") shownAt = performance.now();
  });

  const form = () => document.querySelector("form.judge");
  const pick = (key) => {
    const input = form() && form().querySelector(`input[data-key="${key}"]`);
    if (input) {
      input.checked = true;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
  };

  // Outline the response the annotator picked, so the choice is visible where they read.
  document.addEventListener("change", (event) => {
    if (event.target.name !== "choice") return;
    const key = event.target.dataset.key;
    document.querySelectorAll("form.judge .response").forEach((card) => {
      const side = card.dataset.side === "0" ? "left" : "right";
      card.classList.toggle("chosen", side === key);
    });
  });

  document.addEventListener("submit", (event) => {
    const target = event.target;
    if (target.matches && target.matches("form.judge")) {
      target.querySelector('input[name="duration_ms"]').value = Math.round(performance.now() - shownAt);
    }
  }, true);
  document.body.addEventListener("htmx:configRequest", (event) => {
    const f = event.detail.elt.closest ? event.detail.elt.closest("form.judge") : null;
    if (f) event.detail.parameters.duration_ms = Math.round(performance.now() - shownAt);
  });

  const keymap = {
    ArrowLeft: () => pick("left"), a: () => pick("left"),
    ArrowRight: () => pick("right"), d: () => pick("right"),
    t: () => pick("tie"), x: () => pick("both_bad"),
    1: () => pick("strength-1"), 2: () => pick("strength-2"),
    3: () => pick("strength-3"), 4: () => pick("strength-4"),
    s: () => { const b = form() && form().querySelector("[data-skip]"); if (b) b.click(); },
    c: () => { const t = form() && form().querySelector("textarea[name=critique]"); if (t) t.focus(); },
    g: () => toggleGuidelines(),
    Enter: () => { const f = form(); if (f) f.requestSubmit(); },
  };

  function toggleGuidelines() {
    const dialog = document.getElementById("guidelines");
    if (!dialog) return;
    if (dialog.open) dialog.close(); else dialog.showModal();
    document.getElementById("guidelines-toggle").setAttribute("aria-expanded", String(dialog.open));
  }
  document.addEventListener("click", (event) => {
    if (event.target.id === "guidelines-toggle") toggleGuidelines();
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const typing = event.target.closest && event.target.closest("textarea, input[type=text]");
    if (typing) {
      if (event.key === "Escape") event.target.blur();
      return;  // Enter inside a critique must not submit before the annotator is done
    }
    const action = keymap[event.key] || keymap[event.key.toLowerCase && event.key.toLowerCase()];
    if (!action || (document.getElementById("guidelines") || {}).open && event.key !== "g") return;
    event.preventDefault();
    action();
  });
})();
