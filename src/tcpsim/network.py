"""Old import path, kept so that existing scripts keep working: this module is
`tcpsim.core.network` (the very same module object, so every name is there)."""

import sys

from .core import network as _module

sys.modules[__name__] = _module
