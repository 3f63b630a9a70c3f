"""tcpsim: a table-driven, sans-I/O model of TCP connection management.

The package has three layers, each a subpackage:

* `tcpsim.core`   -- states, segments, the transition table, endpoints, the
  network and scenarios.  Standard library only; it never imports the others.
* `tcpsim.render` -- the state diagram and the ladder diagram of a trace
  (pure Python; `dot` lays the state diagram out).
* `tcpsim.book`   -- the drop-a-packet panels, the questions and the Sphinx extension.

The names below are the public API.  They are loaded lazily (PEP 562), so
``import tcpsim`` or ``import tcpsim.core`` pulls in neither the renderers nor
ipywidgets.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .core import scenario as _scenario

if TYPE_CHECKING:  # pragma: no cover - for type checkers and editors only
    from .book.panels import DropPanel
    from .book.quiz import Question
    from .core.errors import IllegalCall, ScenarioError, TcpSimError
    from .core.network import run
    from .core.scenario import builtin, builtin_names, load
    from .core.trace import Trace
    from .core.units import secs, us
    from .render.ladder import ladder
    from .render.state_diagram import state_diagram

#: public name -> the module that defines it
_HOME = {
    "run": "tcpsim.core.network",
    "load": "tcpsim.core.scenario",
    "builtin": "tcpsim.core.scenario",
    "builtin_names": "tcpsim.core.scenario",
    "Trace": "tcpsim.core.trace",
    "secs": "tcpsim.core.units",
    "us": "tcpsim.core.units",
    "TcpSimError": "tcpsim.core.errors",
    "IllegalCall": "tcpsim.core.errors",
    "ScenarioError": "tcpsim.core.errors",
    "state_diagram": "tcpsim.render.state_diagram",
    "ladder": "tcpsim.render.ladder",
    "DropPanel": "tcpsim.book.panels",
    "Question": "tcpsim.book.quiz",
}

__all__ = [
    "DropPanel", "IllegalCall", "Question", "ScenarioError", "TcpSimError", "Trace", "builtin", "builtin_names",
    "ladder", "load", "run", "secs", "state_diagram", "us",
]
assert sorted(__all__) == sorted(_HOME)


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'tcpsim' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def _read_yaml(raw: str, where: str) -> Any:
    from .yaml_source import read_yaml
    return read_yaml(raw, where)


_scenario.register_reader((".yaml", ".yml"), _read_yaml)
