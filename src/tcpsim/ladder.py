"""Old import path, kept so that existing scripts keep working: this module is
`tcpsim.render.ladder` (the very same module object, so every name is there)."""

import sys

from .render import ladder as _module

sys.modules[__name__] = _module
