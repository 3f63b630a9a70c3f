"""An oracle for RFC 9293 §3.10.7, SEGMENT ARRIVES, written from the RFC's text.

Given the receiving connection's variables (by their RFC names) and one
arriving segment, `segment_arrives` says what §3.10.7 prescribes: the reply
segments, the next state and what the user is told ("connection reset",
"connection refused" or nothing).  It knows nothing of tcpsim: it has its own
sequence arithmetic (§3.4) and follows the section's steps in order, and every
decision it takes is a `Clause` quoting the sentence of the RFC it rests on.

Readings.  Where RFC 9293 adopts RFC 5961, the oracle follows RFC 9293's text
for a stack implementing RFC 5961 (challenge ACK for an in-window RST that is
not exact and for a SYN in a synchronized state, the SEG.ACK range check with
MAX.SND.WND in the fifth step).  Where the text allows more than one outcome
(a MAY, a SHOULD whose alternative it names, or two clauses that both apply),
the verdict lists every outcome the text allows, the first being the plainest
reading, each with the clause that allows it; an implementation conforms if it
does any of them.  Where the text does not determine the reply at all, the
outcome's `replies` is None and only the state and the notice are compared.

Assumptions: no security/compartment (third step) and no URG (sixth step) are
ever in play, no Timestamp option is used (so the TIME-WAIT note on [40],
RFC 6191, does not apply), RCV.WND > 0, and the state's FIN, where one was
sent, is the last thing sent (so "our FIN is acknowledged" is SEG.ACK = SND.NXT).

The quotations were checked against the text of RFC 9293 (August 2022),
§3.10.7, with line breaks and list markers removed; "..." marks an omission.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

MOD = 1 << 32
HALF = 1 << 31


# --------------------------------------------------------------------------
# Sequence arithmetic, RFC 9293 §3.4: modulo 2**32.

def _add(a: int, n: int) -> int:
    return (a + n) % MOD


def _lt(a: int, b: int) -> bool:
    return 0 < (b - a) % MOD < HALF


def _le(a: int, b: int) -> bool:
    return a % MOD == b % MOD or _lt(a, b)


def _dist(a: int, b: int) -> int:
    """a - b, signed, in sequence space."""
    d = (a - b) % MOD
    return d - MOD if d >= HALF else d


# --------------------------------------------------------------------------
# The clauses.

@dataclass(frozen=True)
class Clause:
    section: str
    text: str
    #: how the oracle reads the clause, where that is not obvious
    note: str = ""

    def __str__(self) -> str:
        s = f'RFC 9293 §{self.section}: "{self.text}"'
        return s + (f"  [{self.note}]" if self.note else "")


_CL = "3.10.7.1 CLOSED STATE"
_LI = "3.10.7.2 LISTEN STATE"
_SS = "3.10.7.3 SYN-SENT STATE"
_O1 = "3.10.7.4 Other States, First, check sequence number"
_O2 = "3.10.7.4 Other States, Second, check the RST bit"
_O4 = "3.10.7.4 Other States, Fourth, check the SYN bit"
_O5 = "3.10.7.4 Other States, Fifth, check the ACK field"
_O7 = "3.10.7.4 Other States, Seventh, process the segment text"
_O8 = "3.10.7.4 Other States, Eighth, check the FIN bit"

C = {
    # 3.10.7.1
    "closed": Clause(_CL, "If the state is CLOSED (i.e., TCB does not exist), then all data in the incoming segment "
                          "is discarded. An incoming segment containing a RST is discarded. An incoming segment not "
                          "containing a RST causes a RST to be sent in response."),
    "closed.no_ack": Clause(_CL, "If the ACK bit is off, sequence number zero is used, "
                                 "<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>"),
    "closed.ack": Clause(_CL, "If the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>"),
    # 3.10.7.2
    "listen.rst": Clause(_LI, "First, check for a RST: An incoming RST segment could not be valid since it could not "
                              "have been sent in response to anything sent by this incarnation of the connection. "
                              "An incoming RST should be ignored. Return."),
    "listen.ack": Clause(_LI, "Second, check for an ACK: Any acknowledgment is bad if it arrives on a connection still "
                              "in the LISTEN state. An acceptable reset segment should be formed for any arriving "
                              "ACK-bearing segment. The RST should be formatted as follows: <SEQ=SEG.ACK><CTL=RST>"),
    "listen.syn": Clause(_LI, "Set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ, and any other control or text should "
                              "be queued for processing later. ISS should be selected and a SYN segment sent of the "
                              "form: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> ... The connection state should be changed "
                              "to SYN-RECEIVED. Note that any other incoming control or data (combined with SYN) will "
                              "be processed in the SYN-RECEIVED state, but processing of SYN and ACK should not be "
                              "repeated."),
    "listen.other": Clause(_LI, "Fourth, other data or control: This should not be reached. Drop the segment and "
                                "return."),
    # 3.10.7.3
    "ss.ack_bad": Clause(_SS, "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the RST bit is set, if "
                              "so drop the segment and return) <SEQ=SEG.ACK><CTL=RST> and discard the segment. "
                              "Return."),
    "ss.ack_ok": Clause(_SS, "If SND.UNA < SEG.ACK =< SND.NXT, then the ACK is acceptable."),
    "ss.rst": Clause(_SS, "If the ACK was acceptable, then signal to the user \"error: connection reset\", drop the "
                          "segment, enter CLOSED state, delete TCB, and return. Otherwise (no ACK), drop the segment "
                          "and return.",
                     note="the preceding RFC 5961 sentence, 'SHOULD first check that the sequence number exactly "
                          "matches RCV.NXT', is not applied: RCV.NXT has no value before a SYN has been received"),
    "ss.syn": Clause(_SS, "If the SYN bit is on and the security/compartment is acceptable, then RCV.NXT is set to "
                          "SEG.SEQ+1, IRS is set to SEG.SEQ. SND.UNA should be advanced to equal SEG.ACK (if there "
                          "is an ACK), and any segments on the retransmission queue that are thereby acknowledged "
                          "should be removed."),
    "ss.syn_est": Clause(_SS, "If SND.UNA > ISS (our SYN has been ACKed), change the connection state to "
                              "ESTABLISHED, form an ACK segment <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and send it. ... "
                              "If there are other controls or text in the segment, then continue processing at the "
                              "sixth step under Section 3.10.7.4 where the URG bit is checked; otherwise, return."),
    "ss.syn_rcvd": Clause(_SS, "Otherwise, enter SYN-RECEIVED, form a SYN,ACK segment "
                               "<SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> and send it. ... If there are other controls or "
                               "text in the segment, queue them for processing after the ESTABLISHED state has been "
                               "reached, return."),
    "ss.neither": Clause(_SS, "Fifth, if neither of the SYN or RST bits is set, then drop the segment and return."),
    # 3.10.7.4, first
    "seq.test": Clause(_O1, "There are four cases for the acceptability test for an incoming segment: ... "
                            "[Table 6] length 0, window >0: RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND; length >0, "
                            "window >0: RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND or "
                            "RCV.NXT =< SEG.SEQ+SEG.LEN-1 < RCV.NXT+RCV.WND"),
    "seq.unacceptable": Clause(_O1, "If an incoming segment is not acceptable, an acknowledgment should be sent in "
                                    "reply (unless the RST bit is set, if so drop the segment and return): "
                                    "<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> After sending the acknowledgment, drop the "
                                    "unacceptable segment and return."),
    "seq.straddle": Clause(_O1, "Segments are processed in sequence. Initial tests on arrival are used to discard old "
                                "duplicates, but further processing is done in SEG.SEQ order. If a segment's contents "
                                "straddle the boundary between old and new, only the new parts are processed."),
    "seq.ideal": Clause(_O1, "In the following it is assumed that the segment is the idealized segment that begins "
                             "at RCV.NXT and does not exceed the window. One could tailor actual segments to fit this "
                             "assumption by trimming off any portions that lie outside the window (including SYN and "
                             "FIN) and only processing further if the segment then begins at RCV.NXT. Segments with "
                             "higher beginning sequence numbers SHOULD be held for later processing (SHLD-31)."),
    "seq.may13": Clause(_O7, "A TCP implementation MAY send an ACK segment acknowledging RCV.NXT when a valid "
                             "segment arrives that is in the window but not at the left window edge (MAY-13)."),
    "seq.aggregate": Clause(_O1, "In general, the processing of received segments MUST be implemented to aggregate "
                                 "ACK segments whenever possible (MUST-58)."),
    # second
    "rst.outside": Clause(_O2, "1) If the RST bit is set and the sequence number is outside the current receive "
                               "window, silently drop the segment."),
    "rst.exact": Clause(_O2, "2) If the RST bit is set and the sequence number exactly matches the next expected "
                             "sequence number (RCV.NXT), then TCP endpoints MUST reset the connection in the manner "
                             "prescribed below according to the connection state."),
    "rst.challenge": Clause(_O2, "3) If the RST bit is set and the sequence number does not exactly match the next "
                                 "expected sequence value, yet is within the current receive window, TCP endpoints "
                                 "MUST send an acknowledgment (challenge ACK): <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> "
                                 "After sending the challenge ACK, TCP endpoints MUST drop the unacceptable segment "
                                 "and stop processing the incoming packet further."),
    "rst.syn_rcvd": Clause(_O2, "SYN-RECEIVED STATE: If the RST bit is set, If this connection was initiated with a "
                                "passive OPEN (i.e., came from the LISTEN state), then return this connection to "
                                "LISTEN state and return. The user need not be informed. If this connection was "
                                "initiated with an active OPEN (i.e., came from SYN-SENT state), then the connection "
                                "was refused; signal the user \"connection refused\". In either case, the "
                                "retransmission queue should be flushed. And in the active OPEN case, enter the "
                                "CLOSED state and delete the TCB, and return."),
    "rst.open": Clause(_O2, "ESTABLISHED STATE, FIN-WAIT-1 STATE, FIN-WAIT-2 STATE, CLOSE-WAIT STATE: If the RST bit "
                            "is set, then any outstanding RECEIVEs and SEND should receive \"reset\" responses. All "
                            "segment queues should be flushed. Users should also receive an unsolicited general "
                            "\"connection reset\" signal. Enter the CLOSED state, delete the TCB, and return."),
    "rst.closing": Clause(_O2, "CLOSING STATE, LAST-ACK STATE, TIME-WAIT STATE: If the RST bit is set, then enter the "
                               "CLOSED state, delete the TCB, and return."),
    # fourth
    "syn.syn_rcvd": Clause(_O4, "SYN-RECEIVED STATE: If the connection was initiated with a passive OPEN, then return "
                                "this connection to the LISTEN state and return. Otherwise, handle per the directions "
                                "for synchronized states below."),
    "syn.challenge": Clause(_O4, "RFC 5961 recommends that in these synchronized states, if the SYN bit is set, "
                                 "irrespective of the sequence number, TCP endpoints MUST send a \"challenge ACK\" to "
                                 "the remote peer: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> After sending the "
                                 "acknowledgment, TCP implementations MUST drop the unacceptable segment and stop "
                                 "processing further."),
    # fifth
    "ack.off": Clause(_O5, "if the ACK bit is off, drop the segment and return"),
    "ack.5961": Clause(_O5, "TCP stacks that implement RFC 5961 MUST add an input check that the ACK value is "
                            "acceptable only if it is in the range of ((SND.UNA - MAX.SND.WND) =< SEG.ACK =< "
                            "SND.NXT). All incoming segments whose ACK value doesn't satisfy the above condition MUST "
                            "be discarded and an ACK sent back. ... When the ACK value is acceptable, the per-state "
                            "processing below applies:"),
    "ack.syn_rcvd_ok": Clause(_O5, "SYN-RECEIVED STATE: If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED "
                                   "state and continue processing"),
    "ack.syn_rcvd_bad": Clause(_O5, "If the segment acknowledgment is not acceptable, form a reset segment "
                                    "<SEQ=SEG.ACK><CTL=RST> and send it."),
    "ack.est_new": Clause(_O5, "ESTABLISHED STATE: If SND.UNA < SEG.ACK =< SND.NXT, then set SND.UNA <- SEG.ACK. Any "
                               "segments on the retransmission queue that are thereby entirely acknowledged are "
                               "removed."),
    "ack.est_dup": Clause(_O5, "If the ACK is a duplicate (SEG.ACK =< SND.UNA), it can be ignored."),
    "ack.est_ahead": Clause(_O5, "If the ACK acks something not yet sent (SEG.ACK > SND.NXT), then send an ACK, drop "
                                 "the segment, and return."),
    "ack.fw1": Clause(_O5, "FIN-WAIT-1 STATE: In addition to the processing for the ESTABLISHED state, if the FIN "
                           "segment is now acknowledged, then enter FIN-WAIT-2 and continue processing in that "
                           "state."),
    "ack.fw2": Clause(_O5, "FIN-WAIT-2 STATE: In addition to the processing for the ESTABLISHED state, if the "
                           "retransmission queue is empty, the user's CLOSE can be acknowledged (\"ok\") but do not "
                           "delete the TCB."),
    "ack.cw": Clause(_O5, "CLOSE-WAIT STATE: Do the same processing as for the ESTABLISHED state."),
    "ack.closing": Clause(_O5, "CLOSING STATE: In addition to the processing for the ESTABLISHED state, if the ACK "
                               "acknowledges our FIN, then enter the TIME-WAIT state; otherwise, ignore the "
                               "segment."),
    "ack.last_ack": Clause(_O5, "LAST-ACK STATE: The only thing that can arrive in this state is an acknowledgment "
                                "of our FIN. If our FIN is now acknowledged, delete the TCB, enter the CLOSED state, "
                                "and return."),
    "ack.time_wait": Clause(_O5, "TIME-WAIT STATE: The only thing that can arrive in this state is a retransmission "
                                 "of the remote FIN. Acknowledge it, and restart the 2 MSL timeout."),
    # seventh
    "text.take": Clause(_O7, "Once the TCP endpoint takes responsibility for the data, it advances RCV.NXT over the "
                             "data accepted ... Send an acknowledgment of the form: "
                             "<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>"),
    "text.ignore": Clause(_O7, "CLOSE-WAIT STATE, CLOSING STATE, LAST-ACK STATE, TIME-WAIT STATE: This should not "
                               "occur since a FIN has been received from the remote side. Ignore the segment text."),
    # eighth
    "fin": Clause(_O8, "If the FIN bit is set, signal the user \"connection closing\" and return any pending "
                       "RECEIVEs with same message, advance RCV.NXT over the FIN, and send an acknowledgment for the "
                       "FIN."),
    "fin.close_wait": Clause(_O8, "SYN-RECEIVED STATE, ESTABLISHED STATE: Enter the CLOSE-WAIT state."),
    "fin.fw1": Clause(_O8, "FIN-WAIT-1 STATE: If our FIN has been ACKed (perhaps in this segment), then enter "
                           "TIME-WAIT, start the time-wait timer, turn off the other timers; otherwise, enter the "
                           "CLOSING state."),
    "fin.fw2": Clause(_O8, "FIN-WAIT-2 STATE: Enter the TIME-WAIT state. Start the time-wait timer, turn off the "
                           "other timers."),
    "fin.remain.CLOSE-WAIT": Clause(_O8, "CLOSE-WAIT STATE: Remain in the CLOSE-WAIT state."),
    "fin.remain.CLOSING": Clause(_O8, "CLOSING STATE: Remain in the CLOSING state."),
    "fin.remain.LAST-ACK": Clause(_O8, "LAST-ACK STATE: Remain in the LAST-ACK state."),
    "fin.remain.TIME-WAIT": Clause(_O8, "TIME-WAIT STATE: Remain in the TIME-WAIT state. Restart the 2 MSL "
                                        "time-wait timeout."),
}

#: Other sections of RFC 9293 that bear on SEGMENT ARRIVES.
C.update({
    "3.5.fig7": Clause("3.5 Establishing a Connection, Figure 7: Simultaneous Connection Synchronization",
                       "Each TCP peer's connection state cycles from CLOSED to SYN-SENT to SYN-RECEIVED to "
                       "ESTABLISHED. ... 5.  SYN-RECEIVED --> <SEQ=100><ACK=301><CTL=SYN,ACK> ... "
                       "6.  ESTABLISHED  <-- <SEQ=300><ACK=101><CTL=SYN,ACK> <-- SYN-RECEIVED"),
    "3.5.3": Clause("3.5.3 Reset Processing",
                    "If the receiver was in SYN-RECEIVED state and had previously been in the LISTEN state, then "
                    "the receiver returns to the LISTEN state; otherwise, the receiver aborts the connection and "
                    "goes to the CLOSED state. If the receiver was in any other state, it aborts the connection and "
                    "advises the user and goes to the CLOSED state."),
    "3.6.must12": Clause("3.6 Closing a Connection",
                         "If the local TCP connection is closed by the remote side due to a FIN or RST received from "
                         "the remote side, then the local application MUST be informed whether it closed normally or "
                         "was aborted (MUST-12)."),
})

#: Readings of the text that the oracle also allows, each with its reason.
ALT = {
    "trim_syn": replace(C["seq.ideal"], note="alternative: the SYN, which lies before RCV.NXT, is trimmed off and "
                                             "the rest processed as a segment without SYN"),
    "held_ack": replace(C["seq.may13"], note="alternative: the held segment is acknowledged"),
    "ooo_syn_now": replace(C["syn.syn_rcvd"], note="alternative: the SYN bit is acted on at once, whatever the "
                                                   "segment's place in the window"),
    "syn_rcvd_5961": replace(C["ack.5961"], note="alternative: in SYN-RECEIVED an ACK outside the RFC 5961 range is "
                                                 "answered by this general check (ACK) rather than the state's reset"),
    "tw_no_ack": replace(C["ack.time_wait"], note="alternative: read as describing only a retransmitted remote FIN "
                                                  "(which the first step acknowledges), so a segment at RCV.NXT is "
                                                  "not acknowledged here"),
    "fig7": replace(C["3.5.fig7"], note="alternative: in SYN-RECEIVED, the peer's SYN,ACK repeating its SYN "
                                        "(SEG.SEQ = IRS = RCV.NXT-1) and acknowledging ours completes the handshake, "
                                        "as in the figure, although the first step of §3.10.7.4 finds it unacceptable"),
    "rst_advise": replace(C["3.5.3"], note="alternative: in CLOSING, LAST-ACK and TIME-WAIT too, the user is told "
                                           "of the reset (§3.10.7.4's second step does not say so; §3.5.3 and MUST-12 "
                                           "do)"),
    "fin_after_ignored_text": replace(C["fin"], note="the FIN lies after text that the seventh step ignores; the text "
                                                     "does not say what RCV.NXT the acknowledgment carries: the reply "
                                                     "is not determined"),
}

#: The synchronized states (RFC 9293 §3.3.2, §3.10.7.4 "these synchronized states").
SYNCHRONIZED = ("ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT")
STATES = ("CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED") + SYNCHRONIZED
RESET = "connection reset"
REFUSED = "connection refused"


# --------------------------------------------------------------------------
# Inputs and outputs.

@dataclass(frozen=True)
class Tcb:
    """The receiving connection's variables, by their RFC names."""

    state: str
    iss: int = 0
    irs: int = 0
    snd_una: int = 0
    snd_nxt: int = 0
    rcv_nxt: int = 0
    rcv_wnd: int = 65535
    #: MAX.SND.WND, RFC 5961 §5 / RFC 9293 fifth step
    max_snd_wnd: int = 65535
    #: SYN-RECEIVED only: the connection came from LISTEN (passive OPEN)
    passive: bool = True

    def __post_init__(self) -> None:
        if self.state not in STATES or self.state == "CLOSED":
            raise ValueError(f"state {self.state!r}: CLOSED has no TCB (pass None)")


