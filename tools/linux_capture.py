#!/usr/bin/env python3
"""Record what a real Linux kernel does for a short TCP connection on loopback.

For every *case* the script runs one connection between a client bound to
127.0.0.1:40000 and a server listening on 127.0.0.1:5000, inside a fresh,
private network namespace (so no earlier TIME_WAIT socket, route metric or
sysctl change from another case can interfere, and no traffic ever leaves the
namespace).  At most one segment is lost: an iptables rule in the INPUT chain
drops it after it has been sent (tcpdump on ``lo`` sees it go out once, the
sender does not know).  The script records

* every segment (from a pcap written by tcpdump, parsed here),
* every TCP state change reported by the kernel tracepoint
  ``sock:inet_sock_set_state`` (or, if tracefs cannot be used, states sampled
  by polling ``ss``; the JSON then says ``"states_method": "ss-polling"``),

and writes one JSON file per case (see ``src/tcpsim/data/linux/README.md``).

Usage (as root)::

    python3 tools/linux_capture.py [--out DIR] [--case NAME ...] [--list]
    python3 tools/linux_capture.py FACT [--out DIR]
    python3 tools/linux_capture.py samples [--sample NAME ...] [--out DIR]

where FACT is one of tw-syn, delack, tw-reuse, syncookie, rst-close, keepalive,
linger, observe (single experiments on kernel behaviour, each writing
src/tcpsim/data/linux/FACT.json), or
``facts`` for all of them at once (each in its own namespace, in parallel).
``samples`` records the pcap files the capture explainer is tested on
(tests/data/captures/, described in its README).

Only the Python 3.11 standard library is used; tcpdump, iptables, ip, ss,
unshare, nsenter, mount and nstat are called as subprocesses.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

SERVER_ADDR = ("127.0.0.1", 5000)
CLIENT_ADDR = ("127.0.0.1", 40000)
CLIENT_CLOSE_AT = 2.0  # seconds after the start of connect()
SETTLE_AFTER_CLOSE = 4.0  # keep capturing this long after the last close()
BACKLOG = 128
CHILD_EHASH_ENTRIES = 1024

TRACEFS_CANDIDATES = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
TRACE_EVENT = "events/sock/inet_sock_set_state"

DEFAULT_OUT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src", "tcpsim", "data", "linux"
)

# Expected loss-free exchanges.  Each entry: (sender, flags).  A lossy case
# drops the segment at that position; the iptables rule matches the sender's
# direction and the exact flags and drops the nth such segment.
EXPECTED = {
    0.0: [
        ("client", "S"),
        ("server", "SA"),
        ("client", "A"),
        ("client", "FA"),
        ("server", "FA"),
        ("client", "A"),
    ],
    1.0: [
        ("client", "S"),
        ("server", "SA"),
        ("client", "A"),
        ("client", "FA"),
        ("server", "A"),
        ("server", "FA"),
        ("client", "A"),
    ],
}

SEGMENT_NAMES = {
    ("client", "S"): "SYN from the client",
    ("server", "SA"): "SYN-ACK from the server",
    ("client", "A"): "pure ACK from the client",
    ("server", "A"): "pure ACK from the server",
    ("client", "FA"): "FIN (FIN+ACK) from the client",
    ("server", "FA"): "FIN (FIN+ACK) from the server",
}

ORDINAL = {1: "first", 2: "second", 3: "third"}

STATE_NAMES = {
    "TCP_ESTABLISHED": "ESTABLISHED",
    "TCP_SYN_SENT": "SYN_SENT",
    "TCP_SYN_RECV": "SYN_RECEIVED",
    "TCP_FIN_WAIT1": "FIN_WAIT_1",
    "TCP_FIN_WAIT2": "FIN_WAIT_2",
    "TCP_TIME_WAIT": "TIME_WAIT",
    "TCP_CLOSE": "CLOSED",
    "TCP_CLOSE_WAIT": "CLOSE_WAIT",
    "TCP_LAST_ACK": "LAST_ACK",
    "TCP_LISTEN": "LISTEN",
    "TCP_CLOSING": "CLOSING",
    "TCP_NEW_SYN_RECV": "NEW_SYN_RECV",
}

SS_STATE_NAMES = {
    "ESTAB": "ESTABLISHED",
    "SYN-SENT": "SYN_SENT",
    "SYN-RECV": "SYN_RECEIVED",
    "FIN-WAIT-1": "FIN_WAIT_1",
    "FIN-WAIT-2": "FIN_WAIT_2",
    "TIME-WAIT": "TIME_WAIT",
    "UNCONN": "CLOSED",
    "CLOSE-WAIT": "CLOSE_WAIT",
    "LAST-ACK": "LAST_ACK",
    "LISTEN": "LISTEN",
    "CLOSING": "CLOSING",
    "CLOSED": "CLOSED",
}

SYSCTLS = [
    "tcp_syn_retries",
    "tcp_synack_retries",
    "tcp_fin_timeout",
    "tcp_rfc1337",
    "tcp_syncookies",
    "tcp_timestamps",
    "tcp_sack",
    "tcp_dsack",
    "tcp_window_scaling",
    "tcp_ecn",
    "tcp_retries1",
    "tcp_retries2",
    "tcp_orphan_retries",
    "tcp_tw_reuse",
    "tcp_max_tw_buckets",
    "tcp_max_syn_backlog",
    "tcp_abort_on_overflow",
    "tcp_early_retrans",
    "tcp_frto",
    "tcp_thin_linear_timeouts",
    "tcp_no_metrics_save",
    "tcp_fastopen",
    "tcp_autocorking",
    "tcp_rto_min_us",
    "tcp_rto_max_ms",
    "tcp_syn_linear_timeouts",
    "tcp_congestion_control",
    "tcp_pingpong_thresh",
    "tcp_backlog_ack_defer",
    "tcp_tw_reuse_delay",
]


class CaptureError(Exception):
    """A failure that must stop the run with a clear one-line message."""


class UnexpectedExchange(CaptureError):
    """The exchange differs from the expected one (usually a timing race); the case is retried."""


EXIT_UNEXPECTED = 3
MAX_ATTEMPTS = 3


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------


def build_cases() -> dict[str, dict]:
    cases: dict[str, dict] = {}
    for delay, expected in EXPECTED.items():
        prefix = "close0" if delay == 0.0 else "close1"
        if delay == 0.0:
            what = "the server closes as soon as it reads EOF"
        else:
            what = "the server closes 1.0 s after it reads EOF"
        cases[f"{prefix}-none"] = {
            "server_close_delay": delay,
            "drop": None,
            "description": f"{what}; no segment is lost",
        }
        for pos, (src, flags) in enumerate(expected, start=1):
            nth = sum(1 for s, f in expected[:pos] if (s, f) == (src, flags))
            label = f"the {ORDINAL[nth]} {SEGMENT_NAMES[(src, flags)]}"
            cases[f"{prefix}-lose-{pos}"] = {
                "server_close_delay": delay,
                "drop": {"src": src, "flags": flags, "nth": nth, "position": pos},
                "description": f"{what}; {label} (segment {pos} of the loss-free exchange) is lost",
            }
    return cases


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def run(cmd: list[str], check: bool = True, timeout: float = 20.0) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise CaptureError(f"command timed out: {' '.join(cmd)}") from exc
    if check and proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        raise CaptureError(f"command failed ({proc.returncode}): {' '.join(cmd)}: {msg[-1] if msg else ''}")
    return proc


def mono_to_real_offset() -> float:
    """Return realtime - monotonic (seconds), measured as tightly as possible."""
    best = None
    for _ in range(20):
        a = time.monotonic()
        r = time.time()
        b = time.monotonic()
        if best is None or b - a < best[0]:
            best = (b - a, r - (a + b) / 2.0)
    return best[1]


def flags_to_letters(flags: int) -> str:
    out = ""
    for bit, letter in ((0x02, "S"), (0x01, "F"), (0x04, "R"), (0x08, "P"), (0x10, "A")):
        if flags & bit:
            out += letter
    # Not expected here; kept visible rather than silently ignored.
    for bit, letter in ((0x20, "U"), (0x40, "E"), (0x80, "C")):
        if flags & bit:
            out += letter
    return out


IPT_FLAG_NAMES = {"S": "SYN", "F": "FIN", "R": "RST", "P": "PSH", "A": "ACK"}
IPT_ALL_MASK = 0x3F  # iptables "ALL" = FIN,SYN,RST,PSH,ACK,URG


def letters_to_bits(letters: str) -> int:
    bits = 0
    for letter, bit in (("S", 0x02), ("F", 0x01), ("R", 0x04), ("P", 0x08), ("A", 0x10)):
        if letter in letters:
            bits |= bit
    return bits


# --------------------------------------------------------------------------
# pcap parsing
# --------------------------------------------------------------------------


def parse_pcap(path: str) -> list[dict]:
    with open(path, "rb") as fh:
        data = fh.read()
    if len(data) < 24:
        raise CaptureError("pcap file is empty or truncated")
    magic_le = struct.unpack("<I", data[:4])[0]
    if magic_le in (0xA1B2C3D4, 0xA1B23C4D):
        endian = "<"
    else:
        magic_be = struct.unpack(">I", data[:4])[0]
        if magic_be in (0xA1B2C3D4, 0xA1B23C4D):
            endian = ">"
        else:
            raise CaptureError("not a pcap file (pcapng is not supported)")
    magic = struct.unpack(endian + "I", data[:4])[0]
    frac_div = 1e9 if magic == 0xA1B23C4D else 1e6
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    packets = []
    off = 24
    while off + 16 <= len(data):
        ts_sec, ts_frac, incl, _orig = struct.unpack(endian + "IIII", data[off : off + 16])
        off += 16
        frame = data[off : off + incl]
        off += incl
        ts = ts_sec + ts_frac / frac_div
        ip = link_payload(linktype, frame)
        pkt = parse_ipv4_tcp(ip) if ip is not None else None
        if pkt is None:
            continue
        pkt["ts"] = ts
        packets.append(pkt)
    return packets


def parse_ipv4_tcp(ip: bytes) -> dict | None:
    """Decode an IPv4 packet carrying TCP (None for anything else).

    Besides addresses, ports, seq, ack, flags and payload length the result
    has the window and the options the facts need: "mss", "wscale",
    "sackok", "tsval"/"tsecr" (absent when the option is absent).
    """
    if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
        return None
    ihl = (ip[0] & 0x0F) * 4
    total_len = struct.unpack("!H", ip[2:4])[0]
    tcp = ip[ihl:total_len] if total_len >= ihl else ip[ihl:]
    if len(tcp) < 20:
        return None
    sport, dport, seq, ack = struct.unpack("!HHII", tcp[:12])
    doff = (tcp[12] >> 4) * 4
    flags = tcp[13]
    win = struct.unpack("!H", tcp[14:16])[0]
    pkt = {
        "saddr": socket.inet_ntoa(ip[12:16]),
        "daddr": socket.inet_ntoa(ip[16:20]),
        "sport": sport,
        "dport": dport,
        "seq": seq,
        "ack": ack,
        "flags": flags,
        "len": total_len - ihl - doff,
        "win": win,
    }
    opts = tcp[20:doff]
    i = 0
    while i < len(opts):
        kind = opts[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(opts) or opts[i + 1] < 2:
            break
        olen = opts[i + 1]
        body = opts[i + 2 : i + olen]
        if kind == 2 and len(body) == 2:
            pkt["mss"] = struct.unpack("!H", body)[0]
        elif kind == 3 and len(body) == 1:
            pkt["wscale"] = body[0]
        elif kind == 4:
            pkt["sackok"] = True
        elif kind == 8 and len(body) == 8:
            pkt["tsval"], pkt["tsecr"] = struct.unpack("!II", body)
        i += olen
    return pkt


def link_payload(linktype: int, frame: bytes) -> bytes | None:
    if linktype == 1:  # Ethernet (what Linux uses for lo)
        if len(frame) < 14:
            return None
        etype = struct.unpack("!H", frame[12:14])[0]
        off = 14
        while etype == 0x8100 and len(frame) >= off + 4:
            etype = struct.unpack("!H", frame[off + 2 : off + 4])[0]
            off += 4
        return frame[off:] if etype == 0x0800 else None
    if linktype == 113:  # Linux cooked v1
        return frame[16:] if struct.unpack("!H", frame[14:16])[0] == 0x0800 else None
    if linktype == 276:  # Linux cooked v2
        return frame[20:] if struct.unpack("!H", frame[0:2])[0] == 0x0800 else None
    if linktype == 0:  # BSD loopback
        return frame[4:]
    if linktype in (12, 14, 101, 228):  # raw IP
        return frame
    raise CaptureError(f"unsupported pcap link type {linktype}")


# --------------------------------------------------------------------------
# State recording: tracepoint or ss polling
# --------------------------------------------------------------------------


def find_tracefs() -> str | None:
    for cand in TRACEFS_CANDIDATES:
        if os.path.isdir(os.path.join(cand, TRACE_EVENT)):
            return cand
    cand = TRACEFS_CANDIDATES[0]
    if os.path.isdir(cand):
        subprocess.run(["mount", "-t", "tracefs", "nodev", cand], capture_output=True, timeout=10)
        if os.path.isdir(os.path.join(cand, TRACE_EVENT)):
            return cand
    return None


TRACE_LINE = re.compile(
    r"\s(?P<ts>\d+\.\d+):\s+inet_sock_set_state:.*?"
    r"sport=(?P<sport>\d+) dport=(?P<dport>\d+) saddr=(?P<saddr>[\d.]+) daddr=(?P<daddr>[\d.]+)"
    r".*?oldstate=(?P<old>\w+) newstate=(?P<new>\w+)"
)


class TraceRecorder:
    """Record sock:inet_sock_set_state in a private ftrace instance."""

    method = "tracepoint"

    def __init__(self, tracefs: str, ports: tuple[int, int]):
        self.tracefs = tracefs
        self.ports = ports
        self.inst = os.path.join(tracefs, "instances", f"tcpsim_capture_{os.getpid()}")

    def _write(self, rel: str, value: str) -> None:
        with open(os.path.join(self.inst, rel), "w") as fh:
            fh.write(value)

    def start(self) -> None:
        if os.path.isdir(self.inst):
            os.rmdir(self.inst)
        os.mkdir(self.inst)
        self._write("trace_clock", "mono")  # CLOCK_MONOTONIC, same as time.monotonic()
        self._write("buffer_size_kb", "1024")
        p1, p2 = self.ports
        filt = f"family == 2 && (sport == {p1} || dport == {p1} || sport == {p2} || dport == {p2})"
        self._write(TRACE_EVENT + "/filter", filt)
        self._write(TRACE_EVENT + "/enable", "1")
        self._write("tracing_on", "1")

    def stop(self) -> list[dict]:
        self._write("tracing_on", "0")
        with open(os.path.join(self.inst, "trace")) as fh:
            text = fh.read()
        self._write(TRACE_EVENT + "/enable", "0")
        events = []
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            m = TRACE_LINE.search(line)
            if not m:
                continue
            events.append(
                {
                    "mono": float(m["ts"]),
                    "sport": int(m["sport"]),
                    "dport": int(m["dport"]),
                    "from": STATE_NAMES.get(m["old"], m["old"]),
                    "to": STATE_NAMES.get(m["new"], m["new"]),
                }
            )
        if "LOST" in text and re.search(r"LOST \d+ EVENTS", text):
            raise CaptureError("the trace buffer lost events")
        return events

    def cleanup(self) -> None:
        try:
            if os.path.isdir(self.inst):
                try:
                    self._write(TRACE_EVENT + "/enable", "0")
                except OSError:
                    pass
                os.rmdir(self.inst)
        except OSError:
            pass


class SsPoller:
    """Fallback: sample `ss -tan state all` every few ms (short states may be missed)."""

    method = "ss-polling"

    def __init__(self, ports: tuple[int, int]):
        self.ports = ports
        self.events: list[dict] = []
        self._last: dict[tuple[int, int], str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            t = time.monotonic()
            out = subprocess.run(["ss", "-tanH", "state", "all"], capture_output=True, text=True).stdout
            seen: dict[tuple[int, int], str] = {}
            for line in out.splitlines():
                parts = line.split()
                if len(parts) < 5:
                    continue
                state = SS_STATE_NAMES.get(parts[0], parts[0])
                lport = int(parts[3].rsplit(":", 1)[1])
                pstr = parts[4].rsplit(":", 1)[1]
                pport = 0 if pstr == "*" else int(pstr)
                if lport in self.ports or pport in self.ports:
                    seen[(lport, pport)] = state
            for key in set(self._last) | set(seen):
                old = self._last.get(key, "CLOSED")
                new = seen.get(key, "CLOSED")
                if old != new:
                    self.events.append({"mono": t, "sport": key[0], "dport": key[1], "from": old, "to": new})
            self._last = seen
            time.sleep(0.002)

    def stop(self) -> list[dict]:
        self._stop.set()
        self._thread.join(5)
        return list(self.events)

    def cleanup(self) -> None:
        self._stop.set()


PROC_STATES = {
    1: "ESTABLISHED",
    2: "SYN_SENT",
    3: "SYN_RECEIVED",
    4: "FIN_WAIT_1",
    5: "FIN_WAIT_2",
    6: "TIME_WAIT",
    7: "CLOSED",
    8: "CLOSE_WAIT",
    9: "LAST_ACK",
    10: "LISTEN",
    11: "CLOSING",
}


def proc_poll_main(ports: list[int], period: float, max_seconds: float) -> None:
    """Child process: sample /proc/net/tcp and print every change as a JSON line.

    /proc/net/tcp lists full sockets, request sockets (state SYN_RECV) and
    timewait mini-sockets (timer field 3; their state column is the substate,
    FIN_WAIT_2 or TIME_WAIT), so this sees what the tracepoint cannot.
    """
    last: dict = {}
    prev_t = time.monotonic()
    end = prev_t + max_seconds
    while True:
        t = time.monotonic()
        if t > end:
            break
        with open("/proc/net/tcp") as fh:
            text = fh.read()
        seen = {}
        for line in text.splitlines()[1:]:
            f = line.split()
            if len(f) < 10:
                continue
            lport = int(f[1].split(":")[1], 16)
            rport = int(f[2].split(":")[1], 16)
            if lport not in ports and rport not in ports:
                continue
            state = int(f[3], 16)
            timer = int(f[5].split(":")[0], 16)
            inode = int(f[9])
            if timer == 3:
                kind = "timewait"
            elif state == 3 and inode == 0:
                kind = "request"
            else:
                kind = "full"
            seen[(lport, rport)] = (PROC_STATES.get(state, str(state)), kind)
        for key in sorted(set(last) | set(seen)):
            old = last.get(key, ("CLOSED", "none"))
            new = seen.get(key, ("CLOSED", "none"))
            if old != new:
                print(
                    json.dumps({"mono": t, "mono_prev": prev_t, "lport": key[0], "rport": key[1],
                                "from": old[0], "from_socket": old[1], "to": new[0], "to_socket": new[1]}),
                    flush=True,
                )
        last = seen
        prev_t = t
        time.sleep(period)


class ProcPoller:
    """Run proc_poll_main in a separate process (so it does not hold our GIL)."""

    PERIOD = 0.001

    def __init__(self, ports: tuple[int, int], max_seconds: float):
        self.cmd = [sys.executable, os.path.abspath(__file__), "--poll-proc",
                    ",".join(map(str, ports)), "--poll-max", str(max_seconds)]
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def stop(self) -> list[dict]:
        if self.proc is None:
            return []
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()


# --------------------------------------------------------------------------
# tcpdump
# --------------------------------------------------------------------------


class Tcpdump:
    """tcpdump writing a pcap, bounded by `timeout`.

    The defaults are those of the close* cases (lo, the two ports, no
    --immediate-mode); the facts pass an interface, their own filter and
    immediate=True (without --immediate-mode the last packets can be lost).
    """

    def __init__(self, pcap: str, ports: tuple[int, int], max_seconds: float, iface: str = "lo",
                 bpf: str | None = None, immediate: bool = False):
        self.pcap = pcap
        p1, p2 = ports
        # `timeout` guarantees the capture ends by itself even if we never signal it.
        self.cmd = [
            "timeout",
            "--signal=INT",
            str(int(max_seconds)),
            "tcpdump",
            "-i",
            iface,
            "-nn",
            "-tt",
            "-S",
            "-U",
            "-s",
            "256",
            "--time-stamp-precision=nano",
        ]
        if immediate:
            self.cmd.append("--immediate-mode")
        self.cmd += ["-w", pcap, bpf if bpf is not None else f"tcp and (port {p1} or port {p2})"]
        self.proc: subprocess.Popen | None = None
        self.stderr_lines: list[str] = []
        self._ready = threading.Event()

    def start(self) -> None:
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read_stderr, daemon=True).start()
        if not self._ready.wait(10):
            self.stop()
            raise CaptureError("tcpdump did not start: " + " | ".join(self.stderr_lines[-3:]))
        time.sleep(0.2)

    def _read_stderr(self) -> None:
        assert self.proc and self.proc.stderr
        for line in self.proc.stderr:
            self.stderr_lines.append(line.rstrip())
            if "listening on" in line:
                self._ready.set()
        self._ready.set()

    def stop(self) -> dict:
        if self.proc is None:
            return {}
        time.sleep(0.2)
        if self.proc.poll() is None:
            # signal tcpdump itself (child of `timeout`), fall back to timeout
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        time.sleep(0.1)
        stats = {}
        for line in self.stderr_lines:
            m = re.match(r"(\d+) packets? (captured|received by filter|dropped by kernel)", line)
            if m:
                stats[m.group(2)] = int(m.group(1))
        return stats


# --------------------------------------------------------------------------
# iptables
# --------------------------------------------------------------------------


def install_drop_rules(drop: dict) -> list[dict]:
    """Drop exactly the nth segment with exactly `flags` sent by drop['src'].

    Each rule carries its own `limit` bucket with burst 1 and a refill rate of
    1/day, so it matches exactly one packet during the capture.  For nth > 1,
    nth-1 ACCEPT rules (each letting one matching segment through) precede the
    DROP rule.
    """
    if drop["src"] == "client":
        sport, dport = CLIENT_ADDR[1], SERVER_ADDR[1]
    else:
        sport, dport = SERVER_ADDR[1], CLIENT_ADDR[1]
    flag_list = ",".join(IPT_FLAG_NAMES[c] for c in drop["flags"])
    base = [
        "-p",
        "tcp",
        "-s",
        "127.0.0.1",
        "-d",
        "127.0.0.1",
        "--sport",
        str(sport),
        "--dport",
        str(dport),
        "--tcp-flags",
        "ALL",
        flag_list,
        "-m",
        "limit",
        "--limit",
        "1/day",
        "--limit-burst",
        "1",
    ]
    rules = []
    for i in range(drop["nth"]):
        target = "DROP" if i == drop["nth"] - 1 else "ACCEPT"
        spec = base + ["-j", target]
        run(["iptables", "-w", "-A", "INPUT"] + spec)
        rules.append({"rule": "iptables -A INPUT " + " ".join(spec), "target": target})
    return rules


def read_rule_counters() -> list[int]:
    out = run(["iptables", "-w", "-L", "INPUT", "-v", "-n", "-x"]).stdout
    counts = []
    for line in out.splitlines()[2:]:
        parts = line.split()
        if parts and parts[0].isdigit():
            counts.append(int(parts[0]))
    return counts


# --------------------------------------------------------------------------
# One case (runs inside its own network namespace)
# --------------------------------------------------------------------------


def ss_snapshot(ports: tuple[int, int]) -> list[str]:
    out = run(["ss", "-tanoiH", "state", "all"], check=False).stdout
    lines = []
    buf = ""
    for raw in out.splitlines():
        if raw[:1].isspace() or raw.startswith("\t"):
            buf += " " + raw.strip()
        else:
            if buf:
                lines.append(buf)
            buf = raw.strip()
    if buf:
        lines.append(buf)
    keep = []
    for line in lines:
        if any(f":{p} " in line + " " for p in ports):
            keep.append(re.sub(r"\s+", " ", line))
    return keep


def run_case(name: str, case: dict) -> dict:
    ports = (SERVER_ADDR[1], CLIENT_ADDR[1])
    delay = case["server_close_delay"]
    drop = case["drop"]

    run(["ip", "link", "set", "lo", "up"])
    sysctl = {}
    for key in SYSCTLS:
        path = f"/proc/sys/net/ipv4/{key}"
        if os.path.exists(path):
            with open(path) as fh:
                val = fh.read().strip()
            sysctl[key] = int(val) if re.fullmatch(r"-?\d+", val) else val

    run(["iptables", "-w", "-F", "INPUT"])
    rules = install_drop_rules(drop) if drop else []

    tracefs = find_tracefs()
    recorder = TraceRecorder(tracefs, ports) if tracefs else SsPoller(ports)
    tmpdir = tempfile.mkdtemp(prefix="tcpcap")
    pcap = os.path.join(tmpdir, "cap.pcap")
    dump = Tcpdump(pcap, ports, max_seconds=40)
    poller = ProcPoller(ports, max_seconds=40)
    app: list[tuple[str, float]] = []
    errors: list[str] = []
    ss_before_close: list[str] = []

    def mark(what: str) -> None:
        app.append((what, time.monotonic()))

    listener = None
    try:
        recorder.start()
        dump.start()
        poller.start()
        time.sleep(0.1)

        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(SERVER_ADDR)
        listener.listen(BACKLOG)
        listener.settimeout(15)
        mark("server_listen")

        def server() -> None:
            try:
                conn, _ = listener.accept()
                mark("server_accept_returned")
                conn.settimeout(15)
                while True:
                    data = conn.recv(4096)
                    if not data:
                        break
                mark("server_read_eof")
                if delay:
                    time.sleep(delay)
                mark("server_close_called")
                conn.close()
            except Exception as exc:  # noqa: BLE001 - reported in JSON and as failure
                errors.append(f"server: {exc!r}")

        srv = threading.Thread(target=server, daemon=True)
        srv.start()
        time.sleep(0.2)

        cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        cli.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        cli.bind(CLIENT_ADDR)
        cli.settimeout(15)
        t0 = time.monotonic()
        mark("client_connect_called")
        cli.connect(SERVER_ADDR)
        mark("client_connect_returned")
        wait = t0 + CLIENT_CLOSE_AT - 0.1 - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        ss_before_close = ss_snapshot(ports)
        wait = t0 + CLIENT_CLOSE_AT - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        mark("client_close_called")
        cli.close()

        srv.join(20)
        if srv.is_alive():
            errors.append("server thread did not finish")
        last_close = max(t for w, t in app if w.endswith("close_called"))
        wait = last_close + SETTLE_AFTER_CLOSE - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        ss_end = ss_snapshot(ports)
        raw_states = recorder.stop()
        sampled_raw = poller.stop()
        off = mono_to_real_offset()
        stats = dump.stop()
        counters = read_rule_counters()
    finally:
        recorder.cleanup()
        poller.cleanup()
        if listener is not None:
            listener.close()
        subprocess.run(["iptables", "-w", "-F", "INPUT"], capture_output=True, timeout=10)
        if dump.proc and dump.proc.poll() is None:
            dump.proc.kill()

    if errors:
        raise CaptureError(f"{name}: " + "; ".join(errors))
    if stats.get("dropped by kernel", 0):
        raise CaptureError(f"{name}: tcpdump reports packets dropped by the kernel")

    packets = parse_pcap(pcap)
    shutil.rmtree(tmpdir, ignore_errors=True)
    if not packets:
        raise CaptureError(f"{name}: no packets captured")

    # Which side sent what
    def side(port: int) -> str:
        return "client" if port == CLIENT_ADDR[1] else "server"

    isn = {}
    for p in packets:
        s = side(p["sport"])
        if p["flags"] & 0x02 and s not in isn:
            isn[s] = p["seq"]
    if set(isn) != {"client", "server"}:
        raise CaptureError(f"{name}: did not see both SYN and SYN-ACK")
    first_syn = next(p["ts"] for p in packets if p["flags"] & 0x02 and side(p["sport"]) == "client")

    segments = []
    for p in packets:
        s = side(p["sport"])
        d = "server" if s == "client" else "client"
        has_ack = bool(p["flags"] & 0x10)
        segments.append(
            {
                "t": round(p["ts"] - first_syn, 6),
                "src": s,
                "dst": d,
                "flags": flags_to_letters(p["flags"]),
                "seq": (p["seq"] - isn[s]) % 2**32,
                "ack": ((p["ack"] - isn[d]) % 2**32) if has_ack else None,
                "len": p["len"],
                "dropped": False,
                "_bits": p["flags"] & IPT_ALL_MASK,
            }
        )

    # Mark the dropped segment: the nth segment of that sender with exactly those flags.
    drop_info = None
    if drop:
        want = letters_to_bits(drop["flags"])
        matches = [i for i, sg in enumerate(segments) if sg["src"] == drop["src"] and sg["_bits"] == want]
        if len(matches) < drop["nth"]:
            raise CaptureError(f"{name}: fewer than {drop['nth']} segments match the drop rule")
        idx = matches[drop["nth"] - 1]
        segments[idx]["dropped"] = True
        if len(counters) != len(rules) or any(c != 1 for c in counters):
            raise CaptureError(f"{name}: iptables rule counters are {counters}, expected exactly 1 each")
        drop_info = {
            "src": drop["src"],
            "flags": drop["flags"],
            "nth": drop["nth"],
            "position": drop["position"],
            "index_in_segments": idx,
            "iptables_rules": [r["rule"] for r in rules],
            "iptables_packet_counters": counters,
        }
        # In a lossy case everything before the drop must equal the loss-free exchange.
        expected = EXPECTED[delay]
        got = [(sg["src"], sg["flags"]) for sg in segments[: idx + 1]]
        if got != expected[: drop["position"]]:
            raise UnexpectedExchange(f"{name}: exchange before the drop {got} differs from the expected "
                                     f"{expected[: drop['position']]}")
    else:
        got = [(sg["src"], sg["flags"]) for sg in segments]
        if got != EXPECTED[delay]:
            raise UnexpectedExchange(f"{name}: loss-free exchange {got} differs from the expected {EXPECTED[delay]}")
    for sg in segments:
        del sg["_bits"]

    def rel(mono: float) -> float:
        return round(mono + off - first_syn, 6)

    states: dict[str, list] = {"client": [], "server": [], "listener": []}
    for ev in raw_states:
        if ev["sport"] == CLIENT_ADDR[1] and ev["dport"] == SERVER_ADDR[1]:
            key = "client"
        elif ev["sport"] == SERVER_ADDR[1] and ev["dport"] == CLIENT_ADDR[1]:
            key = "server"
        elif ev["sport"] == SERVER_ADDR[1] and ev["dport"] == 0:
            key = "listener"
        else:
            continue
        states[key].append({"t": rel(ev["mono"]), "from": ev["from"], "to": ev["to"]})

    sampled: dict[str, list] = {"client": [], "server": [], "listener": []}
    for ev in sampled_raw:
        if ev["lport"] == CLIENT_ADDR[1] and ev["rport"] == SERVER_ADDR[1]:
            key = "client"
        elif ev["lport"] == SERVER_ADDR[1] and ev["rport"] == CLIENT_ADDR[1]:
            key = "server"
        elif ev["lport"] == SERVER_ADDR[1] and ev["rport"] == 0:
            key = "listener"
        else:
            continue
        sampled[key].append(
            {
                "t": rel(ev["mono"]),
                "t_prev_sample": rel(ev["mono_prev"]),
                "from": ev["from"],
                "to": ev["to"],
                "from_socket": ev["from_socket"],
                "to_socket": ev["to_socket"],
            }
        )

    def tw_seen(local_port: int) -> bool:
        return any(line.startswith("TIME-WAIT") and line.split()[3].endswith(f":{local_port}") for line in ss_end)

    def rto_of(local_port: int, peer_port: int) -> float | None:
        for line in ss_before_close:
            parts = line.split()
            if len(parts) > 4 and parts[3].endswith(f":{local_port}") and parts[4].endswith(f":{peer_port}"):
                m = re.search(r"\brto:(\d+(?:\.\d+)?)", line)
                return float(m.group(1)) if m else None
        return None

    return {
        "case": name,
        "description": case["description"],
        "server_close_delay": float(delay),
        "drop": drop_info,
        "kernel": os.uname().release,
        "sysctl": sysctl,
        "states_method": recorder.method,
        "ports": {"server": SERVER_ADDR[1], "client": CLIENT_ADDR[1], "address": "127.0.0.1"},
        "namespace": "fresh network namespace (unshare -n) for this case only",
        "segments": segments,
        "states": states,
        "sampled_states": {
            "method": "/proc/net/tcp sampled about every 1 ms by a separate process, in addition to "
            "'states'. A change happened between t_prev_sample and t. Unlike the tracepoint this also "
            "sees request sockets ('request', shown as SYN_RECEIVED) and timewait mini-sockets "
            "('timewait', whose state is their substate FIN_WAIT_2 or TIME_WAIT). Short states can be missed.",
            **sampled,
        },
        "app_events": [{"t": rel(t), "event": w} for w, t in app],
        "time_wait": {
            "client": tw_seen(CLIENT_ADDR[1]),
            "server": tw_seen(SERVER_ADDR[1]),
            "how": "TIME-WAIT socket listed by `ss -tan` at the end of the capture. The tracepoint "
            "never reports TIME_WAIT: when a socket enters TIME_WAIT the kernel hands the connection "
            "to a timewait mini-socket and reports the full socket's change to CLOSED.",
        },
        "rto_ms_before_client_close": {
            "client": rto_of(CLIENT_ADDR[1], SERVER_ADDR[1]),
            "server": rto_of(SERVER_ADDR[1], CLIENT_ADDR[1]),
        },
        "ss_before_client_close": ss_before_close,
        "ss_at_end": ss_end,
        "tcpdump": {
            "command": "tcpdump -i lo -nn -tt -S -U --time-stamp-precision=nano -w FILE "
            f"'tcp and (port {ports[0]} or port {ports[1]})'",
            "stats": stats,
        },
    }


# --------------------------------------------------------------------------
# Facts: single-purpose experiments, one subcommand each
# --------------------------------------------------------------------------
#
#   python3 tools/linux_capture.py tw-syn | delack | tw-reuse | syncookie | rst-close
#                                  | keepalive | linger | observe
#   python3 tools/linux_capture.py facts          # all of them, in parallel
#
# Each runs in its own fresh network namespace (`unshare -n`; tw-reuse adds a
# second one joined by a veth pair, 10.200.0.1/24 <-> 10.200.0.2/24, which
# exists only inside these two namespaces) and writes src/tcpsim/data/linux/<name>.json
# (see the README there).  No traffic leaves the namespaces.

FACT_SYSCTLS = SYSCTLS + [
    "tcp_invalid_ratelimit",
    "tcp_challenge_ack_limit",
    "tcp_comp_sack_delay_ns",
    "ip_local_port_range",
    "tcp_max_orphans",
]

CLONE_NEWNET = 0x40000000
SEQ_MOD = 2**32


def sdiff(a: int, b: int) -> int:
    """a - b in sequence space, as a signed 32-bit number."""
    return (a - b + 2**31) % SEQ_MOD - 2**31


def read_sysctls() -> dict:
    out = {}
    for key in FACT_SYSCTLS:
        path = f"/proc/sys/net/ipv4/{key}"
        if os.path.exists(path):
            with open(path) as fh:
                val = fh.read().strip()
            out[key] = int(val) if re.fullmatch(r"-?\d+", val) else re.sub(r"\s+", " ", val)
    return out


def set_sysctl(key: str, value) -> None:
    with open(f"/proc/sys/net/ipv4/{key}", "w") as fh:
        fh.write(str(value))


def kernel_hz() -> dict:
    """CONFIG_HZ from the kernel's own config, and jiffies counted over 1 s."""
    info: dict = {"config_hz": None, "config_source": None}
    import gzip

    sources = ["/proc/config.gz"] + sorted(
        os.path.join("/boot", f) for f in (os.listdir("/boot") if os.path.isdir("/boot") else [])
        if f.startswith("config-"))
    for src in sources:
        try:
            opener = gzip.open if src.endswith(".gz") else open
            with opener(src, "rt") as fh:
                for line in fh:
                    if line.startswith("CONFIG_HZ="):
                        info["config_hz"] = int(line.split("=")[1])
                        info["config_source"] = src
                        break
        except OSError:
            continue
        if info["config_hz"]:
            break
    j0, t0 = read_jiffies()
    time.sleep(1.0)
    j1, t1 = read_jiffies()
    if j0 is not None and j1 is not None:
        info["jiffies_per_second_measured"] = round((j1 - j0) / (t1 - t0), 1)
    return info


