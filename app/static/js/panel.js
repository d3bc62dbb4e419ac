// Stockgate panel behaviour. A static file so the CSP can forbid inline script and eval.
// Everything is a delegated listener: fragments that htmx swaps in need no set-up.
(function () {
  "use strict";

  var GENERIC = {
    400: "The request was refused. Reload the page and try again.",
    403: "You are not allowed to do that.",
    404: "That item no longer exists. Reload the page.",
    409: "That change conflicts with the current state. Reload the page.",
    429: "Too many requests. Wait a moment and try again.",
  };

  function flash(message) {
    var area = document.getElementById("flash");
    if (!area) return;
    area.textContent = message;
    area.hidden = false;
  }

  function clearFlash() {
    var area = document.getElementById("flash");
    if (area && !area.hidden) {
      area.hidden = true;
      area.textContent = "";
    }
  }

  function messageFor(xhr) {
    var type = xhr.getResponseHeader("Content-Type") || "";
    var text = (xhr.responseText || "").trim();
    // Our own error responses are one line of plain text; anything else gets a generic line.
    if (type.indexOf("text/plain") === 0 && text && text.length <= 300) return text;
    if (GENERIC[xhr.status]) return GENERIC[xhr.status];
    if (xhr.status >= 500) return "Something went wrong on the server (" + xhr.status + "). Try again.";
    return "The request failed (" + xhr.status + ").";
  }

  document.addEventListener("htmx:beforeRequest", clearFlash);
  document.addEventListener("htmx:responseError", function (event) {
    flash(messageFor(event.detail.xhr));
  });
  document.addEventListener("htmx:sendError", function () {
    flash("Could not reach the server. Check your connection and try again.");
  });

  // "Select All": ticks every ability of its form; kept in step with the single boxes.
  function abilityBoxes(scope) {
    return Array.prototype.slice.call(scope.querySelectorAll('input[type="checkbox"][name="abilities"]'));
  }

  function syncSelectAll(scope) {
    var all = scope.querySelector("[data-select-all]");
    if (!all) return;
    var boxes = abilityBoxes(scope);
    var ticked = boxes.filter(function (b) { return b.checked; }).length;
    all.checked = boxes.length > 0 && ticked === boxes.length;
    all.indeterminate = ticked > 0 && ticked < boxes.length;
  }

  // Capture phase: the boxes are ticked before the event reaches the fieldset, whose htmx
  // access preview (hx-trigger="change") then reads them, so Select All's own change event
  // updates the preview with every box ticked: one request, never a stale one.
  document.addEventListener("change", function (event) {
    var target = event.target;
    var scope = target.closest && target.closest("fieldset.abilities");
    if (!scope) return;
    if (target.hasAttribute("data-select-all")) {
      abilityBoxes(scope).forEach(function (b) { b.checked = target.checked; });
    }
    syncSelectAll(scope);
  }, true);

  function syncAll(root) {
    Array.prototype.forEach.call((root || document).querySelectorAll("fieldset.abilities"), syncSelectAll);
  }

  document.addEventListener("htmx:load", function (event) { syncAll(event.target); });
  document.addEventListener("DOMContentLoaded", function () { syncAll(document); });

  // Expires At: the date input is enabled only with "On a date and time" chosen (CSS hides it
  // otherwise), so a hidden date is neither sent nor reached with Tab.
  function syncExpiry(group) {
    var onDate = group.querySelector('input[type="radio"][value="date"]');
    var date = group.querySelector('input[type="datetime-local"]');
    if (date) date.disabled = !(onDate && onDate.checked);
  }

  document.addEventListener("change", function (event) {
    var group = event.target.closest && event.target.closest("[data-expiry]");
    if (group && event.target.type === "radio") syncExpiry(group);
  });

  function syncExpiries(root) {
    Array.prototype.forEach.call((root || document).querySelectorAll("[data-expiry]"), syncExpiry);
  }

  document.addEventListener("htmx:load", function (event) { syncExpiries(event.target); });
  document.addEventListener("DOMContentLoaded", function () { syncExpiries(document); });

  // An inline error goes as soon as its field changes (SPEC §7): the field loses its invalid
  // marks and its error text, and nothing refers to the removed text any more. The server
  // checks everything again on submit.
  function clearErrors(field) {
    var removed = [];
    Array.prototype.forEach.call(field.querySelectorAll(".field__error"), function (error) {
      if (error.id) removed.push(error.id);
      error.remove();
    });
    var marked = [field].concat(Array.prototype.slice.call(field.querySelectorAll("*")));
    marked.forEach(function (el) {
      el.classList.remove("field--invalid");
      el.removeAttribute("aria-invalid");
      var described = el.getAttribute("aria-describedby");
      if (!described) return;
      var kept = described.split(/\s+/).filter(function (id) { return removed.indexOf(id) < 0; });
      if (kept.length) el.setAttribute("aria-describedby", kept.join(" "));
      else el.removeAttribute("aria-describedby");
    });
  }

  function fieldChanged(event) {
    var field = event.target.closest && event.target.closest(".field");
    if (!field || !field.closest("form")) return;
    if (field.classList.contains("field--invalid") || field.querySelector(".field--invalid, .field__error")) {
      clearErrors(field);
    }
  }

  document.addEventListener("input", fieldChanged);
  document.addEventListener("change", fieldChanged);

  // Copy the new key to the clipboard (falls back to selecting it for Ctrl+C).
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var field = document.querySelector(button.getAttribute("data-copy"));
    if (!field) return;
    var status = button.closest("section, form, div").parentNode.querySelector("[data-copy-status]");
    function done(message) { if (status) status.textContent = message; }
    field.select();
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(field.value).then(
        function () { button.textContent = "Copied"; done("Copied to the clipboard."); },
        function () { done("Copying was blocked: the key is selected, press Ctrl+C (⌘C)."); }
      );
    } else {
      done("The key is selected: press Ctrl+C (⌘C) to copy it.");
    }
  });

  // Cancel / Done: empty the slot the form or the new key was shown in.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-dismiss]");
    if (!button) return;
    event.preventDefault();
    var slot = document.querySelector(button.getAttribute("data-dismiss"));
    if (slot) slot.replaceChildren();
    var opener = document.querySelector("[hx-target='" + button.getAttribute("data-dismiss") + "']");
    if (opener) opener.focus();
  });

  // The key's page calls the list's row actions, whose answer is a table row it has no place
  // for: after a success it reloads itself instead (a failure is flashed as above).
  document.addEventListener("htmx:afterRequest", function (event) {
    var source = event.detail.elt;
    if (source && source.hasAttribute && source.hasAttribute("data-reload") && event.detail.successful) {
      window.location.reload();
    }
  });

  // After showing a form, an editor or a new key, move focus there (first invalid field
  // first). Search and paging swaps leave focus alone, so typing is never interrupted.
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (!target || !target.id || target.id === "key-table") return;
    var scope = target.isConnected ? target : document.getElementById(target.id);
    if (!scope && target.id === "key-form") scope = document.getElementById("key-created");
    if (!scope) return;
    var isForm = scope.id === "key-form-slot" || scope.id === "key-form" || scope.id === "key-created" ||
      scope.classList.contains("key-row--editing");
    if (!isForm) return;
    var el = scope.querySelector("[aria-invalid='true']") || scope.querySelector("#new-key") ||
      scope.querySelector("input:not([type=hidden]):not([data-select-all]), select");
    if (el) el.focus();
  });
})();
