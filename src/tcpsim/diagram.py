"""Old import path, kept so that existing scripts keep working: this module is
`tcpsim.render.state_diagram` (the very same module object, so every name is there)."""

import sys

from .render import state_diagram as _module

sys.modules[__name__] = _module