def read_jiffies() -> tuple[int | None, float]:
    """(jiffies, time.monotonic()) from /proc/timer_list (the time is the middle of the read)."""
    t = time.monotonic()
    try:
        with open("/proc/timer_list") as fh:
            for line in fh:
                if line.startswith("jiffies:"):
                    return int(line.split()[1]), (t + time.monotonic()) / 2
    except OSError:
        pass
    return None, t


def inet_checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def tcp_opt_mss(mss: int) -> bytes:
    return struct.pack("!BBH", 2, 4, mss)


def tcp_opt_ts(tsval: int, tsecr: int) -> bytes:
    return b"\x01\x01" + struct.pack("!BBII", 8, 10, tsval % SEQ_MOD, tsecr % SEQ_MOD)


def build_tcp(saddr: str, daddr: str, sport: int, dport: int, seq: int, ack: int, flags: str,
              win: int = 65535, options: bytes = b"", payload: bytes = b"") -> bytes:
    """A TCP header (+payload) with a correct checksum over the IPv4 pseudo-header."""
    while len(options) % 4:
        options += b"\x00"
    doff = (20 + len(options)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq % SEQ_MOD, ack % SEQ_MOD, doff << 4,
                      letters_to_bits(flags), win, 0, 0) + options
    pseudo = socket.inet_aton(saddr) + socket.inet_aton(daddr) + struct.pack("!BBH", 0, 6, len(hdr) + len(payload))
    csum = inet_checksum(pseudo + hdr + payload)
    return hdr[:16] + struct.pack("!H", csum) + hdr[18:] + payload


