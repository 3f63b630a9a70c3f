/* The website's live simulator: a module Web Worker running tcpsim under Pyodide
 * (see tcpsim/book/web.py and tcpsim-live.js).  Everything it loads comes from the
 * site's own folder (_static/tcpsim/live/, written by tcpsim.book.webbuild).
 *
 * Messages in:  {id, call: "panel"|"scenario"|"panel_scenario"|"builtins", args: [JSON text, ...]}
 * Messages out: {phase: "python"|"tcpsim"|"ready", ms}  while starting, then
 *               {id, result: JSON text, ms}  or  {id, failure: text}  for each call. */
import { loadPyodide } from "./tcpsim/live/pyodide.mjs";
import { Graphviz } from "./tcpsim/live/graphviz.mjs";
import { boot } from "./tcpsim-live-boot.mjs";

const base = new URL("./tcpsim/live/", import.meta.url);
const t0 = performance.now();
const started = boot({
  loadPyodide: loadPyodide,
  Graphviz: Graphviz,
  indexURL: base.href,
  source: function () {
    return fetch(new URL("tcpsim.zip", base)).then(function (r) {
      if (!r.ok) throw new Error("tcpsim.zip: HTTP " + r.status);
      return r.arrayBuffer();
    });
  },
  progress: function (phase) { self.postMessage({phase: phase, ms: performance.now() - t0}); },
});
started.then(function (sim) {
  self.postMessage({phase: "ready", ms: performance.now() - t0, python: sim.python, graphviz: sim.graphviz});
}, function (e) {
  self.postMessage({phase: "failed", failure: String(e && e.message || e)});
});

self.onmessage = function (event) {
  const msg = event.data;
  started.then(function (sim) {
    const t = performance.now();
    const result = sim.call.apply(null, [msg.call].concat(msg.args || []));
    self.postMessage({id: msg.id, result: result, ms: performance.now() - t});
  }).catch(function (e) {
    self.postMessage({id: msg.id, failure: String(e && e.message || e)});
  });
};
