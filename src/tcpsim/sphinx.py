"""Old import path, kept so that existing scripts keep working: this module is
`tcpsim.book.sphinx` (the very same module object, so every name is there)."""

import sys

from .book import sphinx as _module

sys.modules[__name__] = _module
