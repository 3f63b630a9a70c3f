#!/usr/bin/env python3
"""Record what a real Linux kernel does for the cells of the conformance matrix.

tests/test_conformance.py builds a state x segment matrix (state x kind of
arriving segment x where SEG.SEQ falls in the receive window x where SEG.ACK
falls) and compares the simulator with an RFC 9293 oracle.  This script runs
every cell of that matrix (`test_conformance.generate()`, so the cell ids are
the same) against a real kernel socket:

* the kernel socket lives at 127.0.0.1, its peer is a *raw-socket peer* at
  127.0.0.2 that crafts every segment by hand (only an MSS option on a SYN,
  so the kernel uses no timestamps, SACK or window scaling and its window is
  the plain 16-bit one), so every number is known;
* an iptables rule in INPUT drops every TCP segment addressed to 127.0.0.2:
  the kernel's segments to the peer are seen by an AF_PACKET socket on lo
  (before netfilter) but never reach the peer address's TCP, which has no
  socket there and would otherwise answer them with RSTs;
* the kernel socket is driven into the cell's state by a real exchange with
  the raw peer, then the cell's segment is sent, and for WINDOW_S seconds
  every segment the kernel sends on that 4-tuple is recorded; then `ss` says
  the state, and the application is asked (SO_ERROR, a non-blocking recv(),
  a zero-length send(); for SYN-SENT the connect() result; for a listener a
  non-blocking accept()).

One fresh kernel port and one fresh peer port per cell; the cells run in
parallel threads (WORKERS).  Everything happens inside a network namespace of
its own (`unshare -n`, only lo), so the iptables rule and the sysctls end with
the run.  Output: src/tcpsim/data/linux/conformance.json (see the README there).

Usage (as root, with the project's Python: the cells come from tests/)::

    python tools/linux_matrix.py [--out FILE] [--state STATE ...] [--workers N]
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

import linux_capture as lc  # noqa: E402

import test_conformance as tc  # noqa: E402

HOST = "127.0.0.1"        # the kernel socket
PEER = "127.0.0.2"        # the raw-socket peer (no socket: its segments are crafted)
KPORT0, PPORT0 = 20000, 42000
PEER_ISN = 0x10000000     # the peer's ISN (IRS of the kernel socket)
PEER_MSS = 1460
PEER_WIN = 65535          # the window the peer advertises: the kernel's MAX.SND.WND
RTT_DELAY = 0.200         # the peer answers the kernel's SYN this late (see ESTABLISHED)
WINDOW_S = 0.150          # replies are collected this long after the cell's segment
WORKERS = 12
TEXT = b"0123456789"      # the data of DATA-ACK and DATA-FIN-ACK (10 bytes)
OUTSTANDING = 100         # bytes the kernel application has in flight in ESTABLISHED and CLOSE-WAIT
MOD = 1 << 32
SOL_PACKET, PACKET_STATISTICS = 263, 6
SO_TIMESTAMPNS = 35
ETH_P_ALL = 0x0003
DEFAULT_OUT = HERE.parent / "src" / "tcpsim" / "data" / "linux" / "conformance.json"

SS_STATE = {"ESTAB": "ESTABLISHED", "SYN-SENT": "SYN-SENT", "SYN-RECV": "SYN-RECEIVED", "FIN-WAIT-1": "FIN-WAIT-1",
            "FIN-WAIT-2": "FIN-WAIT-2", "TIME-WAIT": "TIME-WAIT", "CLOSE-WAIT": "CLOSE-WAIT", "LAST-ACK": "LAST-ACK",
            "LISTEN": "LISTEN", "CLOSING": "CLOSING", "UNCONN": "CLOSED", "CLOSED": "CLOSED"}
TCPI_STATE = {1: "ESTABLISHED", 2: "SYN-SENT", 3: "SYN-RECEIVED", 4: "FIN-WAIT-1", 5: "FIN-WAIT-2", 6: "TIME-WAIT",
              7: "CLOSED", 8: "CLOSE-WAIT", 9: "LAST-ACK", 10: "LISTEN", 11: "CLOSING", 12: "NEW-SYN-RECV"}
TOLD = {"ECONNRESET": "connection reset", "EPIPE": "connection reset", "ECONNREFUSED": "connection refused"}

#: How each state is reached.  "close" is the application call of the main recording (what the matrix's
#: application does in the simulator, tests/helpers.reach); the "shutdown" variant is recorded too.
STATES_HOW = {
    "CLOSED": "no socket at the kernel port: the segment goes to a port nobody listens on",
    "LISTEN": "a kernel listener (listen(128)); the segment comes from a fresh peer port",
    "SYN-SENT": "a non-blocking kernel connect() to the raw peer, which does not answer the SYN",
    "SYN-RECEIVED": "a raw SYN (MSS option only) to a kernel listener; the kernel's SYN-ACK is not answered. Linux "
                    "keeps a request sock (TCP_NEW_SYN_RECV, listed by ss as SYN-RECV), not a full socket, in this "
                    "state: the segment is handled by tcp_check_req. 'LISTEN' afterwards means the request sock is "
                    "gone and the listener still listens (the RFC's 'return to LISTEN')",
    "SYN-RECEIVED(active)": "simultaneous open: a kernel connect(), the raw peer answers with a plain SYN (no ACK, "
                            "MSS option only), the kernel sends SYN-ACK and is in SYN_RECV (a full socket)",
    "ESTABLISHED": "kernel connect(); the raw peer answers with SYN-ACK (MSS only) RTT_DELAY later, the kernel ACKs; "
                   "the application send()s 100 bytes, which the peer does not acknowledge",
    "FIN-WAIT-1": "established as above, then the application calls close() (shutdown(SHUT_WR) in the variant); "
                  "its FIN is not acknowledged",
    "FIN-WAIT-2": "FIN-WAIT-1 as above, then the raw peer ACKs the FIN (ack = SND.NXT). After close() the orphaned "
                  "socket is at once replaced by a timewait mini-socket in substate FIN_WAIT2 (ss: FIN-WAIT-2); "
                  "after shutdown(SHUT_WR) it stays a full socket",
    "CLOSE-WAIT": "established, then the raw peer sends FIN; once the kernel has ACKed it the application send()s "
                  "100 bytes, which the peer does not acknowledge",
    "CLOSING": "FIN-WAIT-1 as above (the kernel's FIN unacknowledged), then the raw peer sends its own FIN "
               "(ack = the kernel's FIN, i.e. not acknowledging it); the kernel ACKs it and is in CLOSING",
    "LAST-ACK": "established, the raw peer sends FIN, the kernel ACKs it, then the application calls close() "
                "(shutdown(SHUT_WR) in the variant); the kernel's FIN is not acknowledged",
    "TIME-WAIT": "the application calls close() first, the raw peer ACKs the FIN, then sends its own FIN, which the "
                 "kernel ACKs (a timewait mini-socket, ss: TIME-WAIT)",
}
SHUTDOWN_STATES = ("FIN-WAIT-1", "FIN-WAIT-2", "CLOSING", "LAST-ACK")


class SetupFailed(Exception):
    """The state could not be reached (a segment did not come): the cell is tried again on fresh ports."""


# --------------------------------------------------------------------------- what lo carries

class LoSniffer:
    """Every TCP segment between HOST and PEER on lo, from an AF_PACKET socket (before netfilter).

    Indexed by the kernel-side port; each packet gets `n` (order on lo), `ts` (the kernel's receive
    timestamp, SO_TIMESTAMPNS) and `mono` (when this thread saw it), and `by` ("kernel" or "peer")."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)   # SO_RCVBUFFORCE
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.bind(("lo", 0))
        self.sock.settimeout(0.05)
        self.by_port: dict[int, list[dict]] = defaultdict(list)
        self.count = 0
        self.cv = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                data, anc, _flags, addr = self.sock.recvmsg(65535, 64)
            except TimeoutError:
                continue
            except OSError:
                return
            if addr[2] == socket.PACKET_OUTGOING:       # lo: each packet is seen going out and coming in
                continue
            ip = lc.link_payload(1, data)
            pkt = lc.parse_ipv4_tcp(ip) if ip is not None else None
            if pkt is None:
                continue
            if (pkt["saddr"], pkt["daddr"]) == (HOST, PEER):
                port, pkt["by"] = pkt["sport"], "kernel"
            elif (pkt["saddr"], pkt["daddr"]) == (PEER, HOST):
                port, pkt["by"] = pkt["dport"], "peer"
            else:
                continue
            ts = None
            for level, typ, raw in anc:
                if level == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS and len(raw) >= 16:
                    sec, nsec = struct.unpack("qq", raw[:16])
                    ts = sec + nsec / 1e9
            pkt["mono"] = time.monotonic()
            pkt["ts"] = ts if ts is not None else time.time()
            with self.cv:
                self.count += 1
                pkt["n"] = self.count
                self.by_port[port].append(pkt)
                self.cv.notify_all()

    def packets(self, port: int, after: int = 0) -> list[dict]:
        with self.cv:
            return [p for p in self.by_port.get(port, ()) if p["n"] > after]

    def wait_for(self, port: int, pred, timeout: float, after: int = 0) -> dict | None:
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                for p in self.by_port.get(port, ()):
                    if p["n"] > after and pred(p):
                        return p
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cv.wait(left)

    def stats(self) -> dict:
        raw = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        packets, drops = struct.unpack("II", raw)
        return {"packets": packets, "drops": drops}

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