@dataclass(frozen=True)
class Seg:
    """An arriving segment: `ctl` is a set of "SYN", "ACK", "FIN", "RST"; `ack` is given iff ACK is set."""

    ctl: frozenset[str]
    seq: int
    ack: int | None = None
    text: int = 0

    def __post_init__(self) -> None:
        if not self.ctl <= {"SYN", "ACK", "FIN", "RST"}:
            raise ValueError(self.ctl)
        if ("ACK" in self.ctl) != (self.ack is not None):
            raise ValueError("SEG.ACK is given exactly when the ACK bit is set")

    @property
    def length(self) -> int:
        """SEG.LEN: text, plus one each for SYN and FIN (§3.4)."""
        return self.text + ("SYN" in self.ctl) + ("FIN" in self.ctl)

    def has(self, bit: str) -> bool:
        return bit in self.ctl


@dataclass(frozen=True)
class Reply:
    """A segment sent in reply, as the RFC writes it: <SEQ=..><ACK=..><CTL=..>.

    `seq` is the string "ISS" where it is the ISS of a connection the
    segment creates (LISTEN), which the RFC leaves to the implementation."""

    ctl: str                 # "ACK", "RST", "RST,ACK", "SYN,ACK"
    seq: int | str
    ack: int | None = None

    def __str__(self) -> str:
        ack = "" if self.ack is None else f"<ACK={self.ack}>"
        return f"<SEQ={self.seq}>{ack}<CTL={self.ctl}>"