class RawTcp:
    """Send hand-made TCP segments (the kernel adds the IPv4 header)."""

    def __init__(self, saddr: str):
        self.saddr = saddr
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
        self.sock.bind((saddr, 0))

    def send(self, daddr: str, sport: int, dport: int, seq: int, ack: int, flags: str, **kw) -> float:
        seg = build_tcp(self.saddr, daddr, sport, dport, seq, ack, flags, **kw)
        t = time.monotonic()
        self.sock.sendto(seg, (daddr, 0))
        return t

    def close(self) -> None:
        self.sock.close()


class RawSniffer:
    """Every TCP segment delivered to this namespace, read from a raw socket.

    A raw IPPROTO_TCP socket gets a copy of each TCP packet that passed the
    INPUT chain (so not the ones an INPUT rule drops); used to learn numbers
    (a SYN-ACK's ISN, the last timestamp) while an experiment runs.  The
    record that goes into the JSON comes from tcpdump.
    """

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
        self.sock.settimeout(0.05)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.packets: list[dict] = []
        self.cv = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            pkt = parse_ipv4_tcp(data)
            if pkt is None:
                continue
            pkt["mono"] = time.monotonic()
            with self.cv:
                self.packets.append(pkt)
                self.cv.notify_all()

    def find(self, pred, since: float = 0.0) -> list[dict]:
        with self.cv:
            return [p for p in self.packets if p["mono"] >= since and pred(p)]

    def wait_for(self, pred, timeout: float, since: float = 0.0) -> dict | None:
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                for p in self.packets:
                    if p["mono"] >= since and pred(p):
                        return p
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cv.wait(left)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def libc_setns(fd: int) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


class PeerNamespace:
    """A second network namespace joined to ours by a veth pair.

    Held by a `unshare -n sleep` child started (and later ended) here; ours
    gets `tcpsimc` with `addr_here`, the peer `tcpsims` with `addr_peer`
    (/24).  Sockets are opened in the peer with setns(2) on this thread.
    """

    def __init__(self, addr_here: str = "10.200.0.1", addr_peer: str = "10.200.0.2"):
        self.addr_here, self.addr_peer = addr_here, addr_peer
        self.proc = subprocess.Popen(["unshare", "-n", "sleep", "900"])
        own = os.readlink("/proc/self/ns/net")
        for _ in range(100):
            try:
                if os.readlink(f"/proc/{self.proc.pid}/ns/net") != own:
                    break
            except OSError:
                pass
            time.sleep(0.01)
        else:
            self.close()
            raise CaptureError("the peer namespace did not appear")
        self.nsenter = ["nsenter", f"--net=/proc/{self.proc.pid}/ns/net"]
        run(["ip", "link", "add", "tcpsimc", "type", "veth", "peer", "name", "tcpsims", "netns", str(self.proc.pid)])
        run(["ip", "addr", "add", f"{addr_here}/24", "dev", "tcpsimc"])
        run(["ip", "link", "set", "tcpsimc", "up"])
        run(self.nsenter + ["ip", "link", "set", "lo", "up"])
        run(self.nsenter + ["ip", "addr", "add", f"{addr_peer}/24", "dev", "tcpsims"])
        run(self.nsenter + ["ip", "link", "set", "tcpsims", "up"])
        for _ in range(200):  # wait for the link (and IPv4 DAD-free address) to be usable
            out = run(["ip", "-br", "link", "show", "tcpsimc"], check=False).stdout
            if "UP" in out.split():
                break
            time.sleep(0.02)
        self._own_fd = os.open("/proc/self/ns/net", os.O_RDONLY)
        self._peer_fd = os.open(f"/proc/{self.proc.pid}/ns/net", os.O_RDONLY)

    def socket(self) -> socket.socket:
        """A TCP socket that lives in the peer namespace."""
        libc_setns(self._peer_fd)
        try:
            return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        finally:
            libc_setns(self._own_fd)

    def close(self) -> None:
        for fd in ("_own_fd", "_peer_fd"):
            if hasattr(self, fd):
                os.close(getattr(self, fd))
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


def lo_up() -> None:
    run(["ip", "link", "set", "lo", "up"])


def ss_lines(filter_args: list[str] | None = None, prefix: list[str] | None = None, info: bool = False) -> list[str]:
    cmd = (prefix or []) + ["ss", "-tanH" + ("oi" if info else "")] + (filter_args or ["state", "all"])
    out = run(cmd, check=False).stdout
    lines, buf = [], ""
    for raw in out.splitlines():
        if raw[:1].isspace():
            buf += " " + raw.strip()
        else:
            if buf:
                lines.append(re.sub(r"\s+", " ", buf))
            buf = raw.strip()
    if buf:
        lines.append(re.sub(r"\s+", " ", buf))
    return lines


def ss_has(lines: list[str], state: str, local_port: int, peer_port: int) -> bool:
    for line in lines:
        parts = line.split()
        if len(parts) >= 5 and parts[0] == state and parts[3].endswith(f":{local_port}") \
                and parts[4].endswith(f":{peer_port}"):
            return True
    return False


def errno_name(exc: BaseException) -> str:
    import errno as _errno

    if isinstance(exc, socket.timeout):
        return "timeout"
    if isinstance(exc, OSError) and exc.errno:
        return _errno.errorcode.get(exc.errno, str(exc.errno))
    return repr(exc)


def seg_record(p: dict, t0: float, names: dict) -> dict:
    """A captured segment for the JSON: absolute seq/ack, time relative to t0."""
    def who(addr, port):
        return names.get((addr, port)) or names.get(port) or f"{addr}:{port}"

    rec = {
        "t": round(p["ts"] - t0, 6),
        "src": who(p["saddr"], p["sport"]),
        "dst": who(p["daddr"], p["dport"]),
        "sport": p["sport"],
        "dport": p["dport"],
        "flags": flags_to_letters(p["flags"]),
        "seq": p["seq"],
        "ack": p["ack"] if p["flags"] & 0x10 else None,
        "len": p["len"],
        "win": p["win"],
    }
    for key in ("mss", "wscale", "tsval", "tsecr"):
        if key in p:
            rec[key] = p[key]
    return rec


def fact_header(name: str, description: str, how: str) -> dict:
    return {
        "fact": name,
        "description": description,
        "how": how,
        "kernel": os.uname().release,
        "machine": os.uname().machine,
        "recorded": time.strftime("%Y-%m-%d", time.gmtime()),
        "tool": f"python3 tools/linux_capture.py {name}",
    }


def tcpdump_cmd(dump: Tcpdump) -> str:
    """The tcpdump command line as run (without `timeout`), with FILE for the pcap."""
    return " ".join("FILE" if a == dump.pcap else a for a in dump.cmd[3:])


def abort_capture(dump: Tcpdump) -> None:
    """End a tcpdump still running after a failure: SIGTERM to `timeout`, which passes it on."""
    if dump.proc and dump.proc.poll() is None:
        dump.proc.terminate()
        try:
            dump.proc.wait(5)
        except subprocess.TimeoutExpired:
            dump.proc.kill()


def stop_capture(dump: Tcpdump) -> tuple[list[dict], dict]:
    stats = dump.stop()
    if stats.get("dropped by kernel", 0):
        raise CaptureError("tcpdump reports packets dropped by the kernel")
    packets = parse_pcap(dump.pcap)
    if stats.get("captured") is not None and stats["captured"] != len(packets):
        raise CaptureError(f"tcpdump says {stats['captured']} packets captured, the file has {len(packets)}")
    return packets, stats


# ---- fact 1: a SYN arriving at the server's TIME_WAIT socket ------------------------

TWSYN_SERVER = ("127.0.0.1", 5000)
TWSYN_WAIT = 3.0  # seconds between the old connection and the new SYN

# (name, what is sent, spec).  spec["seq"]: where the SYN's seq lies relative to
# the TIME_WAIT socket's RCV.NXT; spec["ts"]: None (no timestamp option),
# "newer" (TSval above the TS.Recent the server keeps) or "older" (below it).
TWSYN_VARIANTS = {
    1: [
        ("reconnect", "the client's kernel: a new socket bound to the same port (SO_REUSEADDR) calls connect()",
         None),
        ("below-ts-newer", "crafted SYN, seq = RCV.NXT - 100000, TSval = TS.Recent + 3000",
         {"seq": -100000, "ts": "newer"}),
        ("below-no-ts", "crafted SYN, seq = RCV.NXT - 100000, no timestamp option", {"seq": -100000, "ts": None}),
        ("below-ts-older", "crafted SYN, seq = RCV.NXT - 100000, TSval = TS.Recent - 1000",
         {"seq": -100000, "ts": "older"}),
        ("above-ts-older", "crafted SYN, seq = RCV.NXT + 100000, TSval = TS.Recent - 1000",
         {"seq": 100000, "ts": "older"}),
    ],
    0: [
        ("reconnect", "the client's kernel: a new socket bound to the same port (SO_REUSEADDR) calls connect()", None),
        ("below", "crafted SYN, seq = RCV.NXT - 100000, no timestamp option", {"seq": -100000, "ts": None}),
        ("at", "crafted SYN, seq = RCV.NXT exactly, no timestamp option", {"seq": 0, "ts": None}),
        ("above", "crafted SYN, seq = RCV.NXT + 1, no timestamp option", {"seq": 1, "ts": None}),
        ("below-with-ts", "crafted SYN, seq = RCV.NXT - 100000, with a timestamp option (TSval 3000000000); "
         "the old connection had none", {"seq": -100000, "ts": "absolute"}),
    ],
}


def twsyn_old_connection(listener: socket.socket, cport: int, marks: list) -> None:
    """Client sends 100 bytes, server sends 200 and closes first (server -> TIME_WAIT)."""
    errors: list[str] = []

    def server() -> None:
        try:
            conn, _ = listener.accept()
            conn.settimeout(5)
            got = 0
            while got < 100:
                data = conn.recv(100 - got)
                if not data:
                    break
                got += len(data)
            conn.sendall(b"s" * 200)
            time.sleep(0.05)
            marks.append((f"{cport}: server close()", time.monotonic()))
            conn.close()
        except Exception as exc:  # noqa: BLE001
            errors.append(f"server: {exc!r}")

    thr = threading.Thread(target=server, daemon=True)
    thr.start()
    cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    cli.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    cli.bind(("127.0.0.1", cport))
    cli.settimeout(5)
    marks.append((f"{cport}: old connect()", time.monotonic()))
    cli.connect(TWSYN_SERVER)
    cli.sendall(b"c" * 100)
    got = 0
    while True:
        data = cli.recv(4096)
        if not data:
            break
        got += len(data)
    marks.append((f"{cport}: client read EOF, close()", time.monotonic()))
    cli.close()
    thr.join(5)
    if errors or got != 200:
        raise CaptureError(f"tw-syn old connection on {cport}: {errors or got}")


def fact_tw_syn() -> dict:
    lo_up()
    hz = kernel_hz()
    tmpdir = tempfile.mkdtemp(prefix="tcpfact")
    dump = Tcpdump(os.path.join(tmpdir, "cap.pcap"), (0, 0), 120, bpf="tcp", immediate=True)
    rule = ["-p", "tcp", "--sport", "40000:40099", "--dport", str(TWSYN_SERVER[1]),
            "--tcp-flags", "RST", "RST", "-j", "DROP"]
    run(["iptables", "-w", "-A", "INPUT"] + rule)
    sniff = RawSniffer()
    raw = RawTcp("127.0.0.1")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(TWSYN_SERVER)
    listener.listen(BACKLOG)
    listener.settimeout(5)
    marks: list = []
    modes = []
    dump.start()
    try:
        port = 40000
        for ts in (1, 0):
            set_sysctl("tcp_timestamps", ts)
            sysctl = read_sysctls()
            variants = []
            keep: list[socket.socket] = []
            for name, what, spec in TWSYN_VARIANTS[ts]:
                twsyn_old_connection(listener, port, marks)
                variants.append({"variant": name, "probe": what, "spec": spec, "client_port": port})
                port += 1
            # all server sockets must now be in TIME_WAIT
            for _ in range(100):
                lines = ss_lines()
                if all(ss_has(lines, "TIME-WAIT", TWSYN_SERVER[1], v["client_port"]) for v in variants):
                    break
                time.sleep(0.02)
            else:
                raise CaptureError("tw-syn: the server sockets did not reach TIME_WAIT")
            ss_before = [ln for ln in lines if ln.startswith("TIME-WAIT")]
            tw_seen_at = time.monotonic()
            time.sleep(TWSYN_WAIT)
            for v in variants:
                cport = v["client_port"]
                mine = lambda p, c=cport: p["sport"] == c and p["dport"] == TWSYN_SERVER[1]  # noqa: E731
                theirs = lambda p, c=cport: p["sport"] == TWSYN_SERVER[1] and p["dport"] == c  # noqa: E731
                fin_c = [p for p in sniff.find(mine) if p["flags"] & 0x01]
                fin_s = [p for p in sniff.find(theirs) if p["flags"] & 0x01]
                syn_c = [p for p in sniff.find(mine) if p["flags"] & 0x02]
                if not (fin_c and fin_s and syn_c):
                    raise CaptureError(f"tw-syn: old connection on {cport} not seen by the sniffer")
                rcv_nxt = (fin_c[-1]["seq"] + fin_c[-1]["len"] + 1) % SEQ_MOD
                ts_recent = fin_c[-1].get("tsval")
                spec = v["spec"]
                if spec is None:
                    cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    cli.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    cli.bind(("127.0.0.1", cport))
                    cli.settimeout(3)
                    v["probe_mono"] = time.monotonic()
                    try:
                        cli.connect(TWSYN_SERVER)
                        v["connect"] = "ok"
                        conn, _ = listener.accept()
                        keep += [cli, conn]  # closed after `ss` has been asked
                    except OSError as exc:
                        v["connect"] = errno_name(exc)
                        cli.close()
                else:
                    seq = (rcv_nxt + spec["seq"]) % SEQ_MOD
                    opts = tcp_opt_mss(65495)
                    if spec["ts"] == "newer":
                        opts += tcp_opt_ts(ts_recent + 3000, 0)
                    elif spec["ts"] == "older":
                        opts += tcp_opt_ts(ts_recent - 1000, 0)
                    elif spec["ts"] == "absolute":
                        opts += tcp_opt_ts(3000000000, 0)
                    v["probe_mono"] = raw.send(TWSYN_SERVER[0], cport, TWSYN_SERVER[1], seq, 0, "S",
                                               win=65535, options=opts)
                time.sleep(0.4)
            time.sleep(0.3)
            ss_after = [ln for ln in ss_lines() if ln.split()[0] in ("TIME-WAIT", "SYN-RECV", "ESTAB")]
            for sk in keep:
                sk.close()
            for v in variants:
                v["server_time_wait_after_probe"] = ss_has(ss_after, "TIME-WAIT", TWSYN_SERVER[1], v["client_port"])
            modes.append({"tcp_timestamps": ts, "sysctl": sysctl, "variants": variants,
                          "ss_time_wait_before_probes": ss_before, "ss_after_probes": ss_after,
                          "tw_seen_mono": tw_seen_at})
        time.sleep(0.3)
        off = mono_to_real_offset()
        packets, stats = stop_capture(dump)
    finally:
        sniff.close()
        raw.close()
        listener.close()
        subprocess.run(["iptables", "-w", "-F", "INPUT"], capture_output=True, timeout=10)
        abort_capture(dump)
    shutil.rmtree(tmpdir, ignore_errors=True)

    t0 = packets[0]["ts"]
    for mode in modes:
        for v in mode["variants"]:
            cport = v["client_port"]
            names = {cport: "client", TWSYN_SERVER[1]: "server"}
            conv = [p for p in packets if cport in (p["sport"], p["dport"])]
            probe_real = v.pop("probe_mono") + off
            old = [p for p in conv if p["ts"] < probe_real - 0.0005]
            new = [p for p in conv if p["ts"] >= probe_real - 0.0005]
            v["old_segments"] = [seg_record(p, t0, names) for p in old]
            v["new_segments"] = [seg_record(p, t0, names) for p in new]
            c_syn = next(p for p in old if p["flags"] & 0x02 and p["sport"] == cport)
            s_syn = next(p for p in old if p["flags"] & 0x02 and p["sport"] == TWSYN_SERVER[1])
            c_fin = [p for p in old if p["flags"] & 0x01 and p["sport"] == cport][-1]
            s_fin = [p for p in old if p["flags"] & 0x01 and p["sport"] == TWSYN_SERVER[1]][-1]
            last_c = [p for p in old if p["sport"] == cport][-1]
            oldinfo = {
                "client_isn": c_syn["seq"],
                "server_isn": s_syn["seq"],
                "client_snd_nxt": (c_fin["seq"] + c_fin["len"] + 1) % SEQ_MOD,
                "server_snd_nxt": (s_fin["seq"] + s_fin["len"] + 1) % SEQ_MOD,
                "ts_recent": last_c.get("tsval"),
                "server_time_wait_from_t": round(
                    [p for p in old if p["sport"] == TWSYN_SERVER[1]][-1]["ts"] - t0, 6),
                "note": "client_snd_nxt is the TIME_WAIT socket's RCV.NXT; server_snd_nxt its SND.NXT; "
                        "ts_recent the client's last TSval (the server's TS.Recent)",
            }
            v["old"] = oldinfo
            syn = next((p for p in new if p["flags"] & 0x02 and p["sport"] == cport), None)
            reply = next((p for p in new if p["sport"] == TWSYN_SERVER[1]), None)
            res: dict = {"syn_sent": syn is not None}
            if syn is not None:
                res.update({
                    "syn_t": round(syn["ts"] - t0, 6),
                    "syn_seq": syn["seq"],
                    "syn_seq_minus_rcv_nxt": sdiff(syn["seq"], oldinfo["client_snd_nxt"]),
                    "syn_seq_minus_old_client_isn": sdiff(syn["seq"], oldinfo["client_isn"]),
                    "syn_tsval": syn.get("tsval"),
                    "seconds_since_old_syn": round(syn["ts"] - c_syn["ts"], 6),
                })
                if v["spec"] is None:
                    res["client_isn_growth_per_second"] = round(
                        sdiff(syn["seq"], oldinfo["client_isn"]) / (syn["ts"] - c_syn["ts"]))
            if reply is not None:
                res.update({
                    "reply_flags": flags_to_letters(reply["flags"]),
                    "reply_delay_s": round(reply["ts"] - syn["ts"], 6) if syn else None,
                    "reply_seq": reply["seq"],
                    "reply_ack": reply["ack"],
                    "reply_seq_minus_old_server_snd_nxt": sdiff(reply["seq"], oldinfo["server_snd_nxt"]),
                    "reply_ack_minus_rcv_nxt": sdiff(reply["ack"], oldinfo["client_snd_nxt"]),
                })
            res["answer"] = ("SYN-ACK" if reply and flags_to_letters(reply["flags"]) == "SA"
                             else "ACK" if reply and flags_to_letters(reply["flags"]) == "A"
                             else flags_to_letters(reply["flags"]) if reply else "none")
            v["result"] = res
        mode.pop("tw_seen_mono")
    return {
        **fact_header(
            "tw-syn",
            "A new SYN arrives at a TIME_WAIT socket held by the server (the server closed first). "
            "Per variant: an old connection (client 127.0.0.1:PORT sends 100 bytes, the server sends 200 and "
            "closes, the client closes on EOF), then 3 s later a SYN from the same port: either a real "
            "connect() or a SYN crafted with a raw socket relative to the TIME_WAIT socket's RCV.NXT.",
            "unshare -n; ip link set lo up; listener 127.0.0.1:5000; sysctl tcp_timestamps set per mode "
            "(1 then 0) in the namespace; iptables -A INPUT " + " ".join(rule) + " (the client port has no "
            "socket after a crafted SYN, so its kernel answers the server's reply with a RST: tcpdump sees it, "
            "INPUT drops it, the server never gets it); raw IPPROTO_TCP socket for the crafted SYNs "
            "(MSS 65495, window 65535); tcpdump -i lo --immediate-mode; ss -tan state all",
        ),
        "hz": hz,
        "server": {"address": TWSYN_SERVER[0], "port": TWSYN_SERVER[1]},
        "wait_before_new_syn_s": TWSYN_WAIT,
        "modes": modes,
        "app_events": [{"t": round(m + off - t0, 6), "event": w} for w, m in marks],
        "tcpdump": {"command": tcpdump_cmd(dump), "stats": stats},
        "seq_note": "seq/ack are absolute 32-bit numbers; t is seconds since the first captured packet",
    }