# --------------------------------------------------------------------------- one cell

def flags_of(p: dict) -> str:
    return lc.flags_to_letters(p["flags"])


def sdiff(a: int, b: int) -> int:
    return (a - b + (1 << 31)) % MOD - (1 << 31)


def errname(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, str(exc.errno))


class Cell:
    """One run of a matrix cell: the kernel socket, the raw peer's numbers, the exchange so far."""

    def __init__(self, env: Env, cell: tc.Cell, mode: str, kport: int, pport: int):
        self.env, self.cell, self.mode, self.kport, self.pport = env, cell, mode, kport, pport
        self.sock: socket.socket | None = None
        self.listener: socket.socket | None = None
        self.iss: int | None = None
        self.irs: int | None = None
        self.rcv_nxt = self.snd_una = self.snd_nxt = self.wnd = None
        self.mark = 0            # the sniffer's `n` of the last packet of the exchange seen so far
        self.flight_ts: float | None = None   # when the kernel last sent something that takes a sequence number

    # ---- the peer
    def send(self, flags: str, seq: int, ack: int | None = None, payload: bytes = b"") -> None:
        opts = lc.tcp_opt_mss(PEER_MSS) if "S" in flags else b""
        self.env.raw.send(HOST, self.pport, self.kport, seq % MOD, (ack or 0) % MOD, flags, win=PEER_WIN,
                          options=opts, payload=payload)

    def expect(self, what: str, pred, timeout: float = 1.0) -> dict:
        p = self.env.sniff.wait_for(self.kport, lambda p: p["by"] == "kernel" and pred(p), timeout, self.mark)
        if p is None:
            raise SetupFailed(f"{self.cell.id}: no {what} from the kernel within {timeout} s")
        self.mark = p["n"]
        self.wnd = p["win"]
        if p["len"] or p["flags"] & 0x03:
            self.flight_ts = p["ts"]
        return p

    def ss(self) -> list[str]:
        return [line for line in lc.ss_lines(["state", "all", "sport", "=", f":{self.kport}"])
                if line.split()[3].endswith(f":{self.kport}")]

    def ss_state(self, lines: list[str]) -> tuple[str | None, bool]:
        """(state of the 4-tuple or None, whether a listener is on the port)."""
        state, listening = None, False
        for line in lines:
            parts = line.split()
            if parts[4].endswith(f":{self.pport}"):
                state = SS_STATE.get(parts[0], parts[0])
            elif parts[0] == "LISTEN":
                listening = True
        return state, listening

    def state_now(self) -> str | None:
        """The state of the connection: TCP_INFO where the application holds the socket, else ss."""
        if self.sock is not None:
            return TCPI_STATE.get(self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0])
        return self.ss_state(self.ss())[0]

    def wait_state(self, want: str, timeout: float = 0.3) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.state_now() == want:
                return
            time.sleep(0.002)
        raise SetupFailed(f"{self.cell.id}: the connection never was in {want}")

    # ---- the kernel side
    def listen(self) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((HOST, self.kport))
        s.listen(128)
        s.setblocking(False)
        self.listener = s

    def connect(self) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((HOST, self.kport))
        s.setblocking(False)
        s.connect_ex((PEER, self.pport))
        self.sock = s
        syn = self.expect("SYN", lambda p: flags_of(p) == "S")
        self.iss = syn["seq"]
        self.snd_una, self.snd_nxt = self.iss, self.iss + 1

    def app_send(self, n: int) -> None:
        assert self.sock is not None
        self.sock.setblocking(True)
        self.sock.sendall(b"x" * n)
        self.sock.setblocking(False)
        self.expect(f"{n} bytes of data", lambda p: p["len"] == n)
        self.snd_nxt += n

    def app_close(self) -> None:
        assert self.sock is not None
        if self.mode == "shutdown":
            self.sock.shutdown(socket.SHUT_WR)
        else:
            self.sock.close()
            self.sock = None
        self.expect("FIN", lambda p: "F" in flags_of(p) and p["seq"] == self.snd_nxt % MOD)
        self.snd_nxt += 1

    # ---- reaching the state
    def reach(self) -> None:
        st = self.cell.state
        if st == "CLOSED":
            return
        if st in ("LISTEN", "SYN-RECEIVED"):
            self.listen()
            if st == "SYN-RECEIVED":
                self.irs = PEER_ISN
                self.send("S", self.irs)
                sa = self.expect("SYN-ACK", lambda p: flags_of(p) == "SA" and p["ack"] == (self.irs + 1) % MOD)
                self.iss = sa["seq"]
                self.snd_una, self.snd_nxt, self.rcv_nxt = self.iss, self.iss + 1, self.irs + 1
                self.wait_state("SYN-RECEIVED")
            return
        self.connect()
        if st == "SYN-SENT":
            return
        self.irs = PEER_ISN
        self.rcv_nxt = self.irs + 1
        if st == "SYN-RECEIVED(active)":
            self.send("S", self.irs)
            self.expect("SYN-ACK", lambda p: flags_of(p) == "SA" and p["seq"] == self.iss
                        and p["ack"] == (self.irs + 1) % MOD)
            self.wait_state("SYN-RECEIVED")
            return
        time.sleep(RTT_DELAY)
        self.send("SA", self.irs, self.iss + 1)
        self.expect("ACK of the SYN-ACK", lambda p: flags_of(p) == "A" and p["ack"] == self.rcv_nxt % MOD)
        self.snd_una = self.snd_nxt = self.iss + 1
        una = self.snd_una
        if st == "ESTABLISHED":
            self.app_send(OUTSTANDING)
        elif st in ("CLOSE-WAIT", "LAST-ACK"):
            self.send("FA", self.rcv_nxt, una)
            self.rcv_nxt += 1
            self.expect("ACK of the peer's FIN", lambda p: "A" in flags_of(p) and p["ack"] == self.rcv_nxt % MOD,
                        timeout=0.3)
            self.wait_state("CLOSE-WAIT")
            if st == "CLOSE-WAIT":
                self.app_send(OUTSTANDING)
            else:
                self.app_close()
        else:                                   # FIN-WAIT-1, FIN-WAIT-2, CLOSING, TIME-WAIT
            self.app_close()
            if st in ("FIN-WAIT-2", "TIME-WAIT"):
                self.send("A", self.rcv_nxt, self.snd_nxt)
                self.snd_una = self.snd_nxt
                self.wait_state("FIN-WAIT-2")
            if st in ("CLOSING", "TIME-WAIT"):
                self.send("FA", self.rcv_nxt, self.snd_una)
                self.rcv_nxt += 1
                self.expect("ACK of the peer's FIN", lambda p: "A" in flags_of(p)
                            and p["ack"] == self.rcv_nxt % MOD, timeout=0.3)
        self.wait_state(st)

    # ---- the cell's segment
    def numbers(self) -> tuple[int, int | None]:
        c = self.cell
        seq = int(c.seq[4:]) if c.seq.startswith("any:") else tc.SEQ_POS[c.seq](self.rcv_nxt, self.wnd)
        if c.ack is None:
            return seq % MOD, None
        ack = int(c.ack[4:]) if c.ack.startswith("any:") else tc.ACK_POS[c.ack](self.snd_una, self.snd_nxt)
        return seq % MOD, ack % MOD

    def rel_seq(self, x: int) -> int:        # a number in the kernel's sequence space
        return x if self.iss is None else sdiff(x, self.iss)

    def rel_ack(self, x: int) -> int:        # a number in the peer's sequence space
        return x if self.irs is None else sdiff(x, self.irs)

    def run(self) -> dict:
        c = self.cell
        self.reach()
        flags, _ = tc.KINDS[c.kind]
        text = TEXT if c.kind.startswith("DATA") else b""
        seq, ack = self.numbers()
        mark = self.mark
        self.send(flags, seq, ack, text)
        mine = self.env.sniff.wait_for(self.kport, lambda p: p["by"] == "peer" and p["seq"] == seq
                                       and lc.flags_to_letters(p["flags"]) == flags and p["len"] == len(text),
                                       1.0, mark)
        if mine is None:
            raise SetupFailed(f"{c.id}: the crafted segment was not seen on lo")
        time.sleep(max(0.0, mine["mono"] + WINDOW_S - time.monotonic()) + 0.005)
        after = self.ss()
        replies, late = [], []
        for p in self.env.sniff.packets(self.kport, mine["n"]):
            if p["by"] != "kernel":
                continue
            dt = p["ts"] - mine["ts"]
            zero = "R" in flags_of(p) and p["seq"] == 0      # <SEQ=0><CTL=RST,ACK>: not a number of ours
            rec = {"flags": flags_of(p), "seq": "0" if zero else self.rel_seq(p["seq"]),
                   "ack": self.rel_ack(p["ack"]) if p["flags"] & 0x10 else None,
                   "len": p["len"], "win": p["win"], "ms": round(dt * 1000, 3)}
            if c.state == "LISTEN" and rec["flags"] == "SA":
                rec["seq"] = "ISS"
            (replies if dt <= WINDOW_S else late).append(rec)
        state, listening = self.ss_state(after)
        if state is None:
            state = "LISTEN" if listening and c.state in ("LISTEN", "SYN-RECEIVED") else "CLOSED"
        app = self.ask_app()
        told = next((TOLD[v] for k, v in app.items() if k in ("so_error", "recv") and v in TOLD), None)
        rec = {
            "kport": self.kport, "pport": self.pport, "iss": self.iss, "irs": self.irs,
            "tcb": None if self.snd_una is None else {
                "snd_una": self.rel_seq(self.snd_una), "snd_nxt": self.rel_seq(self.snd_nxt),
                "rcv_nxt": None if self.rcv_nxt is None else self.rel_ack(self.rcv_nxt), "rcv_wnd": self.wnd},
            "segment": {"flags": flags, "seq": self.rel_ack(seq) if self.irs is not None else seq,
                        "ack": None if ack is None else (self.rel_seq(ack) if self.iss is not None else ack),
                        "len": len(text)},
            "flight_age_ms": None if self.flight_ts is None else round((mine["ts"] - self.flight_ts) * 1000, 3),
            "replies": replies,
            "state": state,
            "told": told,
            "app": app,
            "ss_after": after,
        }
        if late:
            rec["late"] = late
        return rec

    def ask_app(self) -> dict:
        out: dict = {}
        s = self.sock
        if s is None and self.listener is None:
            out["socket"] = "none" if self.cell.state == "CLOSED" else "closed by the application (orphaned)"
            return out
        if self.listener is not None:
            try:
                child, _ = self.listener.accept()
                info = child.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
                out["accept"] = f"a connection in {TCPI_STATE.get(info[0], info[0])}"
                child.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                child.close()
            except BlockingIOError:
                out["accept"] = "nothing (EAGAIN)"
            except OSError as exc:
                out["accept"] = errname(exc)
        if s is None:
            return out
        info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
        out["tcpi_state"] = TCPI_STATE.get(info[0], info[0])
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        out["so_error"] = errno.errorcode.get(err, str(err)) if err else None
        if self.cell.state == "SYN-SENT" or self.cell.state == "SYN-RECEIVED(active)":
            out["connect"] = (out["so_error"] if err else "connected" if info[0] in (1, 8)
                              else "in progress" if info[0] in (2, 3) else "failed")
        try:
            data = s.recv(4096, socket.MSG_DONTWAIT)
            out["recv"] = f"{len(data)} bytes" if data else "EOF"
        except OSError as exc:
            out["recv"] = errname(exc)
        try:
            s.send(b"", socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)
            out["send"] = "ok"
        except OSError as exc:
            out["send"] = errname(exc)
        return out

    def cleanup(self) -> None:
        for s in (self.sock, self.listener):
            if s is not None:
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
                s.close()


