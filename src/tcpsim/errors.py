"""Old import path, kept so that existing scripts keep working: this module is
`tcpsim.core.errors` (the very same module object, so every name is there)."""

import sys

from .core import errors as _module

sys.modules[__name__] = _module