# ---- fact 2: delayed ACK of a FIN, with and without data; quick ACKs ---------------

DELACK_SERVER = ("127.0.0.1", 5001)
DELACK_RUNS = 12
DELACK_VARIANTS = [
    # (name, client sends data?, server close delay after EOF)
    ("nodata-close1", False, 1.0),
    ("data-close1", True, 1.0),
    ("data-close0", True, 0.0),
    ("nodata-close0", False, 0.0),
]
QUICKACK_RUNS = [
    # (name, number of 100-byte writes, spacing in s, does the server read while they arrive?)
    ("quickack-30ms-noread", 24, 0.030, False),
    ("quickack-5ms-noread", 24, 0.005, False),
    ("quickack-30ms-read", 24, 0.030, True),
]


def delack_one(listener: socket.socket, cport: int, data: bool, delay: float) -> dict:
    marks: dict = {}
    errors: list[str] = []

    def server() -> None:
        try:
            conn, _ = listener.accept()
            conn.settimeout(5)
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    break
            marks["server_read_eof"] = time.monotonic()
            if delay:
                time.sleep(delay)
            marks["server_close"] = time.monotonic()
            conn.close()
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))

    thr = threading.Thread(target=server, daemon=True)
    thr.start()
    cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    cli.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    cli.bind(("127.0.0.1", cport))
    cli.settimeout(5)
    cli.connect(DELACK_SERVER)
    if data:
        cli.sendall(b"d" * 100)
    time.sleep(0.15)
    info = [ln for ln in ss_lines(info=True) if f":{DELACK_SERVER[1]} " in ln and ln.split()[4].endswith(f":{cport}")]
    time.sleep(0.15)
    marks["client_close"] = time.monotonic()
    cli.close()
    thr.join(5)
    time.sleep(0.05)
    if errors:
        raise CaptureError(f"delack run on port {cport}: {errors}")
    ato = None
    if info:
        m = re.search(r"\bato:(\d+(?:\.\d+)?)", info[0])
        ato = float(m.group(1)) if m else None
    return {"client_port": cport, "ss_server_before_fin": info[0] if info else None, "ss_ato_ms": ato,
            "marks_mono": marks}


def quickack_one(listener: socket.socket, cport: int, count: int, spacing: float, reads: bool) -> dict:
    errors: list[str] = []

    def server() -> None:
        try:
            conn, _ = listener.accept()
            conn.settimeout(5)
            if not reads:  # leave the data in the receive queue until the writes are over
                time.sleep(0.05 + count * spacing + 0.15)
            while conn.recv(65536):
                pass
            conn.close()
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))

    thr = threading.Thread(target=server, daemon=True)
    thr.start()
    cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    cli.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    cli.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    cli.bind(("127.0.0.1", cport))
    cli.settimeout(5)
    cli.connect(DELACK_SERVER)
    time.sleep(0.05)
    start = time.monotonic()
    for i in range(count):
        wait = start + i * spacing - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        cli.send(b"q" * 100)
    time.sleep(0.3)
    cli.close()
    thr.join(5)
    if errors:
        raise CaptureError(f"quickack run on port {cport}: {errors}")
    return {"client_port": cport, "writes": count, "spacing_s": spacing, "bytes_per_write": 100,
            "server_reads_during_writes": reads}


def first_ack_after(conv: list[dict], srv_port: int, t: float, upto: int) -> dict | None:
    for p in conv:
        if p["ts"] >= t and p["sport"] == srv_port and p["flags"] & 0x10 and sdiff(p["ack"], upto) >= 0:
            return p
    return None


