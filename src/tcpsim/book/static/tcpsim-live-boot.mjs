/* Start tcpsim under Pyodide, with Graphviz in WebAssembly laying out its state diagrams.
 * One bootstrap for the two places that run it: the page's module Web Worker
 * (tcpsim-live-worker.mjs) and the build's check under Node that the results in the
 * page equal the native ones (tcpsim.book.webbuild).  See tcpsim/book/web.py for what
 * the Python side answers.
 *
 *   const sim = await boot({loadPyodide, Graphviz, indexURL, source, progress});
 *   sim.call("panel", specJson, settingJson)  ->  JSON text
 */
export async function boot({loadPyodide, Graphviz, indexURL, source, progress}) {
  const say = progress || function () {};
  say("python");
  /* Python and Graphviz load side by side; tcpsim's own source (a zip of about 100 KB) too */
  const [py, graphviz, zip] = await Promise.all([
    loadPyodide({indexURL: indexURL, packages: [], checkAPIVersion: true}),
    Graphviz.load(),
    source(),
  ]);
  say("tcpsim");
  py.unpackArchive(new Uint8Array(zip), "zip", {extractDir: "/tcpsim-src"});
  py.registerJsModule("tcpsim_wasm_graphviz", {dot: function (text) { return graphviz.dot(text); }});
  py.runPython([
    "import sys",
    "sys.path.insert(0, '/tcpsim-src')",
    "from tcpsim_wasm_graphviz import dot",
    "from tcpsim.render.state_diagram import use_graphviz",
    "use_graphviz(lambda text: str(dot(text)))",
    "from tcpsim.book import web as tcpsim_web",
  ].join("\n"));
  const web = py.globals.get("tcpsim_web");
  const fns = {};
  return {
    py: py,
    graphviz: graphviz.version(),
    python: py.runPython("import sys; sys.version.split()[0]"),
    call: function (name) {
      if (!fns[name]) fns[name] = web[name];
      if (!fns[name]) throw new Error("tcpsim.book.web has no function " + name);
      return fns[name](...Array.prototype.slice.call(arguments, 1));
    },
  };
}
