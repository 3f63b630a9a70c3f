"""The exceptions tcpsim raises for a caller's mistakes.

A user call that TCP does not allow in the current state raises `IllegalCall`;
a scenario that is not well formed raises `ScenarioError` naming the field.
What a TCP does with an unacceptable *segment* (answer with RST, drop it, send
a challenge ACK) is not an exception: it is a row of the transition table.
"""


class TcpSimError(Exception):
    """Base class of every error tcpsim raises on purpose."""


class IllegalCall(TcpSimError):
    """A user call (connect, send, close, ...) that is not allowed in this state."""

    def __init__(self, call: str, state: str, endpoint: str, why: str = ""):
        self.call, self.state, self.endpoint = call, state, endpoint
        msg = f"{endpoint}: can't {call}() in state {state}"
        super().__init__(msg + (f": {why}" if why else ""))


class CallFailed(TcpSimError):
    """A scenario's call that cannot act at the moment it runs (no connection
    yet, only a listener, no connection of that name): the run records it in
    the trace, as a socket call returns an error, and goes on."""

    def __init__(self, call: str, endpoint: str, why: str):
        self.call, self.endpoint = call, endpoint
        super().__init__(f"{endpoint}: {call}() failed: {why}")


class RunTooLong(TcpSimError):
    """A run that would not end in reasonable time (more events than a run may take)."""


class ScenarioError(TcpSimError):
    """A scenario that cannot be run; the message names the field and the problem."""

    def __init__(self, where: str, problem: str):
        self.where, self.problem = where, problem
        super().__init__(f"{where}: {problem}" if where else problem)