def fact_delack() -> dict:
    lo_up()
    hz = kernel_hz()
    sysctl = read_sysctls()
    tmpdir = tempfile.mkdtemp(prefix="tcpfact")
    dump = Tcpdump(os.path.join(tmpdir, "cap.pcap"), (0, 0), 300, bpf="tcp", immediate=True)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(DELACK_SERVER)
    listener.listen(BACKLOG)
    listener.settimeout(5)
    dump.start()
    variants = []
    quick = []
    try:
        port = 41000
        for name, data, delay in DELACK_VARIANTS:
            runs = []
            for _ in range(DELACK_RUNS):
                run(["ip", "tcp_metrics", "flush", "all"], check=False)
                runs.append(delack_one(listener, port, data, delay))
                port += 1
            variants.append({"variant": name, "client_sends_100_bytes": data, "server_close_delay": delay,
                             "runs": runs})
        port = 41500
        for name, count, spacing, reads in QUICKACK_RUNS:
            run(["ip", "tcp_metrics", "flush", "all"], check=False)
            r = quickack_one(listener, port, count, spacing, reads)
            r["variant"] = name
            quick.append(r)
            port += 1
        off = mono_to_real_offset()
        packets, stats = stop_capture(dump)
    finally:
        listener.close()
        abort_capture(dump)
    shutil.rmtree(tmpdir, ignore_errors=True)

    t0 = packets[0]["ts"]
    sp = DELACK_SERVER[1]
    for var in variants:
        delays = []
        for r in var["runs"]:
            cport = r["client_port"]
            conv = [p for p in packets if cport in (p["sport"], p["dport"]) and sp in (p["sport"], p["dport"])]
            names = {cport: "client", sp: "server"}
            r["segments"] = [seg_record(p, t0, names) for p in conv]
            fin = next(p for p in conv if p["sport"] == cport and p["flags"] & 0x01)
            fin_end = (fin["seq"] + fin["len"] + 1) % SEQ_MOD
            ack = first_ack_after(conv, sp, fin["ts"], fin_end)
            r["fin_t"] = round(fin["ts"] - t0, 6)
            r["fin_ack_flags"] = flags_to_letters(ack["flags"]) if ack else None
            r["fin_ack_delay_ms"] = round((ack["ts"] - fin["ts"]) * 1000, 3) if ack else None
            marks = r.pop("marks_mono")
            if "server_read_eof" in marks:
                r["server_read_eof_after_fin_ms"] = round((marks["server_read_eof"] + off - fin["ts"]) * 1000, 3)
            if var["client_sends_100_bytes"]:
                dseg = next(p for p in conv if p["sport"] == cport and p["len"] > 0)
                dack = first_ack_after(conv, sp, dseg["ts"], (dseg["seq"] + dseg["len"]) % SEQ_MOD)
                r["data_ack_delay_ms"] = round((dack["ts"] - dseg["ts"]) * 1000, 3) if dack else None
            if ack:
                delays.append(r["fin_ack_delay_ms"])
        var["fin_ack_delay_ms"] = sorted(delays)
        var["fin_ack_delay_ms_min_median_max"] = [min(delays), sorted(delays)[len(delays) // 2], max(delays)]
        var["fin_ack_kinds"] = sorted({r["fin_ack_flags"] for r in var["runs"]})
    for r in quick:
        cport = r["client_port"]
        conv = [p for p in packets if cport in (p["sport"], p["dport"]) and sp in (p["sport"], p["dport"])]
        names = {cport: "client", sp: "server"}
        r["segments"] = [seg_record(p, t0, names) for p in conv]
        rows = []
        for p in conv:
            if p["sport"] == cport and p["len"] > 0:
                ack = first_ack_after(conv, sp, p["ts"], (p["seq"] + p["len"]) % SEQ_MOD)
                rows.append({"t": round(p["ts"] - t0, 6), "len": p["len"],
                             "ack_delay_ms": round((ack["ts"] - p["ts"]) * 1000, 3) if ack else None})
        r["data_segments"] = rows
        r["ack_delays_ms"] = [row["ack_delay_ms"] for row in rows]
        r["immediate_acks_before_first_delayed"] = next(
            (i for i, d in enumerate(r["ack_delays_ms"]) if d is None or d > 1.0), len(rows))
        r["server_pure_acks"] = sum(1 for p in conv if p["sport"] == sp and p["len"] == 0
                                    and flags_to_letters(p["flags"]) == "A")
    return {
        **fact_header(
            "delack",
            "How long the server waits before it ACKs the client's FIN, on connections with and without "
            "data, and how the first data segments of a connection are ACKed. Each run: a fresh connection "
            "from 127.0.0.1:PORT to 127.0.0.1:5001 (one client port per run); in the data variants the "
            "client writes 100 bytes right after connect(); the client closes 0.3 s after connect(); the "
            "server reads until EOF and closes at once (close0) or 1 s later (close1). Quick-ACK runs: the "
            "client (TCP_NODELAY) writes 100 bytes 24 times at a fixed spacing; the server either leaves "
            "them in its receive queue until the writes are over (noread: every ACK comes from the kernel "
            "itself) or reads them as they arrive (read).",
            "unshare -n; ip link set lo up; default sysctls; `ip tcp_metrics flush all` before each run; "
            "tcpdump -i lo --immediate-mode 'tcp'; `ss -tanoi` 0.15 s after connect() for the server's ato",
        ),
        "hz": hz,
        "sysctl": sysctl,
        "variants": variants,
        "quickack": quick,
        "tcpdump": {"command": tcpdump_cmd(dump), "stats": stats},
        "seq_note": "seq/ack absolute; t in seconds since the first captured packet",
    }


# ---- fact 3: the TIME_WAIT side connects again from the same port -------------------

TWREUSE_TRY_FOR = 4.0  # seconds of connect() attempts after TIME_WAIT began
TWREUSE_STEP = 0.02
TWREUSE_LONG_TRY_FOR = 70.0
TWREUSE_LONG_STEP = 0.5


def compress_attempts(attempts: list[dict]) -> list[dict]:
    """Runs of equal results: {"from", "to", "count", "result"} (times since TIME_WAIT began)."""
    out: list[dict] = []
    for a in attempts:
        key = (a["bind"], a["connect"])
        if out and (out[-1]["bind"], out[-1]["connect"]) == key:
            out[-1]["to"] = a["t"]
            out[-1]["count"] += 1
        else:
            out.append({"from": a["t"], "to": a["t"], "count": 1, "bind": a["bind"], "connect": a["connect"]})
    return out


def twreuse_one(path: str, caddr: str, saddr: str, peer: PeerNamespace | None, sport_srv: int,
                cport: int, mode: str, reuse: int, ts: int, try_for: float, step: float) -> dict:
    set_sysctl("tcp_tw_reuse", reuse)
    set_sysctl("tcp_timestamps", ts)
    if mode == "ephemeral":
        set_sysctl("ip_local_port_range", f"{cport} {cport}")
    sysctl = read_sysctls()
    listener = peer.socket() if peer else socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((saddr, sport_srv))
    listener.listen(BACKLOG)
    listener.settimeout(max(try_for, 5) + 5)
    errors: list[str] = []
    stop = threading.Event()

    def server() -> None:
        try:
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    return
                conn.settimeout(10)
                while conn.recv(4096):
                    pass
                conn.close()
        except OSError as exc:
            if not stop.is_set():
                errors.append(repr(exc))

    thr = threading.Thread(target=server, daemon=True)
    thr.start()

    def new_socket(reuseaddr: bool) -> socket.socket:
        sk = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if reuseaddr:
            sk.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sk.settimeout(3)
        return sk

    cli = new_socket(mode == "bound")
    if mode == "bound":
        cli.bind((caddr, cport))
    first_connect = time.monotonic()
    cli.connect((saddr, sport_srv))
    got_port = cli.getsockname()[1]
    if got_port != cport:
        cli.close()
        raise CaptureError(f"tw-reuse: first connection got port {got_port}, wanted {cport}")
    cli.sendall(b"x" * 10)
    time.sleep(0.05)
    cli.close()  # the client closes first: it will hold TIME_WAIT
    for _ in range(200):
        tw = ss_has(ss_lines(), "TIME-WAIT", cport, sport_srv)
        if tw:
            break
        time.sleep(0.01)
    else:
        raise CaptureError(f"tw-reuse: no TIME_WAIT for {cport}")
    tw_mono = time.monotonic()
    result: dict = {"path": path, "mode": mode, "tcp_tw_reuse": reuse, "tcp_timestamps": ts,
                    "client": f"{caddr}:{cport}", "server": f"{saddr}:{sport_srv}", "sysctl": sysctl,
                    "first_connect_mono": first_connect, "tw_seen_mono": tw_mono}
    if mode == "bound":
        sk = new_socket(False)
        try:
            sk.bind((caddr, cport))
            result["bind_without_so_reuseaddr"] = "ok"
        except OSError as exc:
            result["bind_without_so_reuseaddr"] = errno_name(exc)
        sk.close()
    attempts = []
    success = None
    end = tw_mono + try_for
    while time.monotonic() < end:
        sk = new_socket(mode == "bound")
        t = time.monotonic()
        rec = {"t_mono": t, "bind": None, "connect": None}
        try:
            if mode == "bound":
                try:
                    sk.bind((caddr, cport))
                    rec["bind"] = "ok"
                except OSError as exc:
                    rec["bind"] = errno_name(exc)
                    raise
            sk.connect((saddr, sport_srv))
            rec["connect"] = "ok"
            rec["local_port"] = sk.getsockname()[1]
        except OSError as exc:
            if rec["bind"] != errno_name(exc):
                rec["connect"] = errno_name(exc)
        attempts.append(rec)
        if rec["connect"] == "ok":
            success = sk
            break
        sk.close()
        time.sleep(max(0.0, t + step - time.monotonic()))
    result["tw_after_attempts"] = ss_has(ss_lines(), "TIME-WAIT", cport, sport_srv)
    if success is not None:
        time.sleep(0.05)
        success.close()
    time.sleep(0.1)
    stop.set()
    listener.close()
    thr.join(2)
    result["attempts_raw"] = attempts
    return result


def fact_tw_reuse() -> dict:
    lo_up()
    peer = PeerNamespace()
    tmpdir = tempfile.mkdtemp(prefix="tcpfact")
    dumps = {
        "loopback": Tcpdump(os.path.join(tmpdir, "lo.pcap"), (0, 0), 300, iface="lo", bpf="tcp", immediate=True),
        "veth": Tcpdump(os.path.join(tmpdir, "veth.pcap"), (0, 0), 300, iface="tcpsimc", bpf="tcp", immediate=True),
    }
    paths = {"loopback": ("127.0.0.1", "127.0.0.1", None), "veth": (peer.addr_here, peer.addr_peer, peer)}
    runs = []
    try:
        for d in dumps.values():
            d.start()
        k = 0
        plan = []
        for path in ("loopback", "veth"):
            for reuse in (0, 1, 2):
                for mode in ("bound", "ephemeral"):
                    plan.append((path, mode, reuse, 1, TWREUSE_TRY_FOR, TWREUSE_STEP))
            plan.append((path, "bound", 2, 0, TWREUSE_TRY_FOR, TWREUSE_STEP))
            plan.append((path, "ephemeral", 1, 0, TWREUSE_TRY_FOR, TWREUSE_STEP))
        plan.append(("loopback", "ephemeral", 0, 1, TWREUSE_LONG_TRY_FOR, TWREUSE_LONG_STEP))
        for path, mode, reuse, ts, try_for, step in plan:
            caddr, saddr, pr = paths[path]
            runs.append(twreuse_one(path, caddr, saddr, pr, 6000 + k, 42000 + k, mode, reuse, ts, try_for, step))
            k += 1
        off = mono_to_real_offset()
        captured = {name: stop_capture(d) for name, d in dumps.items()}
    finally:
        for d in dumps.values():
            abort_capture(d)
        peer.close()
    shutil.rmtree(tmpdir, ignore_errors=True)

    t0 = min(pk[0]["ts"] for pk, _ in captured.values() if pk)
    for r in runs:
        packets = captured[r["path"]][0]
        caddr, cport = r["client"].rsplit(":", 1)
        saddr, sport = r["server"].rsplit(":", 1)
        cport, sport = int(cport), int(sport)
        conv = [p for p in packets if {p["sport"], p["dport"]} == {cport, sport}]
        names = {cport: "client", sport: "server"}
        r["segments"] = [seg_record(p, t0, names) for p in conv]
        tw_real = r.pop("tw_seen_mono") + off
        first_real = r.pop("first_connect_mono") + off
        # TIME_WAIT began when the client acked the server's FIN
        last_ack = [p for p in conv if p["sport"] == cport and p["ts"] < tw_real]
        tw_start = last_ack[-1]["ts"] if last_ack else tw_real
        r["time_wait_began_t"] = round(tw_start - t0, 6)
        atts = []
        for a in r.pop("attempts_raw"):
            a2 = {"t": round(a["t_mono"] + off - tw_start, 4), "bind": a["bind"], "connect": a["connect"]}
            atts.append(a2)
        r["attempts"] = compress_attempts(atts)
        r["attempt_count"] = len(atts)
        ok = next((a for a in atts if a["connect"] == "ok"), None)
        r["reused_after_s"] = ok["t"] if ok else None
        r["tried_for_s"] = atts[-1]["t"] if atts else None
        syns = [p for p in conv if p["sport"] == cport and p["flags"] & 0x02]
        fins = [p for p in conv if p["sport"] == cport and p["flags"] & 0x01 and p["ts"] < tw_real]
        if fins:
            old_snd_nxt = (fins[-1]["seq"] + fins[-1]["len"] + 1) % SEQ_MOD
            r["old_client_isn"] = syns[0]["seq"]
            r["old_client_snd_nxt"] = old_snd_nxt
        if ok and len(syns) >= 2 and fins:
            r["new_client_isn"] = syns[1]["seq"]
            r["new_isn_minus_old_snd_nxt"] = sdiff(syns[1]["seq"], r["old_client_snd_nxt"])
            reply = next((p for p in conv if p["sport"] == sport and p["ts"] > syns[1]["ts"]), None)
            r["server_reply_to_new_syn"] = flags_to_letters(reply["flags"]) if reply else None
            if "tsval" in syns[1]:
                r["new_syn_tsval_minus_old_last_tsval"] = sdiff(
                    syns[1]["tsval"], [p for p in conv if p["sport"] == cport and p["ts"] < tw_real][-1]["tsval"])
        r["first_connect_t"] = round(first_real - t0, 6)
    return {
        **fact_header(
            "tw-reuse",
            "The side that closed first (the client, so it holds TIME_WAIT) connects again to the same server "
            "from the same local port. 'bound': a new socket with SO_REUSEADDR bind()s the port explicitly "
            "(the first one did too); 'ephemeral': neither connection binds, and ip_local_port_range is "
            "narrowed to that single port so connect() must pick it. connect() is tried every "
            "(0.02 s; 0.5 s in the long run) from the moment ss shows TIME-WAIT, with tcp_tw_reuse 0/1/2, on "
            "loopback and across a veth pair between two namespaces.",
            "unshare -n (client, lo + tcpsimc 10.200.0.1/24); a second namespace held by `unshare -n sleep` "
            "(server, tcpsims 10.200.0.2/24), joined by `ip link add tcpsimc type veth peer name tcpsims "
            "netns PID`; server sockets opened there with setns(2). Sysctls are set in the client's "
            "namespace before each run. tcpdump --immediate-mode on lo and on tcpsimc; ss -tan state time-wait",
        ),
        "runs": runs,
        "tcpdump": {name: {"command": tcpdump_cmd(d), "stats": captured[name][1]} for name, d in dumps.items()},
        "time_note": "attempt times (from/to) are seconds since the client's last ACK of the old connection "
                     "(TIME_WAIT began); segment t is seconds since the first captured packet",
    }


# ---- fact 4: how long a SYN cookie stays valid; what the final ACK must carry -------

COOKIE_SERVER = ("127.0.0.1", 5002)
COOKIE_SERVER2 = ("127.0.0.1", 5003)  # for the "no recent overflow" probes
COOKIE_PHASE = 2.0  # start this many seconds into a cookie minute (jiffies // (60*HZ))


def fact_syncookie() -> dict:
    lo_up()
    hz = kernel_hz()
    HZ = hz["config_hz"] or 250
    set_sysctl("tcp_syncookies", 2)
    sysctl = read_sysctls()
    tmpdir = tempfile.mkdtemp(prefix="tcpfact")
    dump = Tcpdump(os.path.join(tmpdir, "cap.pcap"), (0, 0), 400, bpf="tcp", immediate=True)
    rule = ["-p", "tcp", "--sport", "43000:43999", "--tcp-flags", "RST", "RST", "-j", "DROP"]
    run(["iptables", "-w", "-A", "INPUT"] + rule)
    sniff = RawSniffer()
    raw = RawTcp("127.0.0.1")

    def make_listener(addr):
        sk = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sk.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sk.bind(addr)
        sk.listen(BACKLOG)
        sk.setblocking(False)
        return sk

    listeners = {COOKIE_SERVER[1]: make_listener(COOKIE_SERVER), COOKIE_SERVER2[1]: make_listener(COOKIE_SERVER2)}
    accepted: dict[int, socket.socket] = {}
    accepted_data: dict[int, bytes] = {}
    probes: dict[str, dict] = {}
    log: list[dict] = []

    def drain() -> None:
        for lst in listeners.values():
            while True:
                try:
                    conn, peer = lst.accept()
                except (BlockingIOError, OSError):
                    break
                conn.setblocking(False)
                try:
                    accepted_data[peer[1]] = conn.recv(4096)
                except (BlockingIOError, OSError):
                    accepted_data[peer[1]] = b""
                accepted[peer[1]] = conn

    def syn(name: str, cport: int, server=COOKIE_SERVER, what: str = "") -> dict:
        isn = (0x10000000 + cport * 7919) % SEQ_MOD
        jif, _ = read_jiffies()
        t = raw.send(server[0], cport, server[1], isn, 0, "S", win=65535, options=tcp_opt_mss(1460))
        sa = sniff.wait_for(lambda p: p["sport"] == server[1] and p["dport"] == cport and p["flags"] & 0x12 == 0x12,
                            timeout=2.0, since=t)
        if sa is None:
            raise CaptureError(f"syncookie: no SYN-ACK for {name}")
        pr = {"probe": name, "what": what, "client_port": cport, "server_port": server[1], "client_isn": isn,
              "syn_mono": t, "syn_jiffies": jif, "syn_wallclock_second_in_minute": round(time.time() % 60, 3),
              "cookie": sa["seq"], "synack_mss": sa.get("mss")}
        probes[name] = pr
        log.append({"mono": t, "event": f"SYN {name} ({cport} -> {server[1]})"})
        return pr

    def ack(name: str, seq_extra: int = 0, payload: bytes = b"", label: str = "ack") -> dict:
        pr = probes[name]
        jif, _ = read_jiffies()
        seq = (pr["client_isn"] + 1 + seq_extra) % SEQ_MOD
        flags = "PA" if payload else "A"
        t = raw.send("127.0.0.1", pr["client_port"], pr["server_port"], seq, pr["cookie"] + 1, flags,
                     win=65535, payload=payload)
        rst = sniff.wait_for(lambda p: p["sport"] == pr["server_port"] and p["dport"] == pr["client_port"]
                             and p["flags"] & 0x04, timeout=0.3, since=t)
        lines = ss_lines(info=True)
        estab = ss_has(lines, "ESTAB", pr["server_port"], pr["client_port"])
        child = [ln for ln in lines if ln.startswith("ESTAB") and ln.split()[3].endswith(f":{pr['server_port']}")
                 and ln.split()[4].endswith(f":{pr['client_port']}")]
        drain()
        res = {
            "label": label,
            "seq_minus_client_isn": (seq - pr["client_isn"]) % SEQ_MOD,
            "ack_minus_cookie": 1,
            "payload_len": len(payload),
            "sent_mono": t,
            "jiffies": jif,
            "age_s": round(t - pr["syn_mono"], 3),
            "cookie_minute_diff": (jif // (60 * HZ) - pr["syn_jiffies"] // (60 * HZ))
            if jif is not None and pr["syn_jiffies"] is not None else None,
            "answered_rst": rst is not None,
            "rst_seq_minus_cookie": ((rst["seq"] - pr["cookie"]) % SEQ_MOD) if rst else None,
            "server_estab": estab,
            "ss_child": child[0] if child else None,
            "accepted": pr["client_port"] in accepted,
            "data_read": len(accepted_data.get(pr["client_port"], b"")) if pr["client_port"] in accepted else None,
        }
        pr.setdefault("acks", []).append(res)
        log.append({"mono": t, "event": f"ACK {name} ({label})"})
        return res

    def refresh(k: int) -> None:
        # one more SYN from an unused port keeps the listener's "recent SYN queue overflow" stamp fresh
        syn(f"refresh-{k}", 43500 + k, what="keeps the overflow stamp recent (syncookies=2: every cookie "
            "sent counts as an overflow)")

    def sleep_until(t: float) -> None:
        d = t - time.monotonic()
        if d > 0:
            time.sleep(d)

    dump.start()
    try:
        # wait for the chosen phase in the cookie minute
        jif, tm = read_jiffies()
        period = 60 * HZ
        phase = (jif % period) / HZ
        wait = (COOKIE_PHASE - phase) % 60.0
        time.sleep(wait)
        T0 = time.monotonic()
        syn("age-0", 43000, what="final ACK at once")
        syn("age-30", 43001, what="final ACK after 30 s")
        syn("age-70a", 43002, what="final ACK after 70 s, the next cookie minute")
        syn("age-100", 43003, what="final ACK after 100 s, the next cookie minute")
        syn("age-130", 43004, what="final ACK after 130 s")
        syn("bad-seq", 43005, what="an ACK with seq = ISN+1+1460, then the right one")
        syn("data", 43006, what="the final ACK carries 100 bytes (seq = ISN+1)")
        syn("seq-isn", 43007, what="an ACK with seq = ISN (not ISN+1)")
        sleep_until(T0 + 0.2)
        ack("age-0")
        sleep_until(T0 + 1.0)
        ack("bad-seq", seq_extra=1460, label="seq = ISN+1+1460")
        sleep_until(T0 + 1.5)
        ack("bad-seq", label="then seq = ISN+1")
        sleep_until(T0 + 2.0)
        ack("data", payload=b"p" * 100, label="seq = ISN+1 with 100 bytes")
        sleep_until(T0 + 2.5)
        ack("seq-isn", seq_extra=-1, label="seq = ISN")
        # a cookie presented to a listener that has had no overflow: close and reopen the listener
        sleep_until(T0 + 5.0)
        syn("no-overflow", 43100, server=COOKIE_SERVER2, what="cookie from listener A; the listener is then "
            "closed and a new one opened on the same port; the new one has never sent a cookie")
        syn("overflow-again", 43101, server=COOKIE_SERVER2, what="as no-overflow, but the new listener "
            "sends a cookie to someone else (port 43102) before the ACK arrives")
        listeners[COOKIE_SERVER2[1]].close()
        listeners[COOKIE_SERVER2[1]] = make_listener(COOKIE_SERVER2)
        sleep_until(T0 + 6.0)
        ack("no-overflow", label="to the new listener, which has sent no cookie")
        sleep_until(T0 + 7.0)
        syn("other-client", 43102, server=COOKIE_SERVER2, what="makes the new listener send a cookie")
        sleep_until(T0 + 7.5)
        ack("overflow-again", label="to the new listener, 0.5 s after it sent a cookie to another client")
        sleep_until(T0 + 29.5)
        refresh(0)
        sleep_until(T0 + 30.0)
        ack("age-30")
        sleep_until(T0 + 55.0)
        syn("age-70b", 43008, what="SYN 57 s into a cookie minute; final ACK after 70 s, two minutes on")
        sleep_until(T0 + 69.5)
        refresh(1)
        sleep_until(T0 + 70.0)
        ack("age-70a")
        sleep_until(T0 + 99.5)
        refresh(2)
        sleep_until(T0 + 100.0)
        ack("age-100")
        sleep_until(T0 + 124.5)
        refresh(3)
        sleep_until(T0 + 125.0)
        ack("age-70b")
        sleep_until(T0 + 129.5)
        refresh(4)
        sleep_until(T0 + 130.0)
        ack("age-130")
        time.sleep(0.3)
        off = mono_to_real_offset()
        packets, stats = stop_capture(dump)
    finally:
        sniff.close()
        raw.close()
        for sk in list(listeners.values()) + list(accepted.values()):
            sk.close()
        subprocess.run(["iptables", "-w", "-F", "INPUT"], capture_output=True, timeout=10)
        abort_capture(dump)
    shutil.rmtree(tmpdir, ignore_errors=True)

    t0 = T0 + off
    for pr in probes.values():
        cport = pr["client_port"]
        names = {cport: "client", pr["server_port"]: "server"}
        pr["segments"] = [seg_record(p, t0, names) for p in packets if cport in (p["sport"], p["dport"])]
        pr["syn_t"] = round(pr.pop("syn_mono") + off - t0, 6)
        pr["syn_phase_in_cookie_minute_s"] = round((pr["syn_jiffies"] % (60 * HZ)) / HZ, 3) \
            if pr["syn_jiffies"] is not None else None
        for a in pr.get("acks", []):
            a["t"] = round(a.pop("sent_mono") + off - t0, 6)
    return {
        **fact_header(
            "syncookie",
            "SYN cookies with tcp_syncookies=2 (always): SYNs crafted with a raw socket from 127.0.0.1:430xx to "
            "a listener on 127.0.0.1:5002 get a SYN-ACK whose ISN is the cookie; the final ACK (seq = client "
            "ISN+1, ack = cookie+1, unless stated) is sent after 0, 30, 70, 100 or 130 s. 'accepted' means "
            "the listener's accept() returned the connection (and ss showed it ESTAB); the other answer is "
            "a RST. The probes start 2 s into a 'cookie minute' (jiffies // (60*HZ), read from "
            "/proc/timer_list) so that one 70 s probe ends in the next minute and another (SYN at 57 s) "
            "two minutes on. Before each late ACK one more SYN from another port keeps the listener's "
            "overflow stamp recent. Two probes on 127.0.0.1:5003 test the overflow stamp itself: the "
            "listener that sent the cookie is closed and a new one opened before the ACK arrives.",
            "unshare -n; ip link set lo up; sysctl net.ipv4.tcp_syncookies=2; iptables -A INPUT "
            + " ".join(rule) + " (the raw client ports have no socket, so the client's kernel answers each "
            "SYN-ACK with a RST; tcpdump sees it, INPUT drops it); raw IPPROTO_TCP socket (SYN with MSS "
            "1460, window 65535, no other options); tcpdump -i lo --immediate-mode; ss -tan",
        ),
        "hz": hz,
        "sysctl": sysctl,
        "cookie_minute_jiffies": 60 * HZ,
        "probes": list(probes.values()),
        "tcpdump": {"command": tcpdump_cmd(dump), "stats": stats},
        "seq_note": "seq/ack absolute; t in seconds since the first SYN (T0)",
    }


# ---- fact 5: close() that sends a RST -------------------------------------------------

RST_SERVER = ("127.0.0.1", 5004)
RST_CASES = [
    # (name, description, client sends data?, client shuts down writing?, server reads?, server linger0?,
    #  client linger0?)
    ("unread-data", "the client sends 100 bytes; the server close()s without reading them",
     True, False, False, False, False),
    ("unread-data-and-fin", "the client sends 100 bytes and shutdown(SHUT_WR) (a FIN); the server close()s "
     "without reading", True, True, False, False, False),
    ("unread-fin-only", "the client sends no data, only shutdown(SHUT_WR) (a FIN); the server close()s "
     "without reading", False, True, False, False, False),
    ("read-all", "the client sends 100 bytes; the server reads them all, then close()s (control case)",
     True, False, True, False, False),
    ("server-linger0", "the client sends 100 bytes; the server reads them all, sets SO_LINGER {on, 0 s} "
     "and close()s", True, False, True, True, False),
    ("client-linger0", "no data; the client sets SO_LINGER {on, 0 s} and close()s first",
     False, False, False, False, True),
]


def rst_one(listener: socket.socket, cport: int, data: bool, shut: bool, read: bool, s_linger0: bool,
            c_linger0: bool) -> dict:
    out: dict = {"client_port": cport}
    linger0 = struct.pack("ii", 1, 0)
    cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    cli.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    cli.bind(("127.0.0.1", cport))
    cli.settimeout(2)
    cli.connect(RST_SERVER)
    conn, _ = listener.accept()
    conn.settimeout(2)
    if data:
        cli.sendall(b"u" * 100)
    if shut:
        cli.shutdown(socket.SHUT_WR)
    time.sleep(0.1)
    if c_linger0:
        cli.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger0)
        cli.close()
        time.sleep(0.1)
        out["ss_after_close"] = [ln for ln in ss_lines() if f":{cport}" in ln]
        try:
            out["server_recv"] = repr(conn.recv(4096))
        except OSError as exc:
            out["server_recv"] = errno_name(exc)
        conn.close()
        return out
    if read:
        got = 0
        while got < 100:
            got += len(conn.recv(100 - got))
        out["server_read_bytes"] = got
    if s_linger0:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger0)
    out["ss_server_before_close"] = [ln for ln in ss_lines(info=False) if f":{cport}" in ln
                                     and ln.split()[3].endswith(f":{RST_SERVER[1]}")]
    conn.close()
    time.sleep(0.1)
    out["ss_after_close"] = [ln for ln in ss_lines() if f":{cport}" in ln]
    try:
        r = cli.recv(4096)
        out["client_recv"] = "EOF" if r == b"" else repr(r)
    except OSError as exc:
        out["client_recv"] = errno_name(exc)
    try:
        cli.send(b"z")
        out["client_send_after"] = "ok"
    except OSError as exc:
        out["client_send_after"] = errno_name(exc)
    cli.close()
    time.sleep(0.1)
    return out


def fact_rst_close() -> dict:
    lo_up()
    sysctl = read_sysctls()
    tmpdir = tempfile.mkdtemp(prefix="tcpfact")
    dump = Tcpdump(os.path.join(tmpdir, "cap.pcap"), (0, 0), 60, bpf="tcp", immediate=True)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(RST_SERVER)
    listener.listen(BACKLOG)
    listener.settimeout(3)
    cases = []
    dump.start()
    try:
        for i, (name, desc, data, shut, read, sl0, cl0) in enumerate(RST_CASES):
            r = rst_one(listener, 44000 + i, data, shut, read, sl0, cl0)
            r.update({"case": name, "description": desc})
            cases.append(r)
        time.sleep(0.3)
        packets, stats = stop_capture(dump)
    finally:
        listener.close()
        abort_capture(dump)
    shutil.rmtree(tmpdir, ignore_errors=True)
    for r in cases:
        cport = r["client_port"]
        conv = [p for p in packets if cport in (p["sport"], p["dport"])]
        t0 = conv[0]["ts"]
        isn = {}
        for p in conv:
            if p["flags"] & 0x02:
                isn.setdefault(p["sport"], p["seq"])
        names = {cport: "client", RST_SERVER[1]: "server"}
        segs = []
        for p in conv:
            rec = seg_record(p, t0, names)
            other = p["dport"]
            rec["rseq"] = (p["seq"] - isn[p["sport"]]) % SEQ_MOD
            rec["rack"] = ((p["ack"] - isn[other]) % SEQ_MOD) if p["flags"] & 0x10 else None
            segs.append(rec)
        r["segments"] = segs
        r["summary"] = " ".join(f"{'c' if s['src'] == 'client' else 's'}:{s['flags']}"
                                + (f"({s['len']})" if s["len"] else "") for s in segs)
        r["rst_from"] = sorted({s["src"] for s in segs if "R" in s["flags"]})
    return {
        **fact_header(
            "rst-close",
            "When close() sends a RST instead of a FIN: unread data in the receive queue, and SO_LINGER "
            "with a zero timeout. Each case is one connection 127.0.0.1:PORT -> 127.0.0.1:5004; the client "
            "then tries recv() and send() to see the error.",
            "unshare -n; ip link set lo up; default sysctls; tcpdump -i lo --immediate-mode 'tcp'; ss -tan",
        ),
        "sysctl": sysctl,
        "cases": cases,
        "tcpdump": {"command": tcpdump_cmd(dump), "stats": stats},
        "seq_note": "seq/ack absolute; rseq/rack relative to the sender's/receiver's ISN (SYN = 0); "
                    "t in seconds since the case's SYN",
    }


# ---- shared by keepalive, linger and observe ------------------------------------------

LINGER0 = struct.pack("ii", 1, 0)


def err_name(exc: BaseException) -> str:
    """The errno of a failed socket call; "timeout" only for a Python-level socket timeout.

    (errno_name() maps every TimeoutError to "timeout", which would hide a real ETIMEDOUT.)
    """
    import errno as _errno

    code = getattr(exc, "errno", None)
    if code:
        return _errno.errorcode.get(code, str(code))
    if isinstance(exc, TimeoutError):
        return "timeout"
    return repr(exc)


def nstat_counters(tmpdir: str) -> tuple[dict, str]:
    """Absolute values of the Tcp*/TcpExt* counters of this namespace: `nstat -asz`, else /proc."""
    out: dict = {}
    if shutil.which("nstat"):
        env = dict(os.environ, NSTAT_HISTORY=os.path.join(tmpdir, "nstat.history"))
        proc = subprocess.run(["nstat", "-asz"], capture_output=True, text=True, timeout=10, env=env)
        for line in proc.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0].startswith("Tcp") and re.fullmatch(r"-?\d+", parts[1]):
                out[parts[0]] = int(parts[1])
        if out:
            return out, "nstat -asz"
    for path in ("/proc/net/snmp", "/proc/net/netstat"):
        with open(path) as fh:
            lines = fh.read().splitlines()
        for names, values in zip(lines[::2], lines[1::2], strict=False):
            prefix, *keys = names.split()
            for k, v in zip(keys, values.split()[1:], strict=False):
                name = prefix.rstrip(":") + k
                if name.startswith("Tcp") and re.fullmatch(r"-?\d+", v):
                    out[name] = int(v)
    return out, "/proc/net/snmp + /proc/net/netstat"


