/* The appendix "What TCP does when..." (see tcpsim/book/when.py and sphinx.py).
 * A link in the table opens its cell below; an opened cell gets its ladder
 * from _static/tcpsim/when-1.js (loaded once, with a script tag, so the page
 * works from file:// too), base64 of gzipped JSON {cell: [svg, ...]}.
 * Words come from window.tcpsimText (tcpsim/book/text.py, "page.when_*"). */
(function () {
  "use strict";
  function t(key) {
    var s = (window.tcpsimText || {})[key];
    return s === undefined ? "[" + key + "]" : s;
  }
  function root() {
    var r = document.documentElement.dataset.content_root;
    if (r !== undefined) return r;
    return (window.DOCUMENTATION_OPTIONS || {}).URL_ROOT || "";
  }
  var data = null, waiting = [];
  function unpack(packed) {
    var bin = atob(packed), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text().then(JSON.parse);
  }
  function load(then) {
    if (data) { then(data); return; }
    waiting.push(then);
    if (waiting.length > 1) return;
    var s = document.createElement("script");
    s.src = root() + "_static/tcpsim/when-1.js";
    s.onload = function () {
      if (typeof window.tcpsimWhen !== "string") { fail(); return; }
      unpack(window.tcpsimWhen).then(function (d) {
        data = d;
        waiting.splice(0).forEach(function (f) { f(d); });
      }, fail);
    };
    s.onerror = fail;
    document.head.appendChild(s);
  }
  function fail() {
    waiting.splice(0);
    document.querySelectorAll(".tcpsim-when-ladder").forEach(function (box) {
      if (!box.dataset.filled) box.innerHTML = '<p class="tcpsim-error" role="alert">' + t("when_missing") + "</p>";
    });
  }
  function fill(cell) {
    var box = cell.querySelector(".tcpsim-when-ladder");
    if (!box || box.dataset.filled) return;
    box.setAttribute("aria-busy", "true");
    load(function (d) {
      var svgs = d[cell.dataset.cell];
      box.innerHTML = svgs ? svgs.map(function (s) { return '<div class="tcpsim-when-svg">' + s + "</div>"; }).join("")
                           : '<p class="tcpsim-error" role="alert">' + t("when_missing") + "</p>";
      box.dataset.filled = "1";
      box.removeAttribute("aria-busy");
    });
  }
  function open(id) {
    var cell = id && document.getElementById(id);
    if (!cell || !cell.classList.contains("tcpsim-when-cell")) return;
    cell.open = true;
    fill(cell);
  }
  function start() {
    var tables = document.querySelectorAll(".tcpsim-when");
    if (!tables.length) return;
    document.querySelectorAll(".tcpsim-when-cell").forEach(function (cell) {
      cell.addEventListener("toggle", function () { if (cell.open) fill(cell); });
    });
    document.querySelectorAll(".tcpsim-when-table a[href^='#when-']").forEach(function (a) {
      a.addEventListener("click", function () { open(a.getAttribute("href").slice(1)); });
    });
    window.addEventListener("hashchange", function () { open(location.hash.slice(1)); });
    open(location.hash.slice(1));
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
