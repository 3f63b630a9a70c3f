/* The page's side of the live simulator (the worker is tcpsim-live-worker.mjs).
 * Loaded by tcpsim-panels.js (or the playground) only when a reader first asks for
 * something the pre-computed runs cannot answer, so a page that never needs it
 * carries a few lines and no more.
 *
 *   tcpsimLive.call(name, ...args)  Promise of the parsed JSON answer (tcpsim/book/web.py)
 *   tcpsimLive.onphase(fn)          fn(phase, ms) as the simulator starts: python, tcpsim, ready
 * One worker per page; the files it loads (14 MB) come from the browser's cache after
 * the first page that loaded them. */
(function () {
  "use strict";
  if (window.tcpsimLive) return;
  var worker = null, next = 1, waiting = {}, listeners = [], phase = "idle", failure = null, timing = {};
  function root() {
    var r = document.documentElement.dataset.content_root;
    if (r !== undefined) return r;
    return (window.DOCUMENTATION_OPTIONS || {}).URL_ROOT || "";
  }
  function tell(p, ms) {
    phase = p;
    timing[p] = ms;
    listeners.forEach(function (fn) { try { fn(p, ms); } catch (e) { console.error(e); } });
  }
  function start() {
    if (worker) return;
    var t0 = performance.now();
    tell("loading", 0);
    worker = new Worker(new URL(root() + "_static/tcpsim-live-worker.mjs", document.baseURI), {type: "module"});
    worker.onmessage = function (e) {
      var m = e.data;
      if (m.phase) {
        if (m.phase === "failed") {
          failure = m.failure;
          Object.keys(waiting).forEach(function (id) { waiting[id].reject(new Error(m.failure)); delete waiting[id]; });
        }
        tell(m.phase, performance.now() - t0);
        return;
      }
      var w = waiting[m.id];
      if (!w) return;
      delete waiting[m.id];
      timing.call = m.ms;                      /* the worker's time for the last answer (benchmarks/bench_live.py) */
      if (m.failure !== undefined) w.reject(new Error(m.failure));
      else w.resolve(JSON.parse(m.result));
    };
    worker.onerror = function (e) {
      failure = e.message || "the worker could not start";
      tell("failed", performance.now() - t0);
    };
  }
  window.tcpsimLive = {
    phase: function () { return phase; },
    failure: function () { return failure; },
    timing: timing,
    onphase: function (fn) { listeners.push(fn); },
    call: function (name) {
      var args = Array.prototype.slice.call(arguments, 1).map(function (a) {
        return typeof a === "string" || a instanceof Uint8Array ? a : JSON.stringify(a);
      });
      if (failure) return Promise.reject(new Error(failure));
      start();
      return new Promise(function (resolve, reject) {
        var id = next++;
        waiting[id] = {resolve: resolve, reject: reject};
        worker.postMessage({id: id, call: name, args: args});
      });
    },
  };
})();