def counter_delta(before: dict, after: dict) -> dict:
    return {k: after[k] - before.get(k, 0) for k in sorted(after) if after[k] != before.get(k, 0)}


def recv_exact(sk: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sk.recv(n - len(buf))
        if not chunk:
            raise CaptureError(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def port_lines(lines: list[str], port: int) -> list[str]:
    """The ss lines with `port` as local or peer port (with or without the State column)."""
    return [ln for ln in lines if any(tok.endswith(f":{port}") for tok in ln.split()[:5])]


def rel_flags(segs: list[dict]) -> str:
    return " ".join(f"{'c' if s['src'] == 'client' else 's'}:{s['flags']}" + (f"({s['len']})" if s["len"] else "")
                    for s in segs)


def ipt_counters(rules: list[list[str]]) -> list[int]:
    counts = read_rule_counters()
    return counts[: len(rules)]


# ---- fact 6: keepalive ------------------------------------------------------------------

KA_ADDR = "127.0.0.1"
KA_IDLE, KA_INTVL, KA_CNT = 1, 1, 3
KA_CASES = [
    # (name, server port, client port, description)
    ("idle", 5010, 45010, "a live, idle peer: probes and their answers for 4.6 s"),
    ("silent", 5011, 45011, "a silent peer: after the data exchange every segment from the server to the client "
     "is dropped in INPUT; the client waits in recv()"),
    ("forgot", 5012, 45012, "a peer that forgot the connection: the server socket is closed with SO_LINGER "
     "{1, 0} and its RST (the first RST towards the client, exactly one) is dropped; the client waits in recv()"),
    ("close-wait", 5013, 45013, "CLOSE_WAIT with keepalive: the server calls shutdown(SHUT_WR) (FIN_WAIT_2, not "
     "orphaned), the client reads EOF and keeps its socket open for 4.6 s"),
    ("user-timeout", 5014, 45014, "TCP_USER_TIMEOUT 2000 ms, no keepalive: the client sends 100 bytes while every "
     "segment from the server is dropped; the client waits in recv()"),
    ("silent-user-timeout", 5015, 45015, "keepalive 1 s / 1 s / 9 probes plus TCP_USER_TIMEOUT 2500 ms, silent "
     "peer as in 'silent'"),
]


def fact_keepalive() -> dict:
    lo_up()
    hz = kernel_hz()
    sysctl = read_sysctls()
    defaults = {}
    for k in ("tcp_keepalive_time", "tcp_keepalive_intvl", "tcp_keepalive_probes"):
        with open(f"/proc/sys/net/ipv4/{k}") as fh:
            defaults[k] = sysctl[k] = int(fh.read())
    tmpdir = tempfile.mkdtemp(prefix="tcpfact")
    dump = Tcpdump(os.path.join(tmpdir, "cap.pcap"), (0, 0), 120, bpf="tcp", immediate=True)
    cases = []
    dump.start()
    try:
        for name, sport, cport, desc in KA_CASES:
            cases.append(keepalive_case(name, sport, cport, desc, tmpdir))
        time.sleep(0.3)
        off = mono_to_real_offset()
        packets, stats = stop_capture(dump)
    finally:
        subprocess.run(["iptables", "-w", "-F", "INPUT"], capture_output=True, timeout=10)
        abort_capture(dump)
    shutil.rmtree(tmpdir, ignore_errors=True)
    for c in cases:
        keepalive_analyse(c, packets, off)
    return {
        **fact_header(
            "keepalive",
            "TCP keepalive and TCP_USER_TIMEOUT on loopback. Each case is one connection 127.0.0.1:CPORT -> "
            "127.0.0.1:SPORT; the client sets SO_KEEPALIVE with TCP_KEEPIDLE 1 s, TCP_KEEPINTVL 1 s, "
            "TCP_KEEPCNT 3 (unless stated) before connect(); then the client sends 10 bytes and the server 20 "
            "(so SND.UNA is not ISN+1) and the connection goes idle.",
            "unshare -n; ip link set lo up; default sysctls (the keepalive defaults are recorded, not changed); "
            "per case an iptables rule in INPUT (stored with its packet counter); tcpdump -i lo --immediate-mode "
            "'tcp'; ss -tanoi for the timers; nstat -asz before and after each case",
        ),
        "hz": hz,
        "sysctl": sysctl,
        "keepalive_defaults": defaults,
        "socket_options": {"TCP_KEEPIDLE": KA_IDLE, "TCP_KEEPINTVL": KA_INTVL, "TCP_KEEPCNT": KA_CNT},
        "cases": cases,
        "tcpdump": {"command": tcpdump_cmd(dump), "stats": stats},
        "seq_note": "seq/ack absolute; segment t in seconds since the case's SYN; '*_since_last_rx' in seconds "
                    "since the last segment from the server that reached the client (the idle period's start)",
    }


def keepalive_case(name: str, sport: int, cport: int, desc: str, tmpdir: str) -> dict:
    out: dict = {"case": name, "description": desc, "server_port": sport, "client_port": cport}
    ka = None if name == "user-timeout" else ((KA_IDLE, KA_INTVL, 9) if name == "silent-user-timeout"
                                              else (KA_IDLE, KA_INTVL, KA_CNT))
    uto = {"user-timeout": 2000, "silent-user-timeout": 2500}.get(name)
    out["keepalive"] = {"idle_s": ka[0], "intvl_s": ka[1], "cnt": ka[2]} if ka else None
    out["tcp_user_timeout_ms"] = uto
    run(["iptables", "-w", "-F", "INPUT"])
    before, method = nstat_counters(tmpdir)
    out["nstat_method"] = method
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind((KA_ADDR, sport))
    lst.listen(8)
    lst.settimeout(3)
    cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    cli.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    cli.bind((KA_ADDR, cport))
    if ka:
        cli.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        cli.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, ka[0])
        cli.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, ka[1])
        cli.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, ka[2])
    if uto:
        cli.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, uto)
    cli.settimeout(3)
    marks: list = []

    def mark(what: str) -> None:
        marks.append((what, time.monotonic()))

    mark("client connect()")
    cli.connect((KA_ADDR, sport))
    conn, _ = lst.accept()
    lst.close()
    cli.sendall(b"k" * 10)
    recv_exact(conn, 10)
    conn.sendall(b"K" * 20)
    recv_exact(cli, 20)
    time.sleep(0.05)
    rules: list[list[str]] = []
    if name in ("silent", "user-timeout", "silent-user-timeout"):
        rules.append(["-p", "tcp", "-s", KA_ADDR, "--sport", str(sport), "--dport", str(cport), "-j", "DROP"])
    elif name == "forgot":
        rules.append(["-p", "tcp", "-s", KA_ADDR, "--sport", str(sport), "--dport", str(cport), "--tcp-flags",
                      "RST", "RST", "-m", "limit", "--limit", "1/day", "--limit-burst", "1", "-j", "DROP"])
    for r in rules:
        run(["iptables", "-w", "-A", "INPUT"] + r)
    out["iptables_rules"] = ["iptables -A INPUT " + " ".join(r) for r in rules]
    mark("rules in place")
    results: dict = {}

    def watch(label: str, sk: socket.socket, seconds: float, first: int = 0) -> threading.Thread:
        def body() -> None:
            sk.settimeout(seconds)
            try:
                if first:
                    recv_exact(sk, first)
                data = sk.recv(4096)
                results[label] = "EOF" if data == b"" else f"{len(data)} bytes"
            except OSError as exc:
                results[label] = err_name(exc)
            mark(f"{label} returned: {results[label]}")

        thr = threading.Thread(target=body, daemon=True)
        thr.start()
        return thr

    ss_during: list[dict] = []

    def snap(label: str) -> None:
        ss_during.append({"at": label, "mono": time.monotonic(),
                          "lines": port_lines(ss_lines(info=True), cport)})

    threads = []
    if name == "idle":
        threads = [watch("client recv()", cli, 4.6), watch("server recv()", conn, 4.6)]
        time.sleep(0.5)
        snap("0.5 s idle")
        time.sleep(1.0)
        snap("1.5 s idle")
    elif name in ("silent", "silent-user-timeout"):
        threads = [watch("client recv()", cli, 8.0), watch("server recv()", conn, 8.0)]
        time.sleep(0.5)
        snap("0.5 s idle")
        time.sleep(2.0)
        snap("2.5 s idle")
    elif name == "forgot":
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0)
        mark("server close() with SO_LINGER {1, 0}")
        conn.close()
        conn = None
        time.sleep(0.1)
        snap("after the server's close()")
        threads = [watch("client recv()", cli, 4.0)]
    elif name == "close-wait":
        mark("server shutdown(SHUT_WR)")
        conn.shutdown(socket.SHUT_WR)
        cli.settimeout(2)
        results["client first recv()"] = "EOF" if cli.recv(100) == b"" else "data"
        mark("client read EOF")
        time.sleep(0.5)
        snap("0.5 s after EOF")
        time.sleep(4.1)
        snap("4.6 s after EOF")
        results["client recv() at the end"] = "EOF" if cli.recv(100) == b"" else "data"
    elif name == "user-timeout":
        mark("client send(100 bytes)")
        cli.send(b"u" * 100)
        threads = [watch("client recv()", cli, 8.0), watch("server recv()", conn, 5.0, first=100)]
        time.sleep(1.0)
        snap("1.0 s after send")
    for thr in threads:
        thr.join(10)
    time.sleep(0.2)
    snap("end")
    out["iptables_packet_counters"] = ipt_counters(rules) if rules else []
    after, _ = nstat_counters(tmpdir)
    out["nstat_delta"] = counter_delta(before, after)
    out["results"] = results
    out["ss"] = ss_during
    out["_marks"] = marks
    mark("cleanup: both sockets closed with SO_LINGER {1, 0} (after the last nstat snapshot)")
    for sk in (cli, conn):
        if sk is not None:
            sk.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0)
            sk.close()
    run(["iptables", "-w", "-F", "INPUT"])
    time.sleep(0.1)
    return out


def keepalive_analyse(c: dict, packets: list[dict], off: float) -> None:
    cport, sport = c["client_port"], c["server_port"]
    conv = [p for p in packets if {p["sport"], p["dport"]} == {cport, sport}]
    names = {cport: "client", sport: "server"}
    t0 = conv[0]["ts"]
    c["segments"] = [seg_record(p, t0, names) for p in conv]
    c["summary"] = rel_flags(c["segments"])
    marks = c.pop("_marks")
    rules_real = next(m for w, m in marks if w == "rules in place") + off
    cisn = next(p["seq"] for p in conv if p["sport"] == cport and p["flags"] & 0x02)
    sisn = next(p["seq"] for p in conv if p["sport"] == sport and p["flags"] & 0x02)
    c["client_isn"], c["server_isn"] = cisn, sisn
    # the data exchange: client 10 bytes, server 20 (+ a FIN in close-wait)
    snd_nxt = (cisn + 1 + 10) % SEQ_MOD
    probes = [p for p in conv if p["sport"] == cport and flags_to_letters(p["flags"]) == "A"
              and p["seq"] == (snd_nxt - 1) % SEQ_MOD and p["ts"] > rules_real - 0.04]
    first_probe_ts = probes[0]["ts"] if probes else rules_real
    # segments from the server that reached the client: before the first probe and, if a rule drops some,
    # before the rule was in place
    rx = [p for p in conv if p["sport"] == sport and p["ts"] < first_probe_ts
          and (not c["iptables_rules"] or p["ts"] < rules_real)]
    last_rx = rx[-1]["ts"]
    c["last_rx_t"] = round(last_rx - t0, 6)
    c["snd_una_before_probes"] = snd_nxt
    rows = []
    for p in probes:
        ans = next((q for q in conv if q["sport"] == sport and q["ts"] > p["ts"]), None)
        rows.append({
            "t_since_last_rx": round(p["ts"] - last_rx, 6),
            "seq_minus_snd_una": sdiff(p["seq"], snd_nxt),
            "len": p["len"],
            "ack": p["ack"],
            "answer_flags": flags_to_letters(ans["flags"]) if ans and ans["ts"] - p["ts"] < 0.5 else None,
            "answer_delay_ms": round((ans["ts"] - p["ts"]) * 1000, 3) if ans and ans["ts"] - p["ts"] < 0.5 else None,
            "answer_seq": ans["seq"] if ans and ans["ts"] - p["ts"] < 0.5 else None,
            "answer_ack": ans["ack"] if ans and ans["ts"] - p["ts"] < 0.5 else None,
        })
    c["probes"] = rows
    rsts = [p for p in conv if p["flags"] & 0x04]
    c["rsts"] = [{"t_since_last_rx": round(p["ts"] - last_rx, 6), "from": names[p["sport"]],
                  "flags": flags_to_letters(p["flags"]), "seq": p["seq"],
                  "ack": p["ack"] if p["flags"] & 0x10 else None} for p in rsts]
    c["app_events"] = [{"t_since_last_rx": round(m + off - last_rx, 6), "event": w} for w, m in marks]
    for s in c["ss"]:
        s["t_since_last_rx"] = round(s.pop("mono") + off - last_rx, 6)
    data = [p for p in conv if p["sport"] == cport and p["len"] == 100]
    if data:
        first = data[0]["ts"]
        c["data_transmissions_since_first"] = [round(p["ts"] - first, 6) for p in data]
        end = next((m for w, m in marks if w.startswith("client recv() returned")), None)
        c["client_error_since_first_transmission"] = round(end + off - first, 6) if end else None


# ---- fact 7: SO_LINGER {1, 0} --------------------------------------------------------------

LINGER_ADDR = "127.0.0.1"
LINGER_CASES = [
    # (name, server port, client port, description)
    ("estab-peer-unread", 5020, 45020, "ESTABLISHED: the client sends 100 bytes that the server has not read yet, "
     "then sets SO_LINGER {1, 0} and close()s; the server then calls recv() repeatedly"),
    ("estab-unsent", 5021, 45021, "ESTABLISHED with data the client could not send: the server (SO_RCVBUF 2048, "
     "never reads) closes its window, the client (SO_SNDBUF 4096, non-blocking) writes until EAGAIN, waits 0.5 s, "
     "then SO_LINGER {1, 0} and close()"),
    ("close-wait", 5022, 45022, "CLOSE_WAIT: the server calls shutdown(SHUT_WR), the client reads EOF, then SO_LINGER "
     "{1, 0} and close(); the server (FIN_WAIT_2, not orphaned) then calls recv()"),
    ("fin-wait-2", 5023, 45023, "FIN_WAIT_2: the client calls shutdown(SHUT_WR), the server reads EOF (CLOSE_WAIT); "
     "the client then sets SO_LINGER {1, 0} and close()s; the server then tries recv() and send()"),
    ("normal-close", 5024, 45024, "control: the client close()s normally first, the server reads EOF and close()s; "
     "the client should hold TIME_WAIT"),
    ("close-wait-orphan-peer", 5025, 45025, "the client close()s normally first (FIN_WAIT_2, orphaned); the server "
     "reads EOF, sets SO_LINGER {1, 0} and close()s in CLOSE_WAIT"),
]


def linger_drain(sk: socket.socket, wait: float = 0.5) -> dict:
    """recv() until two non-data outcomes: {"bytes": N, "then": [outcome, outcome]}."""
    sk.settimeout(wait)
    got, then = 0, []
    for _ in range(1000):
        try:
            data = sk.recv(65536)
        except OSError as exc:
            then.append(err_name(exc))
            if then[-1] == "timeout":
                break
        else:
            if data:
                got += len(data)
                continue
            then.append("EOF")
        if len(then) == 2:
            break
    return {"bytes": got, "then": then}


def try_send(sk: socket.socket) -> str:
    try:
        sk.send(b"z")
        return "ok"
    except OSError as exc:
        return err_name(exc)


