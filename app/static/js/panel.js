// Stockgate panel: only what htmx cannot do. A static file so the CSP can forbid inline script
// and eval. Errors, reloads, focus and closing forms are htmx's (HX-Retarget, HX-Refresh,
// autofocus, swaps); this file keeps Select All, the Copy buttons, and the two moments when
// there is no response to swap. Every listener is delegated: swapped-in fragments need no set-up.
(function () {
  "use strict";

  // The alert area: a stale message goes when the next request starts; a request that never
  // reached the server shows the layout's offline message.
  function flashArea() { return document.getElementById("flash"); }
  document.addEventListener("htmx:beforeRequest", function () {
    var area = flashArea();
    if (area) area.replaceChildren();
  });
  document.addEventListener("htmx:sendError", function () {
    var area = flashArea();
    var message = document.getElementById("offline-message");
    if (area && message) area.replaceChildren(message.content.cloneNode(true));
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

  // Copy: the new key (an input's value) or a command (an element's text) to the clipboard;
  // where that is refused, the key is selected for Ctrl+C.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var card = button.closest("section, form") || document;
    var status = card.querySelector("[data-copy-status]");
    function done(message) { if (status) status.textContent = message; }
    var text = "value" in source ? source.value : source.textContent;
    if (source.select) source.select();
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(
        function () { button.textContent = "Copied"; done("Copied to the clipboard."); },
        function () { done("Copying was blocked: select the text and press Ctrl+C (⌘C)."); }
      );
    } else {
      done("Select the text and press Ctrl+C (⌘C) to copy it.");
    }
  });
})();