class Env:
    def __init__(self) -> None:
        self.sniff = LoSniffer()
        self.raw = lc.RawTcp(PEER)
        self.lock = threading.Lock()
        self.next = 0

    def ports(self) -> tuple[int, int]:
        with self.lock:
            i = self.next
            self.next += 1
        return KPORT0 + i, PPORT0 + i


def run_one(env: Env, cell: tc.Cell, mode: str) -> dict:
    errors = []
    for _attempt in range(3):
        kport, pport = env.ports()
        run = Cell(env, cell, mode, kport, pport)
        try:
            rec = run.run()
            if errors:
                rec["retried_after"] = errors
            return rec
        except SetupFailed as exc:
            errors.append(str(exc))
        finally:
            run.cleanup()
    return {"error": errors}


# --------------------------------------------------------------------------- the recording

def record(states: list[str] | None, workers: int) -> dict:
    lc.lo_up()
    lc.run(["iptables", "-w", "-A", "INPUT", "-p", "tcp", "-d", PEER, "-j", "DROP"])
    hz = lc.kernel_hz()
    sysctl = lc.read_sysctls()
    tmp = tempfile.mkdtemp(prefix="tcpmatrix")
    dump = lc.Tcpdump(os.path.join(tmp, "cap.pcap"), (0, 0), 900, bpf=f"tcp and host {PEER}", immediate=True)
    cells = [c for c in tc.generate() if states is None or c.state in states]
    jobs = [(c, "close") for c in cells] + [(c, "shutdown") for c in cells if c.state in SHUTDOWN_STATES]
    env = Env()
    dump.start()
    t0 = time.monotonic()
    try:
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(lambda job: run_one(env, *job), jobs))
    finally:
        elapsed = time.monotonic() - t0
        sniffer = env.sniff.stats()
        env.sniff.close()
        time.sleep(0.3)
        packets, tstats = lc.stop_capture(dump)
    # tcpdump must have seen every segment the AF_PACKET socket saw (and may have seen a few more, sent by
    # lingering sockets after the AF_PACKET socket was closed)
    key = ("saddr", "sport", "daddr", "dport", "seq", "ack", "flags", "len")
    pcap = Counter(tuple(p[k] for k in key) for p in packets)
    sniffed = Counter(tuple(p[k] for k in key) for v in env.sniff.by_port.values() for p in v)
    missing = sniffed - pcap
    if sniffer["drops"] or missing:
        raise lc.CaptureError(f"{sum(missing.values())} segments seen by the AF_PACKET socket are not in the pcap "
                              f"(AF_PACKET drops: {sniffer['drops']})")
    sniffer["segments"] = sum(sniffed.values())
    main = {c.id: r for (c, mode), r in zip(jobs, results, strict=True) if mode == "close"}
    variant = {c.id: r for (c, mode), r in zip(jobs, results, strict=True) if mode == "shutdown"}
    failed = sorted(k for k, r in {**main, **variant}.items() if "error" in r)
    head = lc.fact_header(
        "conformance",
        "The Linux column of the conformance matrix (tests/test_conformance.py): for every cell (state x kind of "
        "segment x SEG.SEQ position x SEG.ACK position) what a real kernel socket sent in reply, the state it was "
        "in afterwards and what its application was told.",
        f"unshare -n; ip link set lo up; iptables -A INPUT -p tcp -d {PEER} -j DROP (the kernel's segments to the "
        "raw peer are seen on lo by an AF_PACKET socket, before netfilter, and never reach a TCP that would answer "
        f"them with RSTs). The kernel socket is at {HOST}, one fresh port per cell from {KPORT0}; the raw peer at "
        f"{PEER}, one fresh port per cell from {PPORT0}, sends hand-made segments through a raw IPPROTO_TCP socket "
        f"(a SYN carries only the option MSS {PEER_MSS}; window {PEER_WIN}; its ISN {PEER_ISN}). After the cell's "
        f"segment every kernel segment on the 4-tuple is collected for {int(WINDOW_S * 1000)} ms (kernel receive "
        "timestamps of the AF_PACKET socket), then `ss -tanH state all sport = :PORT` gives the state and the "
        "application is asked: getsockopt(SO_ERROR), recv(MSG_DONTWAIT), send(b'', MSG_DONTWAIT|MSG_NOSIGNAL) "
        "(connect()'s result in SYN-SENT and SYN-RECEIVED(active), accept() on a listener). "
        f"{workers} cells run at a time, in threads. tcpdump -i lo --immediate-mode records the whole run as an "
        "independent check (the number of segments must equal the AF_PACKET socket's).",
    )
    head["tool"] = "python tools/linux_matrix.py"
    head.update({
        "hz": hz,
        "sysctl": sysctl,
        "peer": {"address": PEER, "kernel_address": HOST, "mss_option": PEER_MSS, "window": PEER_WIN,
                 "isn": PEER_ISN, "data": TEXT.decode()},
        "numbers": "seq-like numbers of the kernel's sequence space (a reply's seq, SND.UNA, SND.NXT, the cell "
                   "segment's ack) are relative to the cell's `iss` (the kernel socket's ISS), those of the peer's "
                   "(a reply's ack, RCV.NXT, the cell segment's seq) to `irs` (the peer's ISN), as signed 32-bit "
                   "differences; where `iss` or `irs` is null (CLOSED, LISTEN; `irs` in SYN-SENT) the number is "
                   "absolute, as the cell's 'any:N' is. A LISTEN SYN-ACK's seq is written \"ISS\" (it is the new "
                   "connection's ISS), an RST's seq of 0 (the <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> that answers "
                   "a segment without ACK) \"0\". tcb.rcv_wnd is the window field of the kernel's last segment "
                   "before the cell's segment, and is the RCV.WND the cell's SEQ position was computed with.",
        "reply_window_ms": WINDOW_S * 1000,
        "rtt_delay_ms": RTT_DELAY * 1000,
        "rtt_note": "the raw peer answers the kernel's SYN rtt_delay_ms late, so the kernel's first RTT sample m is "
                    "about that and its RTO (m + max(2 m, 200 ms) = ~600 ms, tcp_rtt_estimator/__tcp_set_rto) fires "
                    "well after the reply window, as does the 1 s initial RTO of SYN and SYN-ACK (no SACK, so no tail "
                    "loss probe). flight_age_ms: how long before the cell's segment the kernel last sent a SYN, "
                    "data or a FIN.",
        "rate_limits": "each cell has its own socket, so tcp_invalid_ratelimit (per socket, 500 ms) never drops an "
                       "ACK for an out-of-window segment or a challenge ACK; tcp_challenge_ack_limit (per namespace) "
                       "is recorded under sysctl",
        "states": STATES_HOW,
        "variant": "cells_shutdown: FIN-WAIT-1, FIN-WAIT-2, CLOSING and LAST-ACK reached with shutdown(SHUT_WR) "
                   "instead of close(), so the socket is not orphaned and its application can be asked. `cells` "
                   "(the main record) uses close(), as the matrix's application does in the simulator.",
        "elapsed_s": round(elapsed, 1),
        "workers": workers,
        "sniffer": sniffer,
        "tcpdump": {"command": lc.tcpdump_cmd(dump), "stats": tstats},
        "counts": {"cells": len(main), "cells_shutdown": len(variant), "failed": failed},
        "cells": main,
        "cells_shutdown": variant,
    })
    return head