def linger_case(name: str, sport: int, cport: int, desc: str, tmpdir: str) -> dict:
    out: dict = {"case": name, "description": desc, "server_port": sport, "client_port": cport}
    before, method = nstat_counters(tmpdir)
    out["nstat_method"] = method
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if name == "estab-unsent":
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    lst.bind((LINGER_ADDR, sport))
    lst.listen(8)
    lst.settimeout(3)
    cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    cli.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if name == "estab-unsent":
        cli.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    cli.bind((LINGER_ADDR, cport))
    cli.settimeout(3)
    cli.connect((LINGER_ADDR, sport))
    conn, _ = lst.accept()
    lst.close()
    conn.settimeout(3)
    res: dict = {}
    snaps: list[dict] = []

    def snap(label: str) -> None:
        snaps.append({"at": label, "lines": port_lines(ss_lines(info=True), cport)})

    def close_linger0(sk: socket.socket, who: str) -> None:
        sk.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0)
        snap(f"before the {who}'s close()")
        sk.close()
        time.sleep(0.1)
        snap(f"after the {who}'s close()")

    if name == "estab-peer-unread":
        cli.sendall(b"u" * 100)
        time.sleep(0.1)
        close_linger0(cli, "client")
        res["server_recv"] = linger_drain(conn)
        res["server_send_after"] = try_send(conn)
    elif name == "estab-unsent":
        cli.setblocking(False)
        written = 0
        while True:
            try:
                written += cli.send(b"w" * 1024)
            except BlockingIOError:
                break
        res["client_bytes_written"] = written
        time.sleep(0.5)
        close_linger0(cli, "client")
        res["server_recv"] = linger_drain(conn)
    elif name == "close-wait":
        conn.shutdown(socket.SHUT_WR)
        res["client_recv_before"] = "EOF" if cli.recv(100) == b"" else "data"
        time.sleep(0.1)
        close_linger0(cli, "client")
        res["server_recv"] = linger_drain(conn)
        res["server_send_after"] = try_send(conn)
    elif name == "fin-wait-2":
        cli.shutdown(socket.SHUT_WR)
        res["server_recv_before"] = "EOF" if conn.recv(100) == b"" else "data"
        time.sleep(0.1)
        close_linger0(cli, "client")
        res["server_recv"] = linger_drain(conn)
        res["server_send_after"] = try_send(conn)
        res["server_send_again"] = try_send(conn)
    elif name == "normal-close":
        snap("before the client's close()")
        cli.close()
        res["server_recv_before"] = "EOF" if conn.recv(100) == b"" else "data"
        conn.close()
        conn = None
        time.sleep(0.1)
        snap("after both close()s")
    elif name == "close-wait-orphan-peer":
        cli.close()
        res["server_recv_before"] = "EOF" if conn.recv(100) == b"" else "data"
        time.sleep(0.1)
        close_linger0(conn, "server")
        conn = None
    time.sleep(0.1)
    out["ss_time_wait"] = port_lines(ss_lines(["state", "time-wait"]), cport)
    out["ss_any_state_at_end"] = port_lines(ss_lines(), cport)
    after, _ = nstat_counters(tmpdir)
    out["nstat_delta"] = counter_delta(before, after)
    out["results"] = res
    out["ss"] = snaps
    if conn is not None:
        conn.close()
    return out


def fact_linger() -> dict:
    lo_up()
    sysctl = read_sysctls()
    tmpdir = tempfile.mkdtemp(prefix="tcpfact")
    dump = Tcpdump(os.path.join(tmpdir, "cap.pcap"), (0, 0), 60, bpf="tcp", immediate=True)
    cases = []
    dump.start()
    try:
        for name, sport, cport, desc in LINGER_CASES:
            cases.append(linger_case(name, sport, cport, desc, tmpdir))
        time.sleep(0.3)
        packets, stats = stop_capture(dump)
    finally:
        abort_capture(dump)
    shutil.rmtree(tmpdir, ignore_errors=True)
    for c in cases:
        cport, sport = c["client_port"], c["server_port"]
        conv = [p for p in packets if {p["sport"], p["dport"]} == {cport, sport}]
        names = {cport: "client", sport: "server"}
        c["segments"] = [seg_record(p, conv[0]["ts"], names) for p in conv]
        c["summary"] = rel_flags(c["segments"])
        isn = {p["sport"]: p["seq"] for p in conv if p["flags"] & 0x02}
        c["isn"] = {"client": isn[cport], "server": isn[sport]}
        rst = [s for s in c["segments"] if "R" in s["flags"]]
        c["rst"] = [{"from": s["src"], "flags": s["flags"],
                     "rseq": (s["seq"] - isn[s["sport"]]) % SEQ_MOD,
                     "rack": (s["ack"] - isn[s["dport"]]) % SEQ_MOD if s["ack"] is not None else None}
                    for s in rst]
        cdata = [s for s in c["segments"] if s["src"] == "client" and s["len"]]
        c["client_bytes_sent"] = max(((s["seq"] + s["len"] - isn[cport] - 1) % SEQ_MOD for s in cdata), default=0)
    return {
        **fact_header(
            "linger",
            "close() with SO_LINGER {on, 0 s} (an abortive close) in ESTABLISHED, CLOSE_WAIT and FIN_WAIT_2, and "
            "whether either side keeps a TIME_WAIT socket. One connection per case, 127.0.0.1:CPORT -> "
            "127.0.0.1:SPORT. rst-close.json has the simplest ESTABLISHED cases (client-linger0, server-linger0); "
            "these are the ones it lacks.",
            "unshare -n; ip link set lo up; default sysctls; tcpdump -i lo --immediate-mode 'tcp'; ss -tanoi; "
            "ss -tan state time-wait; nstat -asz before and after each case",
        ),
        "sysctl": sysctl,
        "cases": cases,
        "tcpdump": {"command": tcpdump_cmd(dump), "stats": stats},
        "seq_note": "seq/ack absolute; rst rseq/rack relative to the sender's/receiver's ISN (SYN = 0); t in seconds "
                    "since the case's SYN; client_bytes_sent = highest client byte sent (relative)",
    }


# ---- fact 8: what ss and nstat show at each step of a server's life -----------------------

OBS_ADDR = "127.0.0.1"
OBS_SERVER = 6010  # the general-purpose listener (backlog 128)
OBS_CRAFT_PORTS = (47000, 47999)  # crafted SYN sources; their RSTs are dropped in INPUT
OBS_TW_WAIT = 62.0  # seconds after the TIME_WAIT began until the last snapshot


def ss_listener(port: int) -> dict | None:
    for ln in ss_lines():
        parts = ln.split()
        if len(parts) >= 4 and parts[0] == "LISTEN" and parts[3].endswith(f":{port}"):
            return {"line": ln, "recv_q": int(parts[1]), "send_q": int(parts[2])}
    return None


def ss_state_of(port: int) -> dict:
    """Local port -> ss state name, for every socket whose local port is `port`."""
    out = {}
    for ln in ss_lines():
        parts = ln.split()
        if len(parts) >= 5 and parts[3].endswith(f":{port}"):
            out[parts[4]] = parts[0]
    return out


def fact_observe() -> dict:
    lo_up()
    sysctl = read_sysctls()
    with open("/proc/sys/net/core/somaxconn") as fh:
        somaxconn = int(fh.read())
    tmpdir = tempfile.mkdtemp(prefix="tcpfact")
    dump = Tcpdump(os.path.join(tmpdir, "cap.pcap"), (0, 0), 240, bpf="tcp", immediate=True)
    rule = ["-p", "tcp", "--sport", f"{OBS_CRAFT_PORTS[0]}:{OBS_CRAFT_PORTS[1]}", "--tcp-flags", "RST", "RST",
            "-j", "DROP"]
    syn_rule = ["-p", "tcp", "--dport", "6003", "--tcp-flags", "ALL", "SYN", "-j", "DROP"]
    run(["iptables", "-w", "-A", "INPUT"] + rule)
    run(["iptables", "-w", "-A", "INPUT"] + syn_rule)
    sniff = RawSniffer()
    raw = RawTcp(OBS_ADDR)
    main = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    main.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    main.bind((OBS_ADDR, OBS_SERVER))
    main.listen(BACKLOG)
    main.settimeout(3)
    steps: list[dict] = []
    method = None

    def step(name: str, desc: str, fn) -> dict:
        nonlocal method
        before, method = nstat_counters(tmpdir)
        t = time.monotonic()
        extra = fn() or {}
        time.sleep(0.05)
        after, _ = nstat_counters(tmpdir)
        rec = {"step": name, "description": desc, "nstat_delta": counter_delta(before, after), **extra,
               "_mono": (t, time.monotonic())}
        steps.append(rec)
        return rec

    def connect(cport: int | None, sport: int = OBS_SERVER) -> tuple[socket.socket, socket.socket]:
        cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if cport:
            cli.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            cli.bind((OBS_ADDR, cport))
        cli.settimeout(3)
        cli.connect((OBS_ADDR, sport))
        conn, _ = main.accept()
        conn.settimeout(3)
        return cli, conn

    def abort(*socks: socket.socket) -> None:
        for sk in socks:
            sk.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0)
            sk.close()

    dump.start()
    tw_mono = None
    try:
        step("baseline", "nothing happens for 1 s (the counters' noise level)", lambda: time.sleep(1.0))

        def tw_created():
            nonlocal tw_mono
            cli, conn = connect(46000)
            cli.sendall(b"t" * 10)
            recv_exact(conn, 10)
            cli.close()
            eof = conn.recv(100) == b""
            conn.close()
            time.sleep(0.2)
            tw_mono = time.monotonic()
            return {"ports": [46000], "server_read_eof": eof,
                    "ss_time_wait": port_lines(ss_lines(["state", "time-wait"]), 46000)}
        step("time-wait-created", "a normal connection 127.0.0.1:46000 -> 6010: 10 bytes, the client close()s "
             "first, the server reads EOF and close()s: the client holds TIME_WAIT", tw_created)

        def listen_backlog():
            res = {}
            socks = []
            for port, n in ((6000, 8), (6001, 100000)):
                sk = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sk.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sk.bind((OBS_ADDR, port))
                sk.listen(n)
                socks.append(sk)
                res[str(n)] = ss_listener(port)
            for sk in socks:
                sk.close()
            return {"somaxconn": somaxconn, "listen": res}
        step("listen-backlog", "listen(8) on 6000 and listen(100000) on 6001; ss -lnt", listen_backlog)

        held: list[socket.socket] = []

        def ephemeral():
            lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lst.bind((OBS_ADDR, 6002))
            lst.listen(BACKLOG)
            lst.settimeout(3)
            to_6002, to_6010, bound = [], [], []
            for _ in range(50):
                cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                cli.settimeout(3)
                cli.connect((OBS_ADDR, 6002))
                to_6002.append(cli.getsockname()[1])
                held.extend([cli, lst.accept()[0]])
            for _ in range(10):
                cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                cli.settimeout(3)
                cli.connect((OBS_ADDR, OBS_SERVER))
                to_6010.append(cli.getsockname()[1])
                held.extend([cli, main.accept()[0]])
            for _ in range(50):
                sk = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sk.bind((OBS_ADDR, 0))
                bound.append(sk.getsockname()[1])
                held.append(sk)
            lst.close()
            return {"ip_local_port_range": sysctl.get("ip_local_port_range"),
                    "connect_ports_to_6002": to_6002, "connect_ports_to_6010": to_6010, "bind0_ports": bound}
        step("ephemeral-ports", "50 connect()s to 127.0.0.1:6002 and 10 to 6010 from unbound sockets (all kept "
             "open), then 50 sockets bind(('127.0.0.1', 0)) (not connected); the local ports chosen", ephemeral)

        def abort_all():
            n = 0
            for sk in held:
                try:
                    sk.getpeername()
                except OSError:
                    sk.close()  # the bind(0) sockets and the accepted ones once reset
                    continue
                abort(sk)
                n += 1
            held.clear()
            return {"aborted": n}
        step("abort-60", "the 60 connections of ephemeral-ports end: every socket that still has a peer (the 60 "
             "clients first, then the 60 server sockets, which by then were reset) is closed with SO_LINGER "
             "{1, 0}; the bind(0) sockets are closed", abort_all)

        def syn_sent():
            cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            cli.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            cli.bind((OBS_ADDR, 46050))
            cli.setblocking(False)
            rc = cli.connect_ex((OBS_ADDR, 6003))
            snaps = []
            t = time.monotonic()
            for at in (0.3, 1.3, 2.3):
                time.sleep(max(0.0, t + at - time.monotonic()))
                snaps.append({"after_s": at, "lines": port_lines(ss_lines(info=True), 46050)})
            cli.close()
            time.sleep(0.05)
            return {"ports": [46050], "connect_ex": os.strerror(rc) if rc else 0, "ss": snaps,
                    "ss_after_close": port_lines(ss_lines(), 46050)}
        step("syn-sent", "non-blocking connect() from 46050 to 6003, where an INPUT rule drops every SYN; ss "
             "-tanoi 0.3, 1.3 and 2.3 s later; then close()", syn_sent)

        def refused():
            cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            cli.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            cli.bind((OBS_ADDR, 46051))
            cli.settimeout(3)
            try:
                cli.connect((OBS_ADDR, 6004))
                r = "ok"
            except OSError as exc:
                r = err_name(exc)
            cli.close()
            return {"ports": [46051], "connect": r}
        step("refused", "connect() from 46051 to 6004, where nothing listens", refused)

        for cookies, lport, cbase in ((1, 6005, 46100), (0, 6006, 46110)):
            set_sysctl("tcp_syncookies", cookies)
            lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lst.bind((OBS_ADDR, lport))
            lst.listen(2)
            lst.setblocking(False)
            clients: list[socket.socket] = []

            def fill(lst=lst, lport=lport, cbase=cbase, clients=clients, cookies=cookies):
                rows = []
                for i in range(6):
                    cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    cli.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    cli.bind((OBS_ADDR, cbase + i))
                    cli.setblocking(False)
                    cli.connect_ex((OBS_ADDR, lport))
                    clients.append(cli)
                    time.sleep(0.2)
                    rows.append({"client": i + 1, "listener": ss_listener(lport)})
                time.sleep(1.5)
                states = ss_state_of(lport)
                return {"ports": [cbase + i for i in range(6)], "tcp_syncookies": cookies, "backlog": 2,
                        "after_each_connect": rows, "listener_end": ss_listener(lport),
                        "client_states": {str(cbase + i): ss_state_of(cbase + i).get(f"127.0.0.1:{lport}")
                                          for i in range(6)},
                        "server_side_states": states}
            step(f"accept-queue-full-cookies{cookies}", f"tcp_syncookies={cookies}; listen(2) on {lport}, "
                 f"accept() never called; 6 non-blocking connect()s from {cbase}..{cbase + 5}, 0.2 s apart; ss "
                 "after each, and 1.5 s after the last", fill)

            def drain_accept(lst=lst, lport=lport, cbase=cbase, clients=clients):
                got = []
                while True:
                    try:
                        conn, peer = lst.accept()
                    except BlockingIOError:
                        break
                    got.append(peer[1])
                    clients.append(conn)
                right_after = ss_listener(lport)
                time.sleep(1.2)
                later = ss_listener(lport)
                states = {str(cbase + i): ss_state_of(cbase + i).get(f"127.0.0.1:{lport}") for i in range(6)}
                got2 = []
                while True:
                    try:
                        conn, peer = lst.accept()
                    except BlockingIOError:
                        break
                    got2.append(peer[1])
                    clients.append(conn)
                return {"ports": [cbase + i for i in range(6)], "accepted": got, "listener_right_after": right_after,
                        "listener_1_2_s_later": later, "client_states_1_2_s_later": states,
                        "accepted_1_2_s_later": got2}
            step(f"accept-cookies{cookies}", "accept() everything queued; ss at once and 1.2 s later (the waiting "
                 "clients retransmit their SYNs once a second), then accept() again", drain_accept)
            for sk in clients:
                try:
                    abort(sk)
                except OSError:
                    sk.close()
            lst.close()
            time.sleep(0.1)

        for cookies, lport, cbase in ((1, 6007, 47000), (0, 6008, 47010)):
            set_sysctl("tcp_syncookies", cookies)
            lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lst.bind((OBS_ADDR, lport))
            lst.listen(2)

            def flood(lport=lport, cbase=cbase, cookies=cookies):
                sent = []
                for i in range(6):
                    t = raw.send(OBS_ADDR, cbase + i, lport, 0x20000000 + i * 1000, 0, "S", win=65535,
                                 options=tcp_opt_mss(1460))
                    sent.append(t)
                    time.sleep(0.05)
                time.sleep(0.3)
                synacks = {}
                for i in range(6):
                    p = sniff.find(lambda p, c=cbase + i: p["sport"] == lport and p["dport"] == c
                                   and p["flags"] & 0x12 == 0x12, since=sent[0])
                    synacks[str(cbase + i)] = len(p)
                reqs = [ln for ln in ss_lines() if ln.startswith("SYN-RECV") and ln.split()[3].endswith(f":{lport}")]
                return {"ports": [cbase + i for i in range(6)], "tcp_syncookies": cookies, "backlog": 2,
                        "synacks_seen_by_sniffer": synacks, "ss_syn_recv": reqs, "listener": ss_listener(lport)}
            step(f"syn-queue-full-cookies{cookies}", f"tcp_syncookies={cookies}; listen(2) on {lport}; 6 crafted SYNs "
                 f"(raw socket, MSS 1460) from {cbase}..{cbase + 5}, 50 ms apart, whose handshakes never complete "
                 "(the source ports have no socket; the RSTs their kernel sends are dropped in INPUT)", flood)
            lst.close()
            time.sleep(0.1)
        set_sysctl("tcp_syncookies", 1)

        def close_unread():
            cli, conn = connect(46200)
            cli.sendall(b"u" * 100)
            time.sleep(0.1)
            conn.close()
            time.sleep(0.1)
            try:
                r = cli.recv(100)
                r = "EOF" if r == b"" else "data"
            except OSError as exc:
                r = err_name(exc)
            cli.close()
            return {"ports": [46200], "client_recv": r}
        step("close-unread-data", "46200 -> 6010: the client sends 100 bytes, the server close()s without "
             "reading them", close_unread)

        def close_linger0():
            cli, conn = connect(46201)
            time.sleep(0.1)
            abort(cli)
            time.sleep(0.1)
            try:
                r = conn.recv(100)
                r = "EOF" if r == b"" else "data"
            except OSError as exc:
                r = err_name(exc)
            conn.close()
            return {"ports": [46201], "server_recv": r}
        step("close-linger0", "46201 -> 6010: the client sets SO_LINGER {1, 0} and close()s (nothing unread)",
             close_linger0)

        pair: dict = {}

        def rcv_nxt_of_server(cport: int) -> int:
            segs = sniff.find(lambda p: p["sport"] == cport and p["dport"] == OBS_SERVER)
            last = segs[-1]
            return (last["seq"] + last["len"] + (1 if last["flags"] & 0x03 else 0)) % SEQ_MOD

        def syn_in_window():
            cli, conn = connect(46202)
            cli.sendall(b"s" * 10)
            recv_exact(conn, 10)
            time.sleep(0.1)
            nxt = rcv_nxt_of_server(46202)  # before any crafted segment from this port
            pair.update(cli=cli, conn=conn, rcv_nxt=nxt)
            raw.send(OBS_ADDR, 46202, OBS_SERVER, nxt + 1000, 0, "S", win=65535, options=tcp_opt_mss(1460))
            time.sleep(0.2)
            return {"ports": [46202], "server_rcv_nxt": nxt, "crafted_seq": (nxt + 1000) % SEQ_MOD,
                    "server_state_after": ss_state_of(OBS_SERVER).get("127.0.0.1:46202")}
        step("syn-in-window", "46202 -> 6010, 10 bytes; then a crafted SYN on the same 4-tuple, seq = the "
             "server's RCV.NXT + 1000 (in the window)", syn_in_window)
        time.sleep(0.7)  # past tcp_invalid_ratelimit (500 ms) for the next challenge ACK

        def rst_in_window():
            nxt = pair["rcv_nxt"]  # a SYN or RST does not move RCV.NXT
            raw.send(OBS_ADDR, 46202, OBS_SERVER, nxt + 1000, 0, "R", win=0)
            time.sleep(0.2)
            return {"ports": [46202], "server_rcv_nxt": nxt, "crafted_seq": (nxt + 1000) % SEQ_MOD,
                    "server_state_after": ss_state_of(OBS_SERVER).get("127.0.0.1:46202")}
        step("rst-in-window", "the same connection: a crafted RST with seq = RCV.NXT + 1000 (in the window, "
             "not exact)", rst_in_window)
        time.sleep(0.7)

        def rst_exact():
            nxt = pair["rcv_nxt"]  # a SYN or RST does not move RCV.NXT
            raw.send(OBS_ADDR, 46202, OBS_SERVER, nxt, 0, "R", win=0)
            time.sleep(0.2)
            try:
                r = pair["conn"].recv(100)
                r = "EOF" if r == b"" else "data"
            except OSError as exc:
                r = err_name(exc)
            return {"ports": [46202], "server_rcv_nxt": nxt, "crafted_seq": nxt, "server_recv": r,
                    "states_after": {"server": ss_state_of(OBS_SERVER).get("127.0.0.1:46202"),
                                     "client": ss_state_of(46202).get(f"127.0.0.1:{OBS_SERVER}")}}
        step("rst-exact", "the same connection: a crafted RST with seq = RCV.NXT exactly (the client socket "
             "knows nothing of it)", rst_exact)
        abort(pair["cli"])
        pair["conn"].close()
        time.sleep(0.2)

        def tw_expired():
            seen_before = port_lines(ss_lines(["state", "time-wait"]), 46000)
            time.sleep(max(0.0, tw_mono + OBS_TW_WAIT - time.monotonic()))
            return {"ss_time_wait_before": seen_before,
                    "ss_time_wait_after": port_lines(ss_lines(["state", "time-wait"]), 46000),
                    "all_sockets_after": [ln for ln in ss_lines() if not ln.startswith("LISTEN")],
                    "waited_until_s_after_time_wait": OBS_TW_WAIT}
        step("time-wait-expired", "nothing else happens until 62 s after time-wait-created; the counters "
             "across that wait", tw_expired)
        off = mono_to_real_offset()
        packets, stats = stop_capture(dump)
    finally:
        sniff.close()
        raw.close()
        main.close()
        subprocess.run(["iptables", "-w", "-F", "INPUT"], capture_output=True, timeout=10)
        abort_capture(dump)
    shutil.rmtree(tmpdir, ignore_errors=True)
    t0 = packets[0]["ts"]
    for s in steps:
        a, b = s.pop("_mono")
        s["t_start"], s["t_end"] = round(a + off - t0, 6), round(b + off - t0, 6)
        ports = set(s.get("ports", []))
        if ports:
            names = {p: "client" for p in ports}
            conv = [p for p in packets if a + off - 0.001 <= p["ts"] <= b + off + 0.001
                    and (p["sport"] in ports or p["dport"] in ports)]
            s["segments"] = [seg_record(p, t0, names) for p in conv]
    return {
        **fact_header(
            "observe",
            "What `ss` and `nstat` show at each step of a server's life on 127.0.0.1, so that simulated events "
            "can be matched with what a reader sees on a real machine. Every step takes an nstat snapshot before "
            "and after; 'nstat_delta' keeps the Tcp*/TcpExt* counters that moved. Both ends of every connection "
            "live in this one namespace, so a delta is the sum over both sides.",
            "unshare -n; ip link set lo up; default sysctls except tcp_syncookies where a step sets it (back to 1 "
            "afterwards); iptables -A INPUT " + " ".join(rule) + "; iptables -A INPUT " + " ".join(syn_rule) +
            "; raw IPPROTO_TCP socket for crafted segments; tcpdump -i lo --immediate-mode 'tcp'; ss -tan, "
            "ss -tanoi, ss -tan state listening|time-wait|syn-recv",
        ),
        "sysctl": sysctl,
        "somaxconn": somaxconn,
        "nstat_method": method,
        "steps": steps,
        "tcpdump": {"command": tcpdump_cmd(dump), "stats": stats},
        "seq_note": "seq/ack absolute; t in seconds since the first captured packet; every step's segments are "
                    "those of its client ports between t_start and t_end",
    }


