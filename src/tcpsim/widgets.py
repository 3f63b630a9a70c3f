"""Old import path, kept so that existing scripts keep working: this module is
`tcpsim.book.panels` (the very same module object, so every name is there)."""

import sys

from .book import panels as _module

sys.modules[__name__] = _module
