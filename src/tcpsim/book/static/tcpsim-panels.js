/* Kernel-free drop-a-packet panels (see tcpsim/book/sphinx.py).
 * Each .tcpsim-live element carries its panel id; the pre-rendered runs are
 * in _static/tcpsim/panel-<id>.js, loaded with a script tag.  A toggle swaps
 * the ladder, the state diagram and the table of segments for the stored ones.
 * Every word shown comes from tcpsim/book/text.py: the page carries its
 * "page.*" templates as window.tcpsimText, and t() fills in their {fields}.
 * What the stored runs cannot answer -- more drops, a delay not pre-computed, one
 * step of the run -- the live simulator computes in the page (tcpsim-live.js,
 * loaded on the first such click; not from file://, where the browser refuses it). */
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
    var begin = startOf(box), drops = begin.drops.slice(), knobs = {}, step = null, events = 0;
    var served = liveCan(), asked = 0;
    data.knobs.forEach(function (k) {
      knobs[k.name] = Object.prototype.hasOwnProperty.call(begin.knobs, k.name) ? begin.knobs[k.name] : k.default;
    });
    controls.innerHTML = "";
    controls.appendChild(el("p", {"class": "tcpsim-hint"}, served ? t("hint_live", {max_drops: data.max_drops}) : t("hint", {max_drops: data.max_drops})));
    var row = el("div", {"class": "tcpsim-buttons"});
    var buttons = data.droppable.map(function (d) {
      var b = el("button", {"type": "button", "class": "tcpsim-drop", "aria-pressed": "false",
                            "data-index": String(d.index)}, t("drop", {label: d.label}));
      b.addEventListener("click", function () {
        var i = drops.indexOf(d.index);
        if (i >= 0) drops.splice(i, 1); else if (served || drops.length < data.max_drops) drops.push(d.index);
        step = null;
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
        input.addEventListener("change", function () { knobs[k.name] = input.checked; step = null; update(); });
        label.appendChild(input);
        label.appendChild(document.createTextNode(" " + k.label));
      } else if (typeof k.default === "number" && served) {
        /* any value: the stored ones at once (offered in the list), others by the live simulator */
        var list = "tcpsim-" + data.id + "-" + k.name;
        input = el("input", {"type": "number", "min": "0.001", "max": "10", "step": "0.001", "list": list,
                             "inputmode": "decimal", "class": "tcpsim-number"});
        var options = el("datalist", {"id": list});
        k.values.slice().sort(function (a, b) { return a - b; })
          .forEach(function (v) { options.appendChild(el("option", {"value": String(v)})); });
        input.value = String(knobs[k.name]);
        input.addEventListener("change", function () {
          var v = Number(input.value);
          if (!input.value || !isFinite(v) || v < 0.001 || v > 10) {
            input.setAttribute("aria-invalid", "true");
            status.textContent = t("bad_number", {label: k.label, min: 0.001, max: 10});
            return;
          }
          input.removeAttribute("aria-invalid");
          knobs[k.name] = v;
          step = null;
          update();
        });
        label.appendChild(document.createTextNode(k.label + " "));
        label.appendChild(input);
        label.appendChild(options);
      } else {
        input = el("select", {});
        k.values.slice().sort().forEach(function (v) { input.appendChild(el("option", {"value": String(v)}, String(v))); });
        input.value = String(knobs[k.name]);
        input.addEventListener("change", function () {
          knobs[k.name] = typeof k.default === "number" ? Number(input.value) : input.value;
          step = null;
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
      step = null;
      data.knobs.forEach(function (k) {
        knobs[k.name] = k.default;
        if (typeof k.default === "boolean") knobInputs[k.name].checked = k.default;
        else knobInputs[k.name].value = String(k.default);
      });
      update();
    });
    knobRow.appendChild(reset);
    controls.appendChild(knobRow);
    /* a slider over the run, event by event (the live simulator draws each step) */
    var stepRow = el("div", {"class": "tcpsim-steps"});
    var stepLabel = el("label", {"class": "tcpsim-stepper"});
    var slider = el("input", {"type": "range", "min": "0", "step": "1", "class": "tcpsim-step"});
    var stepText = el("span", {"class": "tcpsim-step-text"});
    stepLabel.appendChild(document.createTextNode(t("step") + " "));
    stepLabel.appendChild(slider);
    stepRow.appendChild(stepLabel);
    stepRow.appendChild(stepText);
    slider.addEventListener("input", function () {
      var k = Number(slider.value);
      step = k >= events ? null : k;
      update();
    });
    var play = el("a", {"class": "tcpsim-playground-link", "href": "#"}, t("open_playground"));
    play.addEventListener("click", function (e) {
      e.preventDefault();
      var setting = {drops: drops.slice().sort(function (a, b) { return a - b; }), knobs: knobs};
      location.href = root() + "book/playground.html#" + encodeShared({panel: spec(), setting: setting});
    });
    stepRow.appendChild(play);
    if (served) controls.appendChild(stepRow);
    var status = el("p", {"class": "tcpsim-status", "aria-live": "polite"});
    controls.appendChild(status);
    function spec() {
      var node = box.querySelector("script.tcpsim-spec");
      return JSON.parse(node.textContent);
    }

    function key() {
      var d = drops.slice().sort(function (a, b) { return a - b; }).join(",");
      var k = Object.keys(knobs).sort().map(function (n) {
        var v = knobs[n];
        return n + "=" + (typeof v === "boolean" ? (v ? 1 : 0) : v);
      }).join(",");
      return d + "|" + k;
    }
    function lostText() {
      return drops.length ? drops.slice().sort(function (a, b) { return a - b; })
        .map(function (i) { return t("ref", {index: i}); }).join(t("separator")) : t("nothing");
    }
    function controlsNow() {
      buttons.forEach(function (b) {
        var on = drops.indexOf(Number(b.dataset.index)) >= 0;
        b.setAttribute("aria-pressed", on ? "true" : "false");
        b.disabled = !served && !on && drops.length >= data.max_drops;
      });
    }
    /* one setting drawn: the stored run's or the live simulator's, alike */
    function paint(r, t0, how) {
      var p0 = performance.now();
      ladder.innerHTML = r.ladder;
      state.innerHTML = r.state;
      table.innerHTML = r.table;
      events = r.events;
      slider.max = String(events);
      slider.value = String(step === null ? events : step);
      stepText.textContent = step === null ? t("step_all", {events: events}) : t("step_of", {step: step, events: events});
      var lost = lostText();
      caption.textContent = t("caption", {title: data.title, lost: lost});
      var story = box.querySelector(".tcpsim-story");
      if (story) story.textContent = r.story;
      /* the story is on the figure already: announced with the status, not shown twice */
      status.textContent = t("status", {lost: lost}) + " ";
      status.appendChild(el("span", {"class": "tcpsim-sr"}, r.story));
      box.dataset.how = how;
      box.dataset.paints = String(Number(box.dataset.paints || 0) + 1);
      box.dataset.redrawMs = (performance.now() - t0).toFixed(2);
      box.dataset.paintMs = (performance.now() - p0).toFixed(2);
      box.tcpsim.last = r;            /* what was drawn (the live runs carry their trace JSON) */
      box.dispatchEvent(new CustomEvent("tcpsim:painted", {detail: {how: how}}));
    }
    function update() {
      var t0 = performance.now();
      var v = step === null ? data.variants[key()] : undefined;
      var mine = ++asked;
      controlsNow();
      if (v) {
        paint({ladder: data.strings[v[0]], state: data.strings[v[1]], table: data.strings[v[2]],
               story: data.strings[v[3]], events: v[4]}, t0, "stored");
        return;
      }
      if (!served) { status.textContent = t("needs_server"); return; }
      live(function (sim) {
        var setting = {drops: drops.slice().sort(function (a, b) { return a - b; }), knobs: knobs, step: step};
        status.textContent = t("live_computing");
        return sim.call("panel", spec(), setting).then(function (r) {
          if (mine !== asked) return;                    /* a later click is on its way */
          if (r.error) { status.textContent = t("live_error", {error: r.error}); return; }
          paint(r, t0, "live");
        });
      });
    }
    function live(then) {
      loadLive(function (sim) {
        if (sim.phase() !== "ready") {
          status.textContent = t("live_loading", {mb: window.tcpsimLiveMB || "14"});
          sim.onphase(function (p) { if (p === "failed") status.textContent = t("live_failed", {error: sim.failure()}); });
        }
        then(sim).catch(function (e) { status.textContent = t("live_failed", {error: e.message}); });
      }, function () { status.textContent = t("live_failed", {error: "tcpsim-live.js"}); });
    }
    box.tcpsim = {update: update};
    update();
  }
  /* Whether the live simulator can run here: not from file://, where the browser refuses workers. */
  function liveCan() { return location.protocol !== "file:" && typeof Worker !== "undefined"; }
  /* The live simulator's page side, loaded once, on the first need. */
  var liveWaiting = null;
  function loadLive(ok, bad) {
    if (window.tcpsimLive) { ok(window.tcpsimLive); return; }
    if (!liveWaiting) {
      liveWaiting = [];
      var s = document.createElement("script");
      s.src = root() + "_static/tcpsim-live.js";
      s.onload = function () { liveWaiting.forEach(function (w) { w[0](window.tcpsimLive); }); liveWaiting = []; };
      s.onerror = function () { liveWaiting.forEach(function (w) { w[1](); }); liveWaiting = []; };
      document.head.appendChild(s);
    }
    liveWaiting.push([ok, bad]);
  }
  /* What a playground link carries after its "#": the panel and its setting, as URL-safe base64 of JSON. */
  function encodeShared(obj) {
    var bytes = new TextEncoder().encode(JSON.stringify(obj)), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return "json=" + btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  window.tcpsimLoadLive = loadLive;
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
    /* the playground's and the lab chapter's drop zone's own scripts and styles, on their pages only,
       after their words (_static/tcpsim/text-late.js) */
    [["#tcpsim-playground", "tcpsim-playground"], [".tcpsim-capture-drop", "tcpsim-capture"]].forEach(function (p) {
      if (!document.querySelector(p[0])) return;
      var css = el("link", {"rel": "stylesheet", "href": root() + "_static/tcpsim-pages.css"});
      document.head.appendChild(css);
      var words = document.createElement("script");
      words.src = root() + "_static/tcpsim/text-late.js";
      words.onload = function () {
        var s = document.createElement("script");
        s.src = root() + "_static/" + p[1] + ".js";
        document.head.appendChild(s);
      };
      document.head.appendChild(words);
    });
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
  /* shared with the page's other scripts (tcpsim-quiz.js, tcpsim-playground.js, tcpsim-capture.js) */
  window.tcpsimLib = {t: t, el: el, root: root, unpack: unpack, encodeShared: encodeShared,
                      liveCan: liveCan};
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
