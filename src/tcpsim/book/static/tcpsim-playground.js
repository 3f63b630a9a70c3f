/* The playground (book/playground.md): write a scenario, run it in the page, step through it.
 * Loaded by tcpsim-panels.js on the page that holds #tcpsim-playground.  A scenario is
 * edited as a form (every field of the scenario, built from the scenario itself) or as JSON;
 * each run goes to the live simulator (tcpsim-live.js, tcpsim/book/web.py), and a refused
 * scenario's one-line error is shown next to the field it names.  The experiment lives in
 * the address's "#json=..." (URL-safe base64 of JSON), so a link shares it and a reload
 * restores it.  Every word comes from tcpsim/book/text.py ("page.pg_*"). */
(function () {
  "use strict";
  var t = window.tcpsimLib.t, el = window.tcpsimLib.el;
  var encode = window.tcpsimLib.encodeShared;       /* what a shared link carries after its "#" */
  function decode(hash) {
    var m = /^#?json=([A-Za-z0-9_-]*)$/.exec(hash || "");
    if (!m) return null;
    var b64 = m[1].replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return JSON.parse(new TextDecoder().decode(bytes));
  }
  function download(name, type, text) {
    var a = el("a", {"href": URL.createObjectURL(new Blob([text], {type: type})), "download": name});
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 0);
  }
  /* a field's path as the simulator names it: endpoints.client.calls[1].t */
  function join(path, key) {
    return typeof key === "number" ? path + "[" + key + "]" : (path ? path + "." + key : key);
  }

  function Playground(root) {
    this.root = root;
    this.scenario = null;
    this.step = null;
    this.events = 0;
    this.asked = 0;
    this.last = null;
  }
  Playground.prototype.start = function () {
    var self = this, root = this.root;
    root.innerHTML = "";
    if (!window.tcpsimLib.liveCan()) {
      root.appendChild(el("p", {"class": "tcpsim-note tcpsim-pg-file", "role": "note"}, t("pg_file")));
      return;
    }
    this.status = el("p", {"class": "tcpsim-status", "aria-live": "polite"}, t("pg_loading", {mb: window.tcpsimLiveMB || "14"}));
    var top = el("div", {"class": "tcpsim-pg-top"});
    var pick = el("label", {"class": "tcpsim-knob"}, t("pg_start") + " ");
    this.picker = el("select", {"class": "tcpsim-pg-builtin"});
    this.picker.appendChild(el("option", {"value": ""}, t("pg_choose")));
    pick.appendChild(this.picker);
    top.appendChild(pick);
    this.share = el("button", {"type": "button", "class": "tcpsim-reset"}, t("pg_share"));
    this.getTrace = el("button", {"type": "button", "class": "tcpsim-reset"}, t("pg_download_trace"));
    this.getLadder = el("button", {"type": "button", "class": "tcpsim-reset"}, t("pg_download_ladder"));
    this.getState = el("button", {"type": "button", "class": "tcpsim-reset"}, t("pg_download_state"));
    [this.share, this.getTrace, this.getLadder, this.getState].forEach(function (b) { top.appendChild(b); });
    this.shared = el("p", {"class": "tcpsim-pg-shared"});
    this.form = el("form", {"class": "tcpsim-pg-form", "novalidate": ""});
    this.formError = el("p", {"class": "tcpsim-error", "role": "alert", "hidden": ""});
    var json = el("details", {"class": "tcpsim-pg-json"});
    json.appendChild(el("summary", {}, t("pg_as_json")));
    this.jsonLabel = el("label", {"for": "tcpsim-pg-json"}, t("pg_json_label"));
    this.text = el("textarea", {"id": "tcpsim-pg-json", "rows": "16", "spellcheck": "false"});
    this.jsonApply = el("button", {"type": "button", "class": "tcpsim-reset"}, t("pg_json_apply"));
    this.jsonError = el("p", {"class": "tcpsim-error", "id": "tcpsim-pg-json-error", "role": "alert", "hidden": ""});
    [this.jsonLabel, this.text, this.jsonApply, this.jsonError].forEach(function (n) { json.appendChild(n); });
    var drops = el("div", {"class": "tcpsim-pg-drops"});
    drops.appendChild(el("p", {"class": "tcpsim-hint"}, t("pg_drops")));
    this.buttons = el("div", {"class": "tcpsim-buttons"});
    drops.appendChild(this.buttons);
    var steps = el("div", {"class": "tcpsim-steps"});
    var stepLabel = el("label", {"class": "tcpsim-stepper"}, t("step") + " ");
    this.slider = el("input", {"type": "range", "min": "0", "step": "1", "class": "tcpsim-step"});
    this.stepText = el("span", {"class": "tcpsim-step-text"});
    stepLabel.appendChild(this.slider);
    steps.appendChild(stepLabel);
    steps.appendChild(this.stepText);
    var fig = el("figure", {"class": "tcpsim-panel tcpsim-pg-figure"});
    this.caption = el("figcaption", {"class": "tcpsim-caption"});
    this.ladder = el("div", {"class": "tcpsim-ladder"});
    this.state = el("div", {"class": "tcpsim-state"});
    var tableBox = el("details", {"class": "tcpsim-pg-table", "open": ""});
    tableBox.appendChild(el("summary", {}, t("pg_table")));
    this.table = el("div", {"class": "tcpsim-table"});
    tableBox.appendChild(this.table);
    [this.caption, this.ladder, this.state, tableBox].forEach(function (n) { fig.appendChild(n); });
    var editor = el("section", {"class": "tcpsim-pg-editor", "aria-label": t("pg_editor")});
    editor.appendChild(el("h2", {}, t("pg_editor")));
    [this.formError, this.form, json].forEach(function (n) { editor.appendChild(n); });
    var run = el("section", {"class": "tcpsim-pg-run", "aria-label": t("pg_run")});
    run.appendChild(el("h2", {}, t("pg_run")));
    [drops, steps, this.status, fig].forEach(function (n) { run.appendChild(n); });
    [top, this.shared, run, editor].forEach(function (n) { root.appendChild(n); });

    this.picker.addEventListener("change", function () {
      if (self.picker.value) self.load(self.builtins[self.picker.value]);
    });
    this.slider.addEventListener("input", function () {
      var k = Number(self.slider.value);
      self.step = k >= self.events ? null : k;
      self.run();
    });
    this.form.addEventListener("change", function () { self.fromForm(); });
    this.form.addEventListener("submit", function (e) { e.preventDefault(); self.fromForm(); });
    this.jsonApply.addEventListener("click", function () { self.fromJson(); });
    this.share.addEventListener("click", function () {
      var url = location.href.split("#")[0] + "#" + encode(self.experiment());
      self.shared.textContent = t("pg_shared") + " ";
      var a = el("a", {"href": url, "class": "tcpsim-pg-link"}, url.length > 90 ? url.slice(0, 87) + "…" : url);
      self.shared.appendChild(a);
      if (navigator.clipboard) navigator.clipboard.writeText(url).catch(function () {});
    });
    this.getTrace.addEventListener("click", function () {
      if (self.last) download(self.name() + ".trace.json", "application/json", self.last.trace);
    });
    this.getLadder.addEventListener("click", function () {
      if (self.last) download(self.name() + ".ladder.svg", "image/svg+xml", self.last.ladder);
    });
    this.getState.addEventListener("click", function () {
      if (self.last) download(self.name() + ".states.svg", "image/svg+xml", self.last.state);
    });
    window.addEventListener("hashchange", function () { self.fromHash(); });
    window.tcpsimLoadLive(function (sim) {
      self.sim = sim;
      sim.call("builtins").then(function (all) {
        self.builtins = all;
        Object.keys(all).forEach(function (name) { self.picker.appendChild(el("option", {"value": name}, name)); });
        if (!self.fromHash()) self.load(all["connect-close"]);
      }, function (e) { self.status.textContent = t("live_failed", {error: e.message}); });
    }, function () { self.status.textContent = t("live_failed", {error: "tcpsim-live.js"}); });
  };
  Playground.prototype.name = function () {
    return String((this.scenario && this.scenario.name) || "scenario").replace(/[^A-Za-z0-9_.-]+/g, "-");
  };
  Playground.prototype.experiment = function () {
    return this.step === null ? {scenario: this.scenario} : {scenario: this.scenario, step: this.step};
  };
  Playground.prototype.fromHash = function () {
    var self = this, shared;
    try { shared = decode(location.hash); } catch (e) { shared = undefined; }
    if (shared === null) return false;
    if (!shared || typeof shared !== "object") {
      this.status.textContent = t("pg_bad_link");
      return false;
    }
    if (shared.panel) {
      this.sim.call("panel_scenario", shared.panel, shared.setting || {}).then(function (r) {
        if (r.error) { self.status.textContent = t("live_error", {error: r.error}); return; }
        self.load(r.scenario);
      });
      return true;
    }
    if (shared.scenario) {
      this.step = typeof shared.step === "number" ? shared.step : null;
      this.load(shared.scenario, true);
      return true;
    }
    this.status.textContent = t("pg_bad_link");
    return false;
  };
  Playground.prototype.load = function (scenario, keepStep) {
    this.scenario = JSON.parse(JSON.stringify(scenario));
    if (!keepStep) this.step = null;
    this.picker.value = this.builtins && this.builtins[this.scenario.name] &&
      JSON.stringify(this.builtins[this.scenario.name]) === JSON.stringify(this.scenario) ? this.scenario.name : "";
    this.drawForm();
    this.run();
  };
  /* ---------------------------------------------------------------- the form */
  Playground.prototype.drawForm = function () {
    this.form.innerHTML = "";
    this.text.value = JSON.stringify(this.scenario, null, 2);
    this.fields = {};
    var self = this, n = 0;
    function add(parent, path, key, value, container) {
      var p = join(path, key);
      if (value !== null && typeof value === "object") {
        var set = el("fieldset", {"class": "tcpsim-pg-group", "data-path": p});
        set.appendChild(el("legend", {}, typeof key === "number" ? t("pg_item", {n: key + 1}) : String(key)));
        var keys = Array.isArray(value) ? value.map(function (_, i) { return i; }) : Object.keys(value);
        keys.forEach(function (k) { add(set, p, k, value[k], value); });
        if (Array.isArray(value)) {
          var more = el("button", {"type": "button", "class": "tcpsim-reset tcpsim-pg-add"}, t("pg_add", {what: String(key)}));
          more.addEventListener("click", function () {
            value.push(value.length ? JSON.parse(JSON.stringify(value[value.length - 1])) : {});
            self.changed();
          });
          set.appendChild(more);
        }
        if (typeof key === "number") {
          var drop = el("button", {"type": "button", "class": "tcpsim-reset tcpsim-pg-remove"}, t("pg_remove", {what: p}));
          drop.addEventListener("click", function () { container.splice(key, 1); self.changed(); });
          set.appendChild(drop);
        }
        parent.appendChild(set);
        return;
      }
      var id = "tcpsim-pg-f" + (n++);
      var row = el("div", {"class": "tcpsim-pg-field"});
      var label = el("label", {"for": id}, String(key));
      var input;
      if (typeof value === "boolean") {
        input = el("input", {"type": "checkbox", "id": id});
        input.checked = value;
      } else {
        input = el("input", {"type": "text", "id": id, "spellcheck": "false",
                             "inputmode": typeof value === "number" ? "decimal" : "text"});
        input.value = value === null ? "" : String(value);
      }
      input.dataset.path = p;
      input.dataset.kind = value === null ? "null" : typeof value;
      input.addEventListener("change", function () {
        container[key] = self.read(input);
      });
      var err = el("span", {"class": "tcpsim-error tcpsim-pg-field-error", "id": id + "-error", "hidden": ""});
      row.appendChild(label);
      row.appendChild(input);
      row.appendChild(err);
      parent.appendChild(row);
      self.fields[p] = {input: input, error: err};
    }
    Object.keys(this.scenario).forEach(function (k) { add(self.form, "", k, self.scenario[k], self.scenario); });
  };
  Playground.prototype.read = function (input) {
    if (input.type === "checkbox") return input.checked;
    var v = input.value.trim();
    if (input.dataset.kind === "number" || input.dataset.kind === "null") {
      if (v === "" && input.dataset.kind === "null") return null;
      var x = Number(v);
      return v !== "" && isFinite(x) ? x : v;      /* not a number: the simulator names the field */
    }
    return input.value;
  };
  Playground.prototype.changed = function () {
    this.drawForm();
    this.step = null;
    this.run();
  };
  Playground.prototype.fromForm = function () {
    this.text.value = JSON.stringify(this.scenario, null, 2);
    this.step = null;
    this.run();
  };
  Playground.prototype.fromJson = function () {
    var parsed;
    try {
      parsed = JSON.parse(this.text.value);
    } catch (e) {
      this.jsonError.hidden = false;
      this.jsonError.textContent = t("pg_json_bad", {error: e.message});
      this.text.setAttribute("aria-invalid", "true");
      this.text.setAttribute("aria-describedby", "tcpsim-pg-json-error");
      return;
    }
    this.jsonError.hidden = true;
    this.text.removeAttribute("aria-invalid");
    this.load(parsed);
  };
  /* ------------------------------------------------------------------ a run */
  Playground.prototype.showError = function (message, where) {
    Object.keys(this.fields).forEach(function (p) {
      var f = this.fields[p];
      f.error.hidden = true;
      f.input.removeAttribute("aria-invalid");
      f.input.removeAttribute("aria-describedby");
    }, this);
    this.formError.hidden = true;
    if (!message) return;
    /* the field the simulator named, or the nearest one that holds it */
    var field = null, p = where || "";
    while (p && !(field = this.fields[p])) p = p.replace(/(\.[^.[\]]*|\[\d+\])$/, "");
    if (field) {
      field.error.hidden = false;
      field.error.textContent = message;
      field.input.setAttribute("aria-invalid", "true");
      field.input.setAttribute("aria-describedby", field.error.id);
      var group = this.form.querySelector('[data-path="' + (where || "").replace(/"/g, "") + '"]');
      (group || field.input).scrollIntoView({block: "nearest"});
    } else {
      this.formError.hidden = false;
      this.formError.textContent = message;
    }
  };
  Playground.prototype.run = function () {
    var self = this, mine = ++this.asked, t0 = performance.now();
    if (!this.sim) return;
    if (this.sim.phase() !== "ready") this.status.textContent = t("pg_loading", {mb: window.tcpsimLiveMB || "14"});
    else this.status.textContent = t("live_computing");
    history.replaceState(null, "", "#" + encode(this.experiment()));
    this.sim.call("scenario", this.scenario, {step: this.step}).then(function (r) {
      if (mine !== self.asked) return;
      if (r.error) {
        self.showError(r.error, r.where);
        self.status.textContent = t("live_error", {error: r.error});
        return;
      }
      self.showError(null);
      self.paint(r, t0);
    }, function (e) { self.status.textContent = t("live_failed", {error: e.message}); });
  };
  Playground.prototype.paint = function (r, t0) {
    var self = this;
    this.last = r;
    this.ladder.innerHTML = r.ladder;
    this.state.innerHTML = r.state;
    this.table.innerHTML = r.table;
    this.events = r.events;
    this.slider.max = String(r.events);
    this.slider.value = String(this.step === null ? r.events : this.step);
    this.stepText.textContent = this.step === null ? t("step_all", {events: r.events})
      : t("step_of", {step: this.step, events: r.events});
    var trace = JSON.parse(r.trace), lost = (this.scenario.network && this.scenario.network.drop) || [];
    this.caption.textContent = t("pg_caption", {name: this.scenario.name || "scenario", segments: trace.segments.length});
    this.buttons.innerHTML = "";
    trace.segments.forEach(function (s) {
      var on = lost.indexOf(s.i) >= 0;
      var b = el("button", {"type": "button", "class": "tcpsim-drop", "aria-pressed": on ? "true" : "false"},
                 t("pg_drop", {i: s.i, src: s.src, dst: s.dst, flags: s.flags, seq: s.seq}));
      b.addEventListener("click", function () { self.toggle(s.i); });
      self.buttons.appendChild(b);
    });
    this.status.textContent = t("pg_done", {segments: trace.segments.length, events: r.events});
    this.root.dataset.redrawMs = (performance.now() - t0).toFixed(2);
    this.root.dataset.runs = String(Number(this.root.dataset.runs || 0) + 1);
    this.root.dispatchEvent(new CustomEvent("tcpsim:painted"));
  };
  Playground.prototype.toggle = function (i) {
    var net = this.scenario.network = this.scenario.network || {};
    var drop = net.drop = (net.drop || []).slice();
    var at = drop.indexOf(i);
    if (at >= 0) drop.splice(at, 1); else drop.push(i);
    drop.sort(function (a, b) { return a - b; });
    if (!drop.length) delete net.drop;
    if (!Object.keys(net).length) delete this.scenario.network;
    this.changed();
  };

  var root = document.getElementById("tcpsim-playground");
  if (root) {
    var pg = new Playground(root);
    root.tcpsim = pg;
    pg.start();
  }
})();
