"""What the website's live simulator asks of tcpsim: JSON text in, JSON text out.

On the website the drop-a-packet panels first show runs pre-computed at build
time (`DropPanel.page_data`).  What those cannot answer -- a third drop, a delay
not pre-computed, a step through the run -- and the playground page are
computed in the page: a module Web Worker (``static/tcpsim-live-worker.mjs``)
runs this module under Pyodide (CPython compiled to WebAssembly), from tcpsim's
own source packed at build time, with Graphviz compiled to WebAssembly laying
the state diagram out (`tcpsim.render.state_diagram.use_graphviz`).  The code
is the notebooks' and the build's: `panel` draws with `DropPanel.render`, as
the pre-computed runs were drawn, and `scenario` with the same renderers.

Every function takes and returns JSON text (one string crosses between
JavaScript and Python, nothing else) and never raises for the reader's input:
a scenario the simulator refuses comes back as ``{"error": message, "where":
field}``, the simulator's own one-line message and the field it names (e.g.
``endpoints.client.calls[1].t``), which the playground shows next to that field.
"""

from __future__ import annotations

import json
from typing import Any

from ..core.errors import ScenarioError, TcpSimError
from ..core.network import run
from ..core.scenario import builtin, builtin_names, load
from ..render.ladder import ladder
from ..render.state_diagram import PALETTE, state_diagram
from .panels import DropPanel, spec_id

_PANELS: dict[str, DropPanel] = {}


def _panel(spec: dict[str, Any]) -> DropPanel:
    key = spec_id(spec)
    if key not in _PANELS:
        _PANELS[key] = DropPanel.from_spec(spec)
    return _PANELS[key]


def panel(spec_json: str, setting_json: str) -> str:
    """One setting of a panel, drawn as the pre-computed ones are: {ladder, state, table, story,
    events, trace}.  `setting_json`: {"drops": [indexes], "knobs": {...}, "step": k or null}."""
    try:
        p = _panel(json.loads(spec_json))
        setting = json.loads(setting_json)
        chosen = [p._find(d) for d in setting.get("drops", [])]
        knobs = {k: v for k, v in setting.get("knobs", {}).items() if k in p.knobs}
        step = setting.get("step")
        r = p.render(chosen, step, **knobs)
        return json.dumps({"ladder": r["ladder"], "state": r["state"], "table": r["table"],
                           "story": p.story(r["trace"], chosen, knobs), "events": r["events"],
                           "trace": r["trace"].to_json()})
    except (TcpSimError, ValueError, KeyError, TypeError) as e:
        return json.dumps(_error(e))


def panel_droppable(spec_json: str) -> str:
    """The indexes of a panel's droppable segments (the worker draws the settings one toggle away
    ahead of the reader's next click)."""
    try:
        return json.dumps([d.index for d in _panel(json.loads(spec_json)).droppable])
    except (TcpSimError, ValueError, KeyError, TypeError) as e:
        return json.dumps(_error(e))


def panel_scenario(spec_json: str, setting_json: str) -> str:
    """The scenario a panel runs at a setting (its drops as network rules, its knobs set):
    what "Open in the playground" starts from.  {"scenario": {...}} or {"error", "where"}."""
    try:
        p = _panel(json.loads(spec_json))
        setting = json.loads(setting_json)
        knobs = {k: v for k, v in setting.get("knobs", {}).items() if k in p.knobs}
        return json.dumps({"scenario": p.scenario(setting.get("drops", []), **knobs), "title": p.title})
    except (TcpSimError, ValueError, KeyError, TypeError) as e:
        return json.dumps(_error(e))


def scenario(scenario_json: str, options_json: str = "{}") -> str:
    """A scenario of the reader's own, run and drawn: {ladder, state, table, trace, events, endpoints}.
    `options_json`: {"step": k or null, "relative": bool, "view": "figure"|"all"|...}."""
    try:
        try:
            sc = json.loads(scenario_json)
        except json.JSONDecodeError as e:
            return json.dumps({"error": f"not JSON: {e.msg} at line {e.lineno}, column {e.colno}", "where": ""})
        options = json.loads(options_json)
        trace = run(load(sc))
        step = options.get("step")
        endpoints = trace.endpoints()[:len(PALETTE)]
        lad = ladder(trace, relative=bool(options.get("relative")), step=step)
        whatif = sc.get("whatif") if isinstance(sc, dict) else None
        dia = state_diagram(options.get("view", "figure"), trace=trace, endpoints=endpoints, step=step,
                            whatif="two_way_handshake" if isinstance(whatif, dict)
                            and whatif.get("two_way_handshake") else False)
        return json.dumps({"ladder": lad.svg(), "state": dia.svg(), "table": trace._repr_html_(),
                           "trace": trace.to_json(), "events": len(trace.segments) + len(trace.changes),
                           "endpoints": endpoints})
    except (TcpSimError, ValueError, KeyError, TypeError) as e:
        return json.dumps(_error(e))


def capture(data: Any, options_json: str = "{}") -> str:
    """A capture the reader dropped on the page (its bytes), explained as the lab chapter explains the
    samples: {"html": ..., "text": ...}, or {"error": the reader's one-line message}."""
    from .capture import CaptureView

    try:
        raw = bytes(data.to_py()) if hasattr(data, "to_py") else bytes(data)    # a JavaScript Uint8Array
        options = json.loads(options_json)
        view = CaptureView(raw, int(options.get("conn", 1)), str(options.get("profile", "linux")))
        return json.dumps({"html": view._repr_html_(), "text": view.text})
    except (TcpSimError, ValueError, KeyError, TypeError) as e:
        return json.dumps(_error(e))


def quiz_variant(spec_json: str, k: int) -> str:
    """Variant `k` of a question (tcpsim.book.quiz): past the pool the site carries, the page makes more
    with the same generator, seeded the same way (variant k is the same on every machine)."""
    from .quiz import Question

    try:
        return json.dumps(Question.from_spec(json.loads(spec_json)).variant(int(k)))
    except (TcpSimError, ValueError, KeyError, TypeError) as e:
        return json.dumps(_error(e))


def builtins() -> str:
    """Every built-in scenario, by name: the playground's starting points."""
    return json.dumps({name: builtin(name) for name in builtin_names()})


def builtins_list() -> str:
    """The built-in scenarios' names, as JSON."""
    return json.dumps(builtin_names())


def fingerprint(name: str) -> str:
    """A built-in scenario's trace JSON, its state diagram's DOT text and SVG and its ladder SVG:
    what the build and the tests compare between the page's Python and the native one."""
    trace = run(builtin(name))
    dia = state_diagram("figure", trace=trace, endpoints=trace.endpoints()[:len(PALETTE)])
    return json.dumps({"trace": trace.to_json(), "dot": dia.dot, "state": dia.svg(), "ladder": ladder(trace).svg()})


def _error(e: Exception) -> dict[str, str]:
    where = e.where if isinstance(e, ScenarioError) else ""
    message = str(e) if isinstance(e, TcpSimError) else f"{type(e).__name__}: {e}"
    return {"error": " ".join(message.split())[:500], "where": where}
