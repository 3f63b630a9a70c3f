"""The simulator's core: states, segments, the transition table, endpoints,
the network and scenarios.  Standard library only, no rendering: it runs
unchanged wherever CPython does (Pyodide too)."""
