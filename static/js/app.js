// Small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // The catalog filter: hide tiles whose name does not match, as you type. Without this
  // script the same form submits ?q= and the server filters.
  function setUpCatalogFilter() {
    var form = document.querySelector("[data-catalog-filter]");
    if (!form) return;
    var input = form.querySelector("input[type=search]");
    var count = document.getElementById("catalog-count");
    var submit = form.querySelector("[data-filter-submit]");
    if (submit) submit.hidden = true;
    var total = count ? Number(count.getAttribute("data-total")) : 0;

    function apply() {
      var query = input.value.trim().toLowerCase();
      var shown = 0;
      document.querySelectorAll("[data-catalog-group]").forEach(function (group) {
        var inGroup = 0;
        group.querySelectorAll("[data-catalog-tile]").forEach(function (tile) {
          var match = !query || tile.getAttribute("data-name").indexOf(query) !== -1;
          tile.hidden = !match;
          if (match) inGroup += 1;
        });
        group.hidden = inGroup === 0;
        shown += inGroup;
      });
      var none = document.querySelector("[data-catalog-none]");
      if (none) none.hidden = shown !== 0;
      if (count) {
        count.textContent = query ? shown + " of " + total + " connectors match \u201c" + input.value.trim() + "\u201d." : total + " connectors";
      }
      var url = new URL(window.location.href);
      if (query) url.searchParams.set("q", input.value.trim()); else url.searchParams.delete("q");
      window.history.replaceState(null, "", url);
    }

    form.addEventListener("submit", function (event) { event.preventDefault(); apply(); });
    input.addEventListener("input", apply);
  }

  // Copy buttons beside one-time secrets.
  function setUpCopyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var field = document.querySelector(button.getAttribute("data-copy"));
        if (!field) return;
        field.select();
        var done = function () {
          var label = button.textContent;
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = label; }, 1500);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
        } else {
          document.execCommand("copy");
          done();
        }
      });
    });
  }

  // Selects that submit their form on change (the workspace switcher); a button stays in <noscript>.
  function setUpAutosubmit() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  }

  // The OAuth result lives in the query string: drop it so a reload does not repeat the message.
  function forgetOAuthResult() {
    if (!document.querySelector("[data-oauth-result]")) return;
    var url = new URL(window.location.href);
    ["connected", "connection_error", "connection_id", "already_connected"].forEach(function (name) {
      url.searchParams.delete(name);
    });
    window.history.replaceState(null, "", url);
  }

  // Links styled as buttons answer the Space key too, as a button would.
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key === " " && target.matches && target.matches('a[role="button"]')) {
      event.preventDefault();
      target.click();
    }
  });

  // htmx 2 does not swap 4xx responses. The console answers a refused action (a conflict, a
  // field error) with the re-rendered fragment and its message, marked Vary: HX-Request: swap
  // those. Error pages (404, CSRF) are whole pages and stay out of the fragment.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (!xhr || xhr.status < 400 || xhr.status >= 500) return;
    if (/HX-Request/i.test(xhr.getResponseHeader("Vary") || "")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // After an htmx action swaps in a fragment with a message, move focus to the message so
  // keyboard and screen-reader users learn the outcome of what they just did.
  document.addEventListener("htmx:afterSwap", function (event) {
    var config = event.detail.requestConfig;
    if (!config || config.verb === "get") return;
    // The page-level messages belong to the previous action: the fragment brings its own.
    var old = document.getElementById("flashes");
    if (old) old.innerHTML = "";
    var message = document.querySelector("#connection-detail .flash, #api-keys .flash, #members .flash");
    if (message) {
      message.setAttribute("tabindex", "-1");
      message.focus();
      return;
    }
    // An error shown beside its field (a channel's schedule) and nowhere else: go to the field.
    var invalid = document.querySelector('#connection-detail [aria-invalid="true"]');
    if (invalid) invalid.focus();
  });

  // The Search page swaps only its results: mark the control a refused search is about (the
  // results name it in #search-error), and unmark the others. A whole page comes marked.
  function markSearchField() {
    var form = document.querySelector(".search-form");
    if (!form) return;
    form.querySelectorAll('[aria-invalid="true"]').forEach(function (control) {
      control.removeAttribute("aria-invalid");
      var hint = control.getAttribute("data-hint");
      if (hint) control.setAttribute("aria-describedby", hint); else control.removeAttribute("aria-describedby");
    });
    var error = document.getElementById("search-error");
    var control = error && document.getElementById(error.getAttribute("data-field-input") || "");
    if (!control) return;
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", "search-error");
    var filters = control.closest("details");
    if (filters) filters.open = true;
  }
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "search-results") markSearchField();
  });
  // A link to a fieldset (the sources) focuses its first control.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest('#search-error a[href^="#"]');
    if (!link) return;
    var target = document.getElementById(link.getAttribute("href").slice(1));
    if (!target) return;
    event.preventDefault();
    var details = target.closest("details");
    if (details) details.open = true;
    (target.matches("fieldset") ? target.querySelector("input, select") : target).focus();
  });

  // The audit log's CSV link follows the filter form as it is typed into: a person who types a
  // filter and goes straight to Download CSV gets the CSV of what they typed, not of the list
  // shown before (the list refreshes only once they leave the field). It shows while the list
  // has entries (none, or a refused filter: nothing to download).
  function auditCsvFollowsTheForm() {
    var form = document.querySelector("form.audit-filters");
    var link = document.getElementById("audit-csv");
    if (!form || !link) return;
    link.hidden = !document.querySelector("#audit-entries tbody tr");
    var url = new URL(link.getAttribute("href"), window.location.href);
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, name) {
      var text = String(value).trim();
      if (text) params.append(name, text);
    });
    url.search = params.toString();
    link.setAttribute("href", url.pathname + url.search);
  }
  document.addEventListener("input", function (event) {
    if (event.target.closest && event.target.closest("form.audit-filters")) auditCsvFollowsTheForm();
  });
  document.addEventListener("change", function (event) {
    if (event.target.closest && event.target.closest("form.audit-filters")) auditCsvFollowsTheForm();
  });
  document.addEventListener("htmx:afterSwap", auditCsvFollowsTheForm);

  document.addEventListener("DOMContentLoaded", function () {
    // Forms that apply as they change (htmx) hide the button a page without JavaScript needs.
    if (window.htmx) document.documentElement.classList.add("htmx-on");
    setUpCatalogFilter();
    setUpCopyButtons();
    setUpAutosubmit();
    forgetOAuthResult();
  });
})();
