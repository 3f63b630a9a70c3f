/* Kernel-free drop-a-packet panels (see tcpsim/book/sphinx.py).
 * Each .tcpsim-live element carries its panel id; the pre-rendered runs are
 * in _static/tcpsim/panel-<id>.js, loaded with a script tag.  A toggle swaps
 * the ladder, the state diagram and the trace table for the stored ones.
 * Every word shown comes from tcpsim/book/text.py: the page carries its
 * "page.*" templates as window.tcpsimText, and t() fills in their {fields}. */
(function () {
  "use strict";
  function t(key, fields) {
    var template = (window.tcpsimText || {})[key];
    if (template === undefined) {
      if (window.console) console.error("tcpsim: no text " + JSON.stringify(key) + " in window.tcpsimText");
      return "[" + key + "]";
    }
    return template.replace(/\{(\w+)\}/g, function (whole, name) {
      return fields && Object.prototype.hasOwnProperty.call(fields, name) ? String(fields[name]) : whole;
    });
  }
  function root() {
    var r = document.documentElement.dataset.content_root;
    if (r !== undefined) return r;
    var opts = window.DOCUMENTATION_OPTIONS || {};
    return opts.URL_ROOT || "";
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function fail(box, msg) {
    var c = box.querySelector(".tcpsim-controls");
    c.innerHTML = "";
    c.appendChild(el("p", {"class": "tcpsim-error", "role": "alert"}, msg));
  }
  function build(box, data) {
    var controls = box.querySelector(".tcpsim-controls");
    var ladder = box.querySelector(".tcpsim-ladder");
    var state = box.querySelector(".tcpsim-state");
    var table = box.querySelector(".tcpsim-table");
    var caption = box.querySelector(".tcpsim-caption");
    var begin = startOf(box), drops = begin.drops.slice(), knobs = {};
    data.knobs.forEach(function (k) {
      knobs[k.name] = Object.prototype.hasOwnProperty.call(begin.knobs, k.name) ? begin.knobs[k.name] : k.default;
    });
    controls.innerHTML = "";
    controls.appendChild(el("p", {"class": "tcpsim-hint"}, t("hint", {max_drops: data.max_drops})));
    var row = el("div", {"class": "tcpsim-buttons"});
    var buttons = data.droppable.map(function (d) {
      var b = el("button", {"type": "button", "class": "tcpsim-drop", "aria-pressed": "false",
                            "data-index": String(d.index)}, t("drop", {label: d.label}));
      b.addEventListener("click", function () {
        var i = drops.indexOf(d.index);
        if (i >= 0) drops.splice(i, 1); else if (drops.length < data.max_drops) drops.push(d.index);
        update();
      });
      row.appendChild(b);
      return b;
    });
    controls.appendChild(row);
    var knobRow = el("div", {"class": "tcpsim-knobs"});
    var knobInputs = {};
    data.knobs.forEach(function (k) {
      var label = el("label", {"class": "tcpsim-knob"});
      var input;
      if (typeof k.default === "boolean") {
        input = el("input", {"type": "checkbox"});
        input.checked = knobs[k.name];
        input.addEventListener("change", function () { knobs[k.name] = input.checked; update(); });
        label.appendChild(input);
        label.appendChild(document.createTextNode(" " + k.label));
      } else {
        input = el("select", {});
        k.values.slice().sort().forEach(function (v) { input.appendChild(el("option", {"value": String(v)}, String(v))); });
        input.value = String(knobs[k.name]);
        input.addEventListener("change", function () {
          knobs[k.name] = typeof k.default === "number" ? Number(input.value) : input.value;
          update();
        });
        label.appendChild(document.createTextNode(k.label + " "));
        label.appendChild(input);
      }
      knobInputs[k.name] = input;
      knobRow.appendChild(label);
    });
    var reset = el("button", {"type": "button", "class": "tcpsim-reset"}, t("reset"));
    reset.addEventListener("click", function () {
      drops = [];
      data.knobs.forEach(function (k) {
        knobs[k.name] = k.default;
        if (typeof k.default === "boolean") knobInputs[k.name].checked = k.default;
        else knobInputs[k.name].value = String(k.default);
      });
      update();
    });
    knobRow.appendChild(reset);
    controls.appendChild(knobRow);
    var status = el("p", {"class": "tcpsim-status", "aria-live": "polite"});
    controls.appendChild(status);

    function key() {
      var d = drops.slice().sort(function (a, b) { return a - b; }).join(",");
      var k = Object.keys(knobs).sort().map(function (n) {
        var v = knobs[n];
        return n + "=" + (typeof v === "boolean" ? (v ? 1 : 0) : v);
      }).join(",");
      return d + "|" + k;
    }
    function update() {
      var t0 = performance.now();
      var v = data.variants[key()];
      if (!v) { fail(box, t("not_computed", {key: key()})); return; }
      ladder.innerHTML = data.strings[v[0]];
      state.innerHTML = data.strings[v[1]];
      table.innerHTML = data.strings[v[2]];
      buttons.forEach(function (b) {
        var on = drops.indexOf(Number(b.dataset.index)) >= 0;
        b.setAttribute("aria-pressed", on ? "true" : "false");
        b.disabled = !on && drops.length >= data.max_drops;
      });
      var lost = drops.length ? drops.slice().sort(function (a, b) { return a - b; })
        .map(function (i) { return t("ref", {index: i}); }).join(t("separator")) : t("nothing");
      caption.textContent = t("caption", {title: data.title, lost: lost});
      var story = box.querySelector(".tcpsim-story");
      if (story) story.textContent = data.strings[v[3]];
      /* the story is on the figure already: announced with the status, not shown twice */
      status.textContent = t("status", {lost: lost}) + " ";
      status.appendChild(el("span", {"class": "tcpsim-sr"}, data.strings[v[3]]));
      box.dataset.redrawMs = (performance.now() - t0).toFixed(2);
    }
    update();
    box.tcpsim = {update: update};
  }
  /* Where a panel starts (data-tcpsim-start: its still twin's setting, see panels.py). */
  function startOf(box) {
    try {
      var s = JSON.parse(box.dataset.tcpsimStart || "{}");
      return {drops: s.drops || [], knobs: s.knobs || {}};
    } catch (e) {
      if (window.console) console.error("tcpsim: unreadable data-tcpsim-start (" + e + "); starting with nothing dropped");
      return {drops: [], knobs: {}};
    }
  }
  /* One panel per place: the live panel takes the place of its still twin (the figure
     of the same setting shown before it), which stays for print and for pages without
     JavaScript. */
  function replaceTwin(box) {
    var setting = box.dataset.tcpsimStart;
    var twins = document.querySelectorAll('figure.tcpsim-panel[data-tcpsim-twin="' + box.dataset.tcpsimPanel + '"]');
    var twin = null;
    twins.forEach(function (f) {
      if (f.dataset.tcpsimSetting === setting && (f.compareDocumentPosition(box) & Node.DOCUMENT_POSITION_FOLLOWING)) {
        twin = f;
      }
    });
    if (!twin) return;
    var origin = box.closest(".cell_output");
    twin.classList.add("tcpsim-replaced");
    box.classList.add("tcpsim-has-twin");
    twin.parentNode.insertBefore(box, twin);        /* inside the twin's numbered figure, if any */
    if (origin) origin.classList.add("tcpsim-replaced");   /* the output it left, now empty */
  }
  function unpack(packed) {
    /* base64 of gzipped JSON (see tcpsim/sphinx.py) */
    if (typeof packed !== "string") return Promise.resolve(packed);
    var bin = atob(packed), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text().then(JSON.parse);
  }
  function ready(box, id) {
    unpack(window.tcpsimPanels[id]).then(function (data) { build(box, data); }, function (e) {
      fail(box, t("unreadable", {error: e}));
    });
  }
  function start() {
    window.tcpsimPanels = window.tcpsimPanels || {};
    document.querySelectorAll(".tcpsim-live").forEach(function (box) {
      var id = box.dataset.tcpsimPanel;
      box.classList.add("tcpsim-js");
      replaceTwin(box);
      if (window.tcpsimPanels[id]) { ready(box, id); return; }
      var s = document.createElement("script");
      s.src = root() + "_static/tcpsim/panel-" + id + ".js";
      s.onload = function () {
        if (window.tcpsimPanels[id]) ready(box, id);
        else fail(box, t("missing", {id: id}));
      };
      s.onerror = function () {
        fail(box, t("unloadable", {id: id}));
      };
      document.head.appendChild(s);
    });
  }
  /* shared with the page's other scripts (tcpsim-quiz.js): the same words, elements and unpacking */
  window.tcpsimLib = {t: t, el: el, root: root, unpack: unpack};
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
