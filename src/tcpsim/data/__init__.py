"""Recordings of a real Linux kernel that the book and the tests compare with.

`LINUX` is the directory of the recordings (one JSON file per fact, with its
README): written by ``tools/linux_capture.py`` and ``tools/linux_matrix.py``,
read by the tests and by the chapters, which print the kernel's numbers next
to the simulator's.  It ships with the package, so a chapter opened outside
the repository finds it too.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

#: the directory of the kernel recordings
LINUX = Path(str(files(__name__) / "linux"))


def linux(name: str) -> Any:
    """The recording `name` (e.g. "keepalive" or "close1-none"), parsed."""
    path = LINUX / f"{name}.json"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in LINUX.glob("*.json")))
        raise FileNotFoundError(f"no kernel recording {name!r}; there are: {known}")
    return json.loads(path.read_text(encoding="utf-8"))