FACTS = {
    "tw-syn": (fact_tw_syn, 120, "a SYN from the same port reaches the server's TIME_WAIT socket"),
    "delack": (fact_delack, 240, "delay of the ACK of a FIN, with and without data; quick ACKs"),
    "tw-reuse": (fact_tw_reuse, 300, "the TIME_WAIT side connects again from the same port (tcp_tw_reuse)"),
    "syncookie": (fact_syncookie, 330, "how long a SYN cookie is accepted, and what the final ACK must carry"),
    "rst-close": (fact_rst_close, 60, "close() with unread data, SO_LINGER 0: RST instead of FIN"),
    "keepalive": (fact_keepalive, 120, "keepalive probes, a silent or forgetful peer, TCP_USER_TIMEOUT"),
    "linger": (fact_linger, 60, "SO_LINGER {1, 0} in ESTABLISHED, CLOSE_WAIT, FIN_WAIT_2; no TIME_WAIT"),
    "observe": (fact_observe, 180, "what ss and nstat show at each step of a server's life"),
}


def fact_inner(name: str, out: str) -> int:
    try:
        result = FACTS[name][0]()
    except CaptureError as exc:
        die(f"{name}: {exc}", 1)
    except OSError as exc:
        die(f"{name}: {exc}", 1)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"{name}.json")
    with open(path, "w") as fh:
        json.dump(result, fh, indent=1)
        fh.write("\n")
    print(f"{name}: wrote {path}", flush=True)
    return 0


def facts_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="linux_capture.py FACT",
                                 description="Record one kernel fact (or all: 'facts') in a fresh network namespace.")
    ap.add_argument("fact", choices=list(FACTS) + ["facts"])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output directory (default: src/tcpsim/data/linux)")
    ap.add_argument("--fact-inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.fact_inner:
        return fact_inner(args.fact, args.out)
    if os.geteuid() != 0:
        die("must be run as root (needs a network namespace, iptables and tcpdump)")
    for tool in ("tcpdump", "iptables", "ip", "ss", "unshare", "nsenter", "timeout"):
        if shutil.which(tool) is None:
            die(f"'{tool}' not found in PATH (install it, e.g. apt-get install tcpdump iptables iproute2)")
    names = list(FACTS) if args.fact == "facts" else [args.fact]
    procs = {}
    for n in names:  # independent namespaces: run them side by side
        print(f"{n}: {FACTS[n][2]} (up to {FACTS[n][1]} s)", flush=True)
        procs[n] = subprocess.Popen(["unshare", "-n", sys.executable, os.path.abspath(__file__), n,
                                     "--fact-inner", "--out", os.path.abspath(args.out)])
    failed = []
    for n, proc in procs.items():
        try:
            rc = proc.wait(FACTS[n][1] + 60)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = -1
        if rc != 0:
            failed.append(n)
    if failed:
        die(f"{len(failed)} fact(s) failed: {', '.join(failed)}", 1)
    return 0



# --------------------------------------------------------------------------
# Sample captures for the explainer (tcpsim.capture): pcap files, not JSON
# --------------------------------------------------------------------------

SAMPLES_OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "data", "captures")
SAMPLE_SERVER_PORT = SERVER_ADDR[1]
SAMPLE_CLOSED_PORT = 5001  # nothing listens there (the refused sample)


def _sample_client(port: int = CLIENT_ADDR[1]) -> socket.socket:
    sk = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sk.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sk.bind(("127.0.0.1", port))
    return sk


def _sample_serve(listener: socket.socket, close_first: float | None, errors: list[str]) -> None:
    """Accept one connection; close `close_first` s after accept(), or (None) when recv() gives EOF."""
    try:
        conn, _ = listener.accept()
        if close_first is not None:
            time.sleep(close_first)
        else:
            try:
                while conn.recv(4096):
                    pass
            except ConnectionResetError:  # the rst sample: the peer aborted
                pass
        conn.close()
    except OSError as exc:
        errors.append(f"server: {exc}")


def _sample_connection(listener: socket.socket, client_close: float | None, server_close: float | None,
                       abort: bool = False) -> None:
    """One connection from 127.0.0.1:40000: the client closes (or aborts) `client_close` s after
    connect() returned, or (None) when it reads EOF; the server as `_sample_serve`."""
    errors: list[str] = []
    th = threading.Thread(target=_sample_serve, args=(listener, server_close, errors))
    th.start()
    sk = _sample_client()
    sk.connect(SERVER_ADDR)
    if client_close is None:
        while sk.recv(4096):
            pass
    else:
        time.sleep(client_close)
    if abort:
        sk.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sk.close()
    th.join(15)
    if errors:
        raise CaptureError("; ".join(errors))


def sample_plain(listener: socket.socket) -> None:
    _sample_connection(listener, 1.0, None)


def sample_rst(listener: socket.socket) -> None:
    _sample_connection(listener, 0.5, None, abort=True)


def sample_refused(listener: socket.socket) -> None:
    sk = _sample_client()
    try:
        sk.connect(("127.0.0.1", SAMPLE_CLOSED_PORT))
    except ConnectionRefusedError:
        pass
    else:
        raise CaptureError("connect() to a port without a listener succeeded")
    finally:
        sk.close()


def sample_simultaneous_close(listener: socket.socket) -> None:
    _sample_connection(listener, 1.0, 1.0)


def sample_time_wait_reuse(listener: socket.socket) -> None:
    _sample_connection(listener, None, 0.5)   # the server closes first: its socket waits in TIME_WAIT
    time.sleep(1.0)
    _sample_connection(listener, 0.5, None)   # the same four-tuple again, while the server still waits


#: name -> (what happens, the function that makes it, drops: [(sender, flags, nth)], seconds to settle)
SAMPLES = {
    "plain": ("connect, the client closes 1.0 s later, the server closes when it reads EOF",
              sample_plain, [], 0.5),
    "lost-synack": ("as plain, but the first SYN-ACK is lost", sample_plain, [("server", "SA", 1)], 0.5),
    "lost-fin": ("as plain, but the client's first FIN is lost", sample_plain, [("client", "FA", 1)], 1.0),
    "rst": ("connect, the client aborts 0.5 s later (SO_LINGER 0): RST", sample_rst, [], 0.5),
    "refused": ("connect to a port where nothing listens: RST", sample_refused, [], 0.5),
    "simultaneous-close": ("both applications close 1.0 s after the connection opened, and each side's first "
                           "FIN is lost, so both FINs are under way before either side has received the other's",
                           sample_simultaneous_close, [("client", "FA", 1), ("server", "FA", 1)], 1.5),
    "time-wait-reuse": ("the server closes first (0.5 s after accept()); 1.0 s later the client connects again from "
                        "the same port and the server's TIME_WAIT socket accepts the new SYN; then a plain close",
                        sample_time_wait_reuse, [], 0.5),
}


def record_sample(name: str, out: str) -> dict:
    """Inside a fresh network namespace: record one sample into OUT/NAME.pcap."""
    what, make, drops, settle = SAMPLES[name]
    lo_up()
    pcap = os.path.join(out, f"{name}.pcap")
    if os.path.exists(pcap):
        os.unlink(pcap)
    dump = Tcpdump(pcap, (SERVER_ADDR[1], CLIENT_ADDR[1]), 60, bpf="tcp and port 40000", immediate=True)
    rules: list[dict] = []
    for src, flags, nth in drops:
        rules += install_drop_rules({"src": src, "flags": flags, "nth": nth})
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(SERVER_ADDR)
    listener.listen(BACKLOG)
    dump.start()
    try:
        make(listener)
        time.sleep(settle)
    except BaseException:
        abort_capture(dump)
        raise
    finally:
        listener.close()
    packets, stats = stop_capture(dump)
    counts = read_rule_counters()
    if drops and [c for c, r in zip(counts, rules, strict=True) if r["target"] == "DROP"] != [1] * len(drops):
        raise CaptureError(f"{name}: the drop rules matched {counts}, not one segment each")
    return {"name": name, "what": what, "packets": len(packets), "tcpdump": tcpdump_cmd(dump),
            "tcpdump_stats": stats, "iptables": [r["rule"] for r in rules], "sysctl": read_sysctls()}


def samples_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="linux_capture.py samples",
                                 description="Record the explainer's sample captures (pcap), each in a fresh "
                                             "network namespace on its loopback.")
    ap.add_argument("--out", default=SAMPLES_OUT, help="output directory (default: tests/data/captures)")
    ap.add_argument("--sample", action="append", choices=list(SAMPLES), help="sample name (repeatable; default: all)")
    ap.add_argument("--inner", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    out = os.path.abspath(args.out)
    if args.inner:
        try:
            result = record_sample(args.inner, out)
        except (CaptureError, OSError) as exc:
            die(f"{args.inner}: {exc}", 1)
        print(json.dumps(result), flush=True)
        return 0
    if os.geteuid() != 0:
        die("must be run as root (needs a network namespace, iptables and tcpdump)")
    for tool in ("tcpdump", "iptables", "ip", "unshare", "timeout"):
        if shutil.which(tool) is None:
            die(f"'{tool}' not found in PATH (install it, e.g. apt-get install tcpdump iptables iproute2)")
    os.makedirs(out, exist_ok=True)
    manifest_path = os.path.join(out, "recorded.json")
    manifest = {"samples": {}}
    if os.path.exists(manifest_path):
        with open(manifest_path) as fh:
            manifest = json.load(fh)
    for n in args.sample or list(SAMPLES):
        print(f"{n}: {SAMPLES[n][0]}", flush=True)
        proc = subprocess.run(["unshare", "-n", sys.executable, os.path.abspath(__file__), "samples", "--inner", n,
                               "--out", out], stdout=subprocess.PIPE, text=True, timeout=120)
        if proc.returncode != 0:
            die(f"{n}: recording failed", 1)
        manifest["samples"][n] = json.loads(proc.stdout.strip().splitlines()[-1])
    manifest.update({"kernel": os.uname().release, "machine": os.uname().machine,
                     "recorded": time.strftime("%Y-%m-%d", time.gmtime()),
                     "tool": "python3 tools/linux_capture.py samples"})
    manifest["samples"] = dict(sorted(manifest["samples"].items()))
    with open(manifest_path, "w") as fh:
        json.dump(manifest, fh, indent=1, sort_keys=True)
        fh.write("\n")
    return 0


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------


def die(msg: str, code: int = 2) -> None:
    print(f"linux_capture: error: {msg}", file=sys.stderr)
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in list(FACTS) + ["facts"]:
        return facts_main(argv)
    if argv and argv[0] == "samples":
        return samples_main(argv[1:])
    cases = build_cases()
    ap = argparse.ArgumentParser(description="Record Linux TCP behaviour on loopback (run as root).")
    ap.add_argument("--out", default=DEFAULT_OUT, help="output directory (default: src/tcpsim/data/linux)")
    ap.add_argument("--case", action="append", help="case name (repeatable; default: all)")
    ap.add_argument("--list", action="store_true", help="list the case names and exit")
    ap.add_argument("--inner", help=argparse.SUPPRESS)
    ap.add_argument("--attempt", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--poll-proc", help=argparse.SUPPRESS)
    ap.add_argument("--poll-max", type=float, default=40.0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.poll_proc:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        proc_poll_main([int(p) for p in args.poll_proc.split(",")], ProcPoller.PERIOD, args.poll_max)
        return 0

    if args.list:
        for name, case in cases.items():
            print(f"{name}: {case['description']}")
        return 0

    if args.inner:
        # Inside the private network namespace.
        try:
            result = run_case(args.inner, cases[args.inner])
            result["attempt"] = args.attempt
            os.makedirs(args.out, exist_ok=True)
            path = os.path.join(args.out, f"{args.inner}.json")
            with open(path, "w") as fh:
                json.dump(result, fh, indent=1)
                fh.write("\n")
        except UnexpectedExchange as exc:
            die(str(exc), EXIT_UNEXPECTED)
        except CaptureError as exc:
            die(str(exc), 1)
        except OSError as exc:
            die(f"{args.inner}: {exc}", 1)
        return 0

    if os.geteuid() != 0:
        die("must be run as root (needs a network namespace, iptables and tcpdump)")
    for tool in ("tcpdump", "iptables", "ip", "ss", "unshare", "timeout"):
        if shutil.which(tool) is None:
            die(f"'{tool}' not found in PATH (install it, e.g. apt-get install tcpdump iptables iproute2)")
    names = args.case or list(cases)
    for n in names:
        if n not in cases:
            die(f"unknown case '{n}' (use --list)")
    if find_tracefs() is None:
        print("linux_capture: tracefs not usable, falling back to ss polling (states are sampled)", file=sys.stderr)

    failed = []
    for n in names:
        print(f"{n}: {cases[n]['description']}", flush=True)
        # Two nested network namespaces: the outer one only exists to give the
        # inner one a small private TCP hash table (tcp_child_ehash_entries), so
        # that sampling /proc/net/tcp takes ~0.1 ms instead of walking the host's
        # large table.  All traffic happens on the inner namespace's lo.
        shell = (
            f"echo {CHILD_EHASH_ENTRIES} > /proc/sys/net/ipv4/tcp_child_ehash_entries 2>/dev/null; "
            'exec unshare -n "$0" "$@"'
        )
        for attempt in range(1, MAX_ATTEMPTS + 1):
            proc = subprocess.run(
                ["unshare", "-n", "sh", "-c", shell, sys.executable, os.path.abspath(__file__),
                 "--inner", n, "--out", os.path.abspath(args.out), "--attempt", str(attempt)],
                timeout=120,
            )
            if proc.returncode != EXIT_UNEXPECTED:
                break
            print(f"linux_capture: {n}: unexpected exchange (timing race?), attempt {attempt}/{MAX_ATTEMPTS}",
                  file=sys.stderr)
        if proc.returncode != 0:
            failed.append(n)
    if failed:
        die(f"{len(failed)} case(s) failed: {', '.join(failed)}", 1)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        die("interrupted", 130)