@dataclass(frozen=True)
class Outcome:
    #: the segments sent in reply, in order; None: the text does not determine them
    replies: tuple[Reply, ...] | None
    #: the next state ("CLOSED" once the TCB is deleted; "LISTEN" for a SYN-RECEIVED connection returned to it)
    state: str
    #: what the user is told: RESET, REFUSED or None
    told: str | None
    #: the clauses applied, in order
    clauses: tuple[Clause, ...]

    def describe(self) -> str:
        rep = "(not determined)" if self.replies is None else (" ".join(map(str, self.replies)) or "nothing")
        return f"reply {rep}; next state {self.state}; user told {self.told or 'nothing'}"


@dataclass(frozen=True)
class Verdict:
    #: every outcome the text allows; the first is the plainest reading
    outcomes: tuple[Outcome, ...]

    @property
    def primary(self) -> Outcome:
        return self.outcomes[0]

    def match(self, replies: tuple[Reply, ...], state: str, told: str | None) -> Outcome | None:
        """The outcome that (replies, state, told) is, or None."""
        for o in self.outcomes:
            if o.state == state and o.told == told and (o.replies is None or o.replies == replies):
                return o
        return None

    def explain(self) -> str:
        lines = []
        for i, o in enumerate(self.outcomes):
            lines.append(("RFC 9293 says: " if i == 0 else "or (also allowed): ") + o.describe())
            lines += [f"    {c}" for c in o.clauses]
        return "\n".join(lines)