def dump_json(data: dict, path: Path) -> None:
    """Header fields indented, one cell per line."""
    lines = ["{"]
    keys = list(data)
    for i, k in enumerate(keys):
        comma = "," if i < len(keys) - 1 else ""
        if k in ("cells", "cells_shutdown"):
            cells = data[k]
            lines.append(f" {json.dumps(k)}: {{")
            ids = list(cells)
            for j, cid in enumerate(ids):
                lines.append(f"  {json.dumps(cid)}: {json.dumps(cells[cid], ensure_ascii=False)}"
                             + ("," if j < len(ids) - 1 else ""))
            lines.append(" }" + comma)
        else:
            body = json.dumps(data[k], indent=1, ensure_ascii=False).replace("\n", "\n ")
            lines.append(f" {json.dumps(k)}: {body}{comma}")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Record the Linux column of the conformance matrix (run as root).")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--state", action="append", choices=list(tc.STATES), help="only these states (repeatable)")
    ap.add_argument("--workers", type=int, default=WORKERS)
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if not args.inner:
        if os.geteuid() != 0:
            lc.die("must be run as root (needs a network namespace, iptables, raw and packet sockets)")
        for tool in ("tcpdump", "iptables", "ip", "ss", "unshare", "timeout"):
            if shutil.which(tool) is None:
                lc.die(f"'{tool}' not found in PATH")
        cmd = ["unshare", "-n", sys.executable, os.path.abspath(__file__), "--inner", "--out",
               os.path.abspath(args.out), "--workers", str(args.workers)]
        for st in args.state or []:
            cmd += ["--state", st]
        return subprocess.run(cmd, timeout=900).returncode
    try:
        data = record(args.state, args.workers)
    except lc.CaptureError as exc:
        lc.die(str(exc), 1)
    dump_json(data, Path(args.out))
    c = data["counts"]
    print(f"wrote {args.out}: {c['cells']} cells, {c['cells_shutdown']} shutdown variants, "
          f"{len(c['failed'])} failed, {data['elapsed_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
