// The worker's answer page: keys 1–9 pick an option, Enter submits, transcription rows can be
// added (up to the limit) and removed, and the lease clock counts down. No inline scripts: the
// Content-Security-Policy allows only files from our origin.
(function () {
  "use strict";
  var form = document.querySelector("[data-answer-form]");
  if (!form) return;

  function typing(el) {
    if (!el || !el.tagName) return false;
    var tag = el.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select" || el.isContentEditable) return true;
    if (tag !== "input") return false;
    return ["radio", "checkbox", "submit", "button", "hidden"].indexOf(el.type) < 0;
  }

  // One submission per page: a double press must not send the answer twice.
  form.addEventListener("submit", function (event) {
    if (form.dataset.sent) { event.preventDefault(); return; }
    form.dataset.sent = "1";
  });

  function submit() {
    var button = form.querySelector("[data-submit]");
    if (form.requestSubmit) form.requestSubmit(button); else button.click();
  }

  document.addEventListener("keydown", function (event) {
    // Enter in the skip note skips with the reason; it must not send the answer.
    if (event.key === "Enter" && event.target && event.target.matches && event.target.matches("[data-skip-note]")) {
      event.preventDefault();
      form.querySelector("[data-skip-reason]").click();
      return;
    }
    if (event.altKey || event.metaKey && event.key !== "Enter") return;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submit();
      return;
    }
    if (event.ctrlKey || typing(event.target)) return;
    if (event.key === "Enter") {
      var tag = event.target && event.target.tagName ? event.target.tagName.toLowerCase() : "";
      if (tag === "button" || tag === "a") return;  // their own Enter behaviour
      event.preventDefault();
      submit();
      return;
    }
    if (event.key >= "1" && event.key <= "9") {
      var group = form.querySelector("[data-shortcuts]");
      if (!group) return;
      var options = group.querySelectorAll("input[type=radio], input[type=checkbox]");
      var option = options[Number(event.key) - 1];
      if (!option) return;
      event.preventDefault();
      option.checked = option.type === "checkbox" ? !option.checked : true;
      option.focus();
      option.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });

  // Transcription rows.
  var table = form.querySelector("[data-row-table]");
  if (table) {
    var body = table.querySelector("[data-rows]");
    var template = form.querySelector("[data-row-template]");
    var addButton = form.querySelector("[data-add-row]");
    var counter = form.querySelector("[data-row-count]");
    var maxRows = Number(table.dataset.maxRows) || 10;
    var nextIndex = 0;
    body.querySelectorAll("input[name^=row-]").forEach(function (input) {
      var n = Number(input.name.split("-")[1]);
      if (n >= nextIndex) nextIndex = n + 1;
    });

    var refresh = function () {
      var rows = body.querySelectorAll("[data-row]");
      rows.forEach(function (row, i) { row.querySelector(".row-number").textContent = String(i + 1); });
      addButton.disabled = rows.length >= maxRows;
      counter.textContent = rows.length + " of " + maxRows + " rows";
    };

    addButton.addEventListener("click", function () {
      if (body.querySelectorAll("[data-row]").length >= maxRows) return;
      var row = template.content.firstElementChild.cloneNode(true);
      var index = nextIndex++;
      row.querySelectorAll("input[data-cell]").forEach(function (input) {
        input.name = "row-" + index + "-" + input.dataset.cell;
      });
      body.appendChild(row);
      refresh();
      var first = row.querySelector("input");
      if (first) first.focus();
    });

    body.addEventListener("click", function (event) {
      var button = event.target.closest("[data-remove-row]");
      if (!button) return;
      button.closest("[data-row]").remove();
      refresh();
    });
    refresh();
  }

  // The lease clock: counts down from the server's figure (no reliance on the local clock's date).
  var lease = document.querySelector("[data-lease]");
  if (lease) {
    var clock = lease.querySelector("[data-lease-clock]");
    var deadline = Date.now() + Number(lease.dataset.secondsLeft) * 1000;
    var tick = function () {
      var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      var seconds = left % 60;
      clock.textContent = Math.floor(left / 60) + ":" + (seconds < 10 ? "0" : "") + seconds;
      lease.classList.toggle("low", left <= 60);
      if (left === 0) {
        lease.classList.add("expired");
        clock.textContent = "time is up — the task may go to someone else";
        return;
      }
      window.setTimeout(tick, 1000);
    };
    tick();
  }
})();
