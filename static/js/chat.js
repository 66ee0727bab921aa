// The chat page: Enter sends, the user's message shows at once with a typing indicator, and
// number keys react to the focused reply. The transcript (#chat) is swapped by htmx after each
// message or retry; a reply that a worker is writing polls itself (hx-trigger="load delay:1s")
// until it is done; reactions swap only their own button row.
(function () {
  // Django's JavaScript catalog (/jsi18n/, loaded by base.html) translates; without it, English.
  const gettext = window.gettext || ((s) => s);
  "use strict";
  // Show the server's 4xx answers (an empty message, a reply still missing) in place.
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "4..", swap: true, error: false },
    { code: "...", swap: false, error: true },
  ];

  const transcript = () => document.getElementById("transcript");
  const composer = () => document.querySelector("form.composer");
  const scrollToEnd = () => {
    const t = transcript();
    if (t) t.scrollTop = t.scrollHeight;
  };

  document.body.addEventListener("htmx:beforeRequest", (event) => {
    const form = event.detail.elt;
    if (!form.matches || !form.matches("form.composer")) return;
    const text = form.querySelector("textarea").value.trim();
    const typing = document.getElementById("typing");
    if (!text || !typing) return;
    // The stored copy replaces this one when the answer is swapped in.
    const pending = document.createElement("article");
    pending.className = "msg msg-user msg-pending";
    pending.dataset.pending = "";
    const body = document.createElement("div");
    body.className = "md user-text";
    body.textContent = text;
    pending.append(body);
    typing.before(pending);
    form.querySelector("textarea").readOnly = true;
    scrollToEnd();
  });

  document.body.addEventListener("htmx:afterRequest", (event) => {
    const status = event.detail.xhr.status;
    if (event.detail.successful || (status >= 400 && status < 500)) return;
    // Arbiter itself failed or could not be reached: keep the draft, say so.
    document.querySelectorAll("[data-pending]").forEach((el) => el.remove());
    const form = composer();
    if (form) form.querySelector("textarea").readOnly = false;
    const chat = document.getElementById("chat");
    if (chat && !chat.querySelector("[data-network-error]")) {
      const p = document.createElement("p");
      p.className = "error";
      p.setAttribute("role", "alert");
      p.dataset.networkError = "";
      p.textContent = gettext("Arbiter could not be reached or failed; reload the page to see what was stored.");
      chat.prepend(p);
    }
  });

  document.body.addEventListener("htmx:afterSwap", (event) => {
    // The whole transcript, or one polled reply that a worker has just finished.
    const target = event.detail.target;
    if (target.id !== "chat" && !(target.matches && target.matches("article.msg"))) return;
    scrollToEnd();
    const form = composer();
    if (form && !form.querySelector("button[type=submit]").disabled) form.querySelector("textarea").focus();
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const textarea = event.target.closest && event.target.closest("form.composer textarea");
    if (textarea) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        const form = textarea.form;
        const button = form.querySelector("button[type=submit]");
        if (textarea.value.trim() && !button.disabled && !textarea.readOnly) form.requestSubmit(button);
      }
      return;
    }
    const reply = event.target.closest && event.target.closest("article.msg-assistant");
    if (!reply || !/^[1-9]$/.test(event.key)) return;
    const buttons = reply.querySelectorAll("form.reactions button.reaction");
    const button = buttons[Number(event.key) - 1];
    if (!button) return;
    event.preventDefault();
    button.click();
  });

  scrollToEnd();
})();
