// spool admin: small progressive enhancements. Every page works without
// this script; it only refreshes the dashboard in place, asks before
// destructive actions, and ticks every checkbox of a list at once.
(function () {
  "use strict";

  // Auto-refresh: an element with data-refresh-url has its content replaced
  // by a fresh server-rendered fragment every data-refresh-ms.
  var live = document.querySelector("[data-refresh-url]");
  if (live && window.fetch) {
    var url = live.getAttribute("data-refresh-url");
    var every = parseInt(live.getAttribute("data-refresh-ms"), 10) || 5000;
    var busy = false;
    var refresh = function () {
      if (busy || document.hidden) return;
      busy = true;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) {
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.text();
        })
        .then(function (html) {
          live.innerHTML = html;
          live.classList.remove("stale");
        })
        .catch(function () { live.classList.add("stale"); })
        .then(function () { busy = false; });
    };
    setInterval(refresh, every);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) refresh();
    });
  }

  // Confirmation for buttons with data-confirm.
  document.addEventListener("click", function (e) {
    var b = e.target.closest ? e.target.closest("[data-confirm]") : null;
    if (b && !window.confirm(b.getAttribute("data-confirm"))) e.preventDefault();
  });

  // "Select all" checkbox of a list.
  document.addEventListener("change", function (e) {
    var all = e.target;
    if (!all.hasAttribute || !all.hasAttribute("data-select-all")) return;
    var form = all.form || document;
    form.querySelectorAll('input[type=checkbox][name=ids]').forEach(function (c) {
      c.checked = all.checked;
    });
  });
})();
