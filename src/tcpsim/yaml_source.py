"""Scenario files in YAML: an optional extra outside the core (PyYAML).

`tcpsim/__init__.py` registers `read_yaml` for ``.yaml`` and ``.yml`` with
`tcpsim.core.scenario.register_reader`; PyYAML is imported only when such a
file is read.
"""

from __future__ import annotations

from typing import Any

from .core.errors import ScenarioError


def read_yaml(raw: str, where: str) -> Any:
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is in requirements.txt
        raise ScenarioError(where, "reading YAML needs the PyYAML package") from None
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise ScenarioError(where, f"not valid YAML: {str(e).splitlines()[0]}") from None