# --------------------------------------------------------------------------
# The procedure.

class _Return(Exception):
    """The RFC's "return": processing of the segment ends."""


@dataclass
class _Run:
    tcb: Tcb | None
    seg: Seg
    #: the alternatives chosen at the choice points met so far (0 = the plainest reading)
    plan: tuple[int, ...]
    made: list[int] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)
    clauses: list[Clause] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    determined: bool = True
    acks_owed: int = 0
    state: str = "CLOSED"
    told: str | None = None
    rcv_nxt: int = 0
    snd_una: int = 0

    def __post_init__(self) -> None:
        if self.tcb is not None:
            self.state, self.rcv_nxt, self.snd_una = self.tcb.state, self.tcb.rcv_nxt, self.tcb.snd_una

    def cite(self, key: str) -> None:
        c = C[key]
        if not any((k.section, k.text) == (c.section, c.text) for k in self.clauses):
            self.clauses.append(c)

    def choose(self, *alternatives: str) -> int:
        """A point where the text allows more than one outcome: 0 is the plainest
        reading, i >= 1 the reading ALT[alternatives[i-1]]."""
        i = len(self.made)
        pick = self.plan[i] if i < len(self.plan) else 0
        self.made.append(pick)
        self.widths.append(len(alternatives) + 1)
        if pick:
            self.clauses.append(ALT[alternatives[pick - 1]])
        return pick

    def send(self, ctl: str, seq: int | str, ack: int | None = None) -> None:
        self.replies.append(Reply(ctl, seq, ack))

    def owe_ack(self) -> None:
        """An <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> is due; MUST-58: one for the whole segment,
        carrying RCV.NXT as it is when processing ends."""
        self.acks_owed += 1
        if self.acks_owed == 2:
            self.cite("seq.aggregate")

    def done(self) -> None:
        raise _Return

    def outcome(self) -> Outcome:
        replies = list(self.replies)
        if self.acks_owed:
            assert self.tcb is not None
            replies.append(Reply("ACK", self.tcb.snd_nxt, self.rcv_nxt))
        return Outcome(tuple(replies) if self.determined else None, self.state, self.told, tuple(self.clauses))


