"""Renderers: the state diagram and the ladder diagram, drawn from a trace.

Pure Python on the standard library and `tcpsim.core`; `dot` is called only to
lay the state diagram out.  `figure` holds what both share (colours, escaping,
numbers, the `Figure` base class), `text` every word they write."""
