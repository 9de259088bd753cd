// spool admin: small progressive enhancements. Every page works without
// this script; it only refreshes the dashboard in place, asks before
// destructive actions, ticks every checkbox of a list at once, and shows
// times in the browser's zone when asked.
(function () {
  "use strict";

  // Local time: the page shows times in UTC ("2026-03-02 14:30:42.000
  // UTC"); the toggle in the footer shows them in the browser's zone
  // instead, with its offset, and back. The choice is kept in localStorage.
  // Only the admin's own times change: text inside payloads, errors, code
  // and chips stays as it is, and a title changes only when it is a time.
  var TS = /(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3}) UTC/g;
  var TS_ONLY = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} UTC$/;
  var SKIP = "pre, code, textarea, script, style, .err, .error-msg, .chip, .callout, .banner, .esc";
  var pad = function (n, w) {
    n = String(n);
    while (n.length < (w || 2)) n = "0" + n;
    return n;
  };
  var offsetName = function (t) {
    var off = -t.getTimezoneOffset();
    var sign = off < 0 ? "\u2212" : "+";
    off = Math.abs(off);
    return "UTC" + sign + pad(Math.floor(off / 60)) + ":" + pad(off % 60);
  };
  var toLocal = function (s) {
    return s.replace(TS, function (m, y, mo, d, h, mi, sec, ms) {
      var t = new Date(Date.UTC(+y, +mo - 1, +d, +h, +mi, +sec, +ms));
      return t.getFullYear() + "-" + pad(t.getMonth() + 1) + "-" + pad(t.getDate()) + " " +
        pad(t.getHours()) + ":" + pad(t.getMinutes()) + ":" + pad(t.getSeconds()) + "." +
        pad(t.getMilliseconds(), 3) + " " + offsetName(t);
    });
  };
  var showTimes = function (root, local) {
    var walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (var n = walk.nextNode(); n; n = walk.nextNode()) {
      if (n.parentElement && n.parentElement.closest(SKIP)) continue;
      if (local && n.spoolUTC === undefined) {
        TS.lastIndex = 0;
        if (!TS.test(n.nodeValue)) continue;
        n.spoolUTC = n.nodeValue;
        n.nodeValue = toLocal(n.nodeValue);
      } else if (!local && n.spoolUTC !== undefined) {
        n.nodeValue = n.spoolUTC;
        n.spoolUTC = undefined;
      }
    }
    root.querySelectorAll("[title]").forEach(function (el) {
      if (el.closest(SKIP)) return;
      if (local && TS_ONLY.test(el.title)) {
        el.setAttribute("data-utc-title", el.title);
        el.title = toLocal(el.title);
      } else if (!local && el.hasAttribute("data-utc-title")) {
        el.title = el.getAttribute("data-utc-title");
        el.removeAttribute("data-utc-title");
      }
    });
  };
  var localTime = false;
  var toggle = document.getElementById("tz-toggle");
  var zone = document.getElementById("tz-name");
  var setLocal = function (on) {
    localTime = on;
    showTimes(document.body, on);
    if (zone) zone.textContent = on ? "local time (" + offsetName(new Date()) + ")" : "UTC";
    if (toggle) {
      toggle.textContent = on ? "Show UTC" : "Show local time";
      toggle.setAttribute("aria-pressed", on ? "true" : "false");
    }
  };
  var stored = function () {
    try { return window.localStorage.getItem("spool-admin-time") === "local"; } catch (e) { return false; }
  };
  if (toggle) {
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      setLocal(!localTime);
      try { window.localStorage.setItem("spool-admin-time", localTime ? "local" : "utc"); } catch (e) { /* private mode */ }
    });
  }
  if (stored()) setLocal(true);

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
          if (localTime) showTimes(live, true);
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