def segment_arrives(tcb: Tcb | None, seg: Seg) -> Verdict:
    """What RFC 9293 §3.10.7 prescribes when `seg` arrives at `tcb` (None: no TCB, CLOSED)."""
    outcomes: list[Outcome] = []
    todo: list[tuple[int, ...]] = [()]
    while todo:
        plan = todo.pop(0)
        run = _Run(tcb, seg, plan)
        try:
            _arrive(run)
        except _Return:
            pass
        for i in range(len(plan), len(run.made)):           # the alternatives not yet explored
            todo += [tuple(run.made[:i]) + (alt,) for alt in range(1, run.widths[i])]
        o = run.outcome()
        if not any((p.replies, p.state, p.told) == (o.replies, o.state, o.told) for p in outcomes):
            outcomes.append(o)
    return Verdict(tuple(outcomes))


def _arrive(r: _Run) -> None:
    if r.tcb is None:
        _closed(r)
    elif r.tcb.state == "LISTEN":
        _listen(r)
    elif r.tcb.state == "SYN-SENT":
        _syn_sent(r)
    else:
        _other_states(r)


def _closed(r: _Run) -> None:
    s = r.seg
    r.cite("closed")
    if s.has("RST"):
        r.done()
    if not s.has("ACK"):
        r.cite("closed.no_ack")
        r.send("RST,ACK", 0, _add(s.seq, s.length))
    else:
        r.cite("closed.ack")
        assert s.ack is not None
        r.send("RST", s.ack)


