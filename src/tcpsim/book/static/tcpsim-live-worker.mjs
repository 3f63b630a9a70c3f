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

/* Answers are kept (a setting asked again is answered at once), and after a panel's run the
   worker draws, while the reader looks, what the next click may ask: each segment toggled (the
   whole run), then the other steps of the same run, nearest first; the next click is then most
   often a lookup.  A message that arrives meanwhile waits for one drawing at most. */
const answers = new Map(), LIMIT = 300;
let ahead = [], idle = 0;
const IDLE_MS = 120;
function keyOf(call, args) { return call + "\u0000" + args.join("\u0000"); }
function answer(sim, call, args) {
  const key = keyOf(call, args);
  let result = answers.get(key);
  if (result === undefined) {
    result = sim.call.apply(null, [call].concat(args));
    if (answers.size >= LIMIT) answers.delete(answers.keys().next().value);
    answers.set(key, result);
  }
  return result;
}
function lookAhead(sim, args, result) {
  const setting = JSON.parse(args[1]), events = JSON.parse(result).events;
  if (typeof events !== "number") return;
  const here = setting.step === null || setting.step === undefined ? events : setting.step;
  ahead = [];
  const droppable = JSON.parse(answer(sim, "panel_droppable", [args[0]]));
  if (Array.isArray(droppable)) {
    droppable.forEach(function (i) {
      const drops = setting.drops.indexOf(i) >= 0 ? setting.drops.filter(function (d) { return d !== i; })
        : setting.drops.concat([i]).sort(function (a, b) { return a - b; });
      /* up to two drops the page has stored (DropPanel.page_data) */
      if (drops.length > 2) ahead.push([args[0], JSON.stringify({drops: drops, knobs: setting.knobs, step: null})]);
    });
  }
  for (let d = 1; d <= events; d++) {
    [here - d, here + d].forEach(function (k) {
      if (k >= 0 && k < events) {
        ahead.push([args[0], JSON.stringify({drops: setting.drops, knobs: setting.knobs, step: k})]);
      }
    });
  }
  clearTimeout(idle);                 /* begin once the reader pauses: a click in a row is not kept waiting */
  idle = setTimeout(function () { drawAhead(sim); }, IDLE_MS);
}
function drawAhead(sim) {
  const next = ahead.shift();
  if (!next) return;
  try { answer(sim, "panel", next); } catch (e) { ahead = []; return; }
  clearTimeout(idle);                 /* begin once the reader pauses: a click in a row is not kept waiting */
  idle = setTimeout(function () { drawAhead(sim); }, IDLE_MS);
}

/* dpkt (pure Python, BSD), for the lab chapter's captures: packed at build time like tcpsim, loaded
   on the first capture only */
let dpkt = null;
function withDpkt(sim) {
  if (!dpkt) {
    dpkt = fetch(new URL("dpkt.zip", base)).then(function (r) {
      if (!r.ok) throw new Error("dpkt.zip: HTTP " + r.status);
      return r.arrayBuffer();
    }).then(function (zip) { sim.py.unpackArchive(new Uint8Array(zip), "zip", {extractDir: "/tcpsim-src"}); });
  }
  return dpkt;
}

self.onmessage = function (event) {
  const msg = event.data;
  ahead = [];                         /* the reader moved on: what was drawn ahead stays, the rest is dropped */
  if (msg.call === "capture") {                      /* bytes, not JSON text: neither kept nor keyed */
    started.then(function (sim) {
      return withDpkt(sim).then(function () {
        const t = performance.now();
        const result = sim.call("capture", msg.args[0], msg.args[1]);
        self.postMessage({id: msg.id, result: result, ms: performance.now() - t});
      });
    }).catch(function (e) {
      self.postMessage({id: msg.id, failure: String(e && e.message || e)});
    });
    return;
  }
  started.then(function (sim) {
    const t = performance.now(), args = msg.args || [];
    const result = answer(sim, msg.call, args);
    self.postMessage({id: msg.id, result: result, ms: performance.now() - t});
    if (msg.call === "panel") lookAhead(sim, args, result);
  }).catch(function (e) {
    self.postMessage({id: msg.id, failure: String(e && e.message || e)});
  });
};
