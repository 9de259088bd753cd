// spool admin: small progressive enhancements. Every page works without
// this script; it only refreshes the live parts of a page in place, asks before
// destructive actions, ticks every checkbox of a list at once, and shows
// times in the browser's zone when asked.
(function () {
  "use strict";

  // The live parts as the server sent them, before anything below changes
  // them (local times): a refresh that brings the same markup swaps
  // nothing.
  document.querySelectorAll("[data-live]").forEach(function (p) { p.spoolHTML = p.outerHTML; });

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

  // Live refresh: <main data-refresh-url> names the page's fragment, its
  // live parts (elements with data-live) alone, rendered by the server.
  // Every data-refresh-ms the script fetches it and swaps each part in
  // place, keeping what the operator did: ticked checkboxes (by value, a
  // job's ID), open <details>, the page's and the tables' scroll; a part
  // whose markup did not change is left alone. It does not refresh while a
  // confirmation is open, a form is being sent, a click is in progress, a
  // text field or a select has the focus, a key was pressed in the last
  // few seconds, text is selected in a live part, or the tab is hidden; and
  // never while the operator has paused it with the live toggle (kept in
  // localStorage).
  var main = document.querySelector("main[data-refresh-url]");
  var liveToggle = document.getElementById("live-toggle");
  if (main && window.fetch && window.DOMParser) {
    var url = main.getAttribute("data-refresh-url");
    var every = parseInt(main.getAttribute("data-refresh-ms"), 10) || 5000;
    var busy = false, confirming = false, sending = false, pressedAt = 0, lastKey = 0, failed = false;
    var paused = false;
    try { paused = window.localStorage.getItem("spool-admin-live") === "paused"; } catch (e) { /* private mode */ }
    var showToggle = function () {
      if (!liveToggle) return;
      liveToggle.hidden = false;
      liveToggle.textContent = paused ? "paused" : (failed ? "live · refresh failed" : "live");
      liveToggle.classList.toggle("paused", paused);
      liveToggle.classList.toggle("stale", failed && !paused);
      liveToggle.setAttribute("aria-pressed", paused ? "false" : "true");
      liveToggle.title = paused ? "Refreshing is paused; click to refresh this page live again"
        : "This page refreshes every " + Math.round(every / 1000) + "s; click to pause";
    };
    var TYPING = "input:not([type=checkbox]):not([type=radio]):not([type=submit]):not([type=button]):not([type=reset]), select, textarea, [contenteditable]";
    var quiet = function () {
      if (paused || confirming || sending || document.hidden) return false;
      if (pressedAt && Date.now() - pressedAt < 5000) return false;
      var a = document.activeElement;
      if (a && a.matches && a.matches(TYPING)) return false;
      if (Date.now() - lastKey < 3000) return false;
      var sel = window.getSelection ? window.getSelection() : null;
      if (sel && !sel.isCollapsed && sel.anchorNode) {
        var el = sel.anchorNode.nodeType === 1 ? sel.anchorNode : sel.anchorNode.parentElement;
        if (el && el.closest && el.closest("[data-live]")) return false;
      }
      return true;
    };
    // What the operator did in the live parts, to put back after a swap.
    // A <details> is known by the row it is in (a job's ID, an event's
    // seq, an attempt's number: rows come and go above it) and its place
    // in that row.
    var detailsKey = function (d) {
      var row = d.closest("[data-id], [data-seq], [data-attempt]");
      var scope = row || d.closest("[data-live]");
      var all = scope.querySelectorAll("details");
      var i = Array.prototype.indexOf.call(all, d);
      var name = "";
      if (row) {
        name = row.hasAttribute("data-id") ? row.getAttribute("data-id")
          : row.hasAttribute("data-seq") ? "s" + row.getAttribute("data-seq") : "a" + row.getAttribute("data-attempt");
      }
      return name + ":" + i;
    };
    var SCROLLERS = ".scroll, .table-wrap, pre";
    var keep = function (part) {
      var st = { ticked: {}, all: false, open: {}, scroll: [] };
      part.querySelectorAll("input[type=checkbox][name=ids]:checked").forEach(function (c) { st.ticked[c.value] = true; });
      var all = part.querySelector("input[data-select-all]");
      st.all = !!(all && all.checked);
      part.querySelectorAll("details[open]").forEach(function (d) { st.open[detailsKey(d)] = true; });
      part.querySelectorAll(SCROLLERS).forEach(function (el) { st.scroll.push([el.scrollLeft, el.scrollTop]); });
      return st;
    };
    var restore = function (part, st) {
      var boxes = part.querySelectorAll("input[type=checkbox][name=ids]");
      var allTicked = boxes.length > 0;
      boxes.forEach(function (c) {
        c.checked = !!st.ticked[c.value];
        allTicked = allTicked && c.checked;
      });
      var all = part.querySelector("input[data-select-all]");
      if (all) all.checked = st.all && allTicked;
      part.querySelectorAll("details").forEach(function (d) { if (st.open[detailsKey(d)]) d.open = true; });
      part.querySelectorAll(SCROLLERS).forEach(function (el, i) {
        if (st.scroll[i]) { el.scrollLeft = st.scroll[i][0]; el.scrollTop = st.scroll[i][1]; }
      });
    };
    var swap = function (html) {
      var doc = new DOMParser().parseFromString("<!doctype html><body>" + html, "text/html");
      var x = window.scrollX, y = window.scrollY;
      doc.querySelectorAll("[data-live]").forEach(function (fresh) {
        var name = fresh.getAttribute("data-live");
        var part = main.querySelector('[data-live="' + name + '"]');
        if (!part) return;
        var markup = fresh.outerHTML;
        if (markup === part.spoolHTML) return; // nothing changed
        var st = keep(part);
        fresh = document.importNode(fresh, true);
        fresh.spoolHTML = markup;
        part.replaceWith(fresh);
        restore(fresh, st);
        if (localTime) showTimes(fresh, true);
      });
      window.scrollTo(x, y);
    };
    // data-refresh-held on <main> counts the refreshes held back since the
    // last swap (tests wait on it instead of on time).
    var held = 0;
    var hold = function () {
      held++;
      main.setAttribute("data-refresh-held", String(held));
    };
    var refresh = function () {
      if (busy) return;
      if (!quiet()) { hold(); return; }
      busy = true;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) {
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.text();
        })
        .then(function (html) {
          // The operator may have started something while it loaded.
          if (quiet()) {
            swap(html);
            held = 0;
            main.setAttribute("data-refresh-held", "0");
          } else {
            hold();
          }
          failed = false;
        })
        .catch(function () { failed = true; })
        .then(function () {
          busy = false;
          main.querySelectorAll("[data-live]").forEach(function (p) { p.classList.toggle("stale", failed); });
          showToggle();
        });
    };
    setInterval(refresh, every);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) refresh();
    });
    document.addEventListener("keydown", function () { lastKey = Date.now(); }, true);
    // A click in progress (pressed, not yet released; at most 5 s, in
    // case the release happened outside the page).
    document.addEventListener("pointerdown", function () { pressedAt = Date.now(); }, true);
    document.addEventListener("pointerup", function () { pressedAt = 0; }, true);
    document.addEventListener("pointercancel", function () { pressedAt = 0; }, true);
    document.addEventListener("submit", function () { sending = true; }, true);
    if (liveToggle) {
      liveToggle.addEventListener("click", function () {
        paused = !paused;
        try { window.localStorage.setItem("spool-admin-live", paused ? "paused" : "live"); } catch (e) { /* private mode */ }
        showToggle();
        if (!paused) refresh();
      });
    }
    showToggle();
  }

  // Confirmation for buttons with data-confirm.
  // While it is open no refresh swaps the page (see confirming above).
  document.addEventListener("click", function (e) {
    var b = e.target.closest ? e.target.closest("[data-confirm]") : null;
    if (!b) return;
    confirming = true;
    var ok = window.confirm(b.getAttribute("data-confirm"));
    confirming = false;
    if (!ok) e.preventDefault();
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