def _listen(r: _Run) -> None:
    s = r.seg
    if s.has("RST"):
        r.cite("listen.rst")
        r.done()
    if s.has("ACK"):
        r.cite("listen.ack")
        assert s.ack is not None
        r.send("RST", s.ack)
        r.done()
    if s.has("SYN"):
        r.cite("listen.syn")
        r.rcv_nxt = _add(s.seq, 1)
        r.send("SYN,ACK", "ISS", r.rcv_nxt)
        r.state = "SYN-RECEIVED"
        if s.text or s.has("FIN"):
            # "will be processed in the SYN-RECEIVED state": the rest begins at
            # RCV.NXT, so it passes the first step, and has no ACK bit.
            r.cite("ack.off")
        r.done()
    r.cite("listen.other")


def _syn_sent(r: _Run) -> None:
    s, t = r.seg, r.tcb
    assert t is not None
    if s.has("ACK"):
        assert s.ack is not None
        if _le(s.ack, t.iss) or _lt(t.snd_nxt, s.ack):
            r.cite("ss.ack_bad")
            if not s.has("RST"):
                r.send("RST", s.ack)
            r.done()
        r.cite("ss.ack_ok")
    if s.has("RST"):
        r.cite("ss.rst")
        if s.has("ACK"):
            r.told = RESET
            r.state = "CLOSED"
        r.done()
    if s.has("SYN"):
        r.cite("ss.syn")
        r.rcv_nxt = _add(s.seq, 1)
        if s.ack is not None:
            r.snd_una = s.ack
        if _lt(t.iss, r.snd_una):
            r.cite("ss.syn_est")
            r.state = "ESTABLISHED"
            r.owe_ack()
            if s.text or s.has("FIN"):
                _sixth_onwards(r, text=s.text, fin=s.has("FIN"))
            r.done()
        r.cite("ss.syn_rcvd")
        r.state = "SYN-RECEIVED"
        r.send("SYN,ACK", t.iss, r.rcv_nxt)
        r.done()
    r.cite("ss.neither")


