// The arena page, keyboard first: Enter sends the message; when both answers are in, a / b / t / x
// pick the verdict, 1-4 its strength, Shift+A / Shift+B the answer to continue from, Enter votes,
// and r reveals the models. The battle (#arena) is swapped by htmx after each action and polls
// itself while a worker writes a reply.
(function () {
  "use strict";
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "4..", swap: true, error: false },
    { code: "...", swap: false, error: true },
  ];

  const CHOICES = { a: "A", b: "B", t: "tie", x: "both_bad" };
  const pick = (form, name, value) => {
    const input = form.querySelector(`input[name="${name}"][value="${value}"]`);
    if (input) input.checked = true;
  };
  const focusComposer = () => {
    const input = document.getElementById("arena-input");
    if (input) input.focus();
  };

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target && target.id === "arena-input") {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        const form = target.form;
        if (form && target.value.trim()) form.requestSubmit();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT") && target.type !== "radio") return;
    const vote = document.querySelector("form.arena-vote-form");
    const key = event.key;
    if (vote && event.shiftKey && (key === "A" || key === "B")) {
      pick(vote, "continue_with", key);
    } else if (vote && CHOICES[key]) {
      pick(vote, "choice", CHOICES[key]);
    } else if (vote && /^[1-4]$/.test(key)) {
      const strengths = vote.querySelectorAll('input[name="strength"]');
      strengths[Number(key) - 1].checked = true;
    } else if (vote && key === "Enter") {
      vote.requestSubmit();
    } else if (key === "r" && document.querySelector("[data-reveal]")) {
      document.querySelector("form.arena-reveal").requestSubmit();
    } else {
      return;
    }
    event.preventDefault();
  });

  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target && event.detail.target.id === "arena") focusComposer();
  });
  document.addEventListener("DOMContentLoaded", focusComposer);
})();
