"""Renderers: the state diagram and the ladder diagram, drawn from a trace.
Pure Python; `dot` is called only to lay the state diagram out."""