def _other_states(r: _Run) -> None:
    s, t = r.seg, r.tcb
    assert t is not None
    # ---- First, check sequence number.
    wnd_end = _add(t.rcv_nxt, t.rcv_wnd)                        # RCV.NXT+RCV.WND

    def in_window(x: int) -> bool:
        return _le(t.rcv_nxt, x) and _lt(x, wnd_end)

    if s.length == 0:
        acceptable = in_window(s.seq)
    else:
        acceptable = in_window(s.seq) or in_window(_add(s.seq, s.length - 1))
    r.cite("seq.test")
    if not acceptable:
        if (t.state == "SYN-RECEIVED" and s.ctl == {"SYN", "ACK"} and not s.text and s.seq == t.irs
                and s.ack is not None and _lt(t.snd_una, s.ack) and _le(s.ack, t.snd_nxt) and r.choose("fig7")):
            r.state = "ESTABLISHED"
            r.done()
        if s.has("RST"):
            r.cite("rst.outside")
            r.done()
        r.cite("seq.unacceptable")
        r.owe_ack()
        r.done()

    # Trim to the window: the SYN comes first, then the text, then the FIN.
    syn, text, fin, start = s.has("SYN"), s.text, s.has("FIN"), s.seq
    if _lt(start, t.rcv_nxt):
        r.cite("seq.straddle")
        old = _dist(t.rcv_nxt, start)
        if syn:
            old -= 1
            if r.choose("trim_syn"):
                syn = False
        cut = min(old, text)
        text, old = text - cut, old - cut
        start = t.rcv_nxt
    end = _add(start, syn + text + fin)                       # one past the segment
    over = max(0, _dist(end, wnd_end))
    if over and fin:
        fin, over = False, over - 1
    text -= min(over, text)

    if start != t.rcv_nxt and not s.has("RST"):
        # Acceptable, but not at the left edge: held for later processing; the
        # RST and SYN checks below say they apply whatever the sequence number.
        synchronized_syn = syn and (t.state in SYNCHRONIZED or not t.passive)
        if not synchronized_syn:
            alts = ("held_ack", "ooo_syn_now") if syn else ("held_ack",)
            r.cite("seq.ideal")
            pick = r.choose(*alts)
            if pick == 0:
                r.done()
            if pick == 1:
                r.owe_ack()
                r.done()
            # pick == 2: go on to the fourth step

    # ---- Second, check the RST bit.
    if s.has("RST"):
        if s.seq == t.rcv_nxt:
            r.cite("rst.exact")
            if t.state == "SYN-RECEIVED":
                r.cite("rst.syn_rcvd")
                if t.passive:
                    r.state = "LISTEN"
                else:
                    r.state, r.told = "CLOSED", REFUSED
            elif t.state in ("ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT"):
                r.cite("rst.open")
                r.state, r.told = "CLOSED", RESET
            else:
                r.cite("rst.closing")
                r.state = "CLOSED"
                if r.choose("rst_advise"):
                    r.clauses.append(C["3.6.must12"])
                    r.told = RESET
            r.done()
        r.cite("rst.challenge")
        r.owe_ack()
        r.done()

    # ---- Third, check security: not in play.
    # ---- Fourth, check the SYN bit.
    if syn:
        if t.state == "SYN-RECEIVED":
            r.cite("syn.syn_rcvd")
            if t.passive:
                r.state = "LISTEN"
                r.done()
        r.cite("syn.challenge")
        r.owe_ack()
        r.done()

    # ---- Fifth, check the ACK field.
    if not s.has("ACK"):
        r.cite("ack.off")
        r.done()
    ack = s.ack
    assert ack is not None
    if not (_le(_add(t.snd_una, -t.max_snd_wnd), ack) and _le(ack, t.snd_nxt)):
        if t.state == "SYN-RECEIVED" and r.choose("syn_rcvd_5961") == 0:
            r.cite("ack.syn_rcvd_bad")
            r.send("RST", ack)
            r.done()
        r.cite("ack.5961")
        if t.state != "SYN-RECEIVED" and _lt(t.snd_nxt, ack):
            r.cite("ack.est_ahead")
        r.owe_ack()
        r.done()
    new = _lt(t.snd_una, ack) and _le(ack, t.snd_nxt)
    fin_acked = ack == t.snd_nxt                              # our FIN, where sent, is SND.NXT-1
    st = t.state
    if st == "SYN-RECEIVED":
        if not new:
            r.cite("ack.syn_rcvd_bad")
            r.send("RST", ack)
            r.done()
        r.cite("ack.syn_rcvd_ok")
        r.state = st = "ESTABLISHED"
        r.snd_una = ack
    elif st in ("ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING"):
        if new:
            r.cite("ack.est_new")
            r.snd_una = ack
        else:
            r.cite("ack.est_dup")
        if st == "FIN-WAIT-1" and new and fin_acked:
            r.cite("ack.fw1")
            r.state = st = "FIN-WAIT-2"
        elif st == "FIN-WAIT-2":
            r.cite("ack.fw2")
        elif st == "CLOSE-WAIT":
            r.cite("ack.cw")
        elif st == "CLOSING":
            r.cite("ack.closing")
            if not (new and fin_acked):
                r.done()
            r.state = st = "TIME-WAIT"
    elif st == "LAST-ACK":
        r.cite("ack.last_ack")
        if new and fin_acked:
            r.state = "CLOSED"
            r.done()
    elif st == "TIME-WAIT":
        if r.choose("tw_no_ack") == 0:
            r.cite("ack.time_wait")
            r.owe_ack()
    _sixth_onwards(r, text, fin)


def _sixth_onwards(r: _Run, text: int, fin: bool) -> None:
    """The sixth (URG: not in play), seventh and eighth steps of §3.10.7.4."""
    st = r.state
    ignored = False
    if text:
        if st in ("ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2"):
            r.cite("text.take")
            r.rcv_nxt = _add(r.rcv_nxt, text)
            r.owe_ack()
        else:
            r.cite("text.ignore")
            ignored = True
    if fin:
        r.cite("fin")
        if ignored:
            r.clauses.append(ALT["fin_after_ignored_text"])
            r.determined = False
        r.rcv_nxt = _add(r.rcv_nxt, 1)
        r.owe_ack()
        # FIN-WAIT-1 is reached here only with our FIN not yet acknowledged: the
        # fifth step has moved an acknowledged FIN-WAIT-1 on to FIN-WAIT-2.
        key, r.state = {"ESTABLISHED": ("fin.close_wait", "CLOSE-WAIT"),
                        "FIN-WAIT-1": ("fin.fw1", "CLOSING"),
                        "FIN-WAIT-2": ("fin.fw2", "TIME-WAIT")}.get(st, (f"fin.remain.{st}", st))
        r.cite(key)
    r.done()
