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

and writes one JSON file per case (see ``tests/data/linux/README.md``).

Usage (as root)::

    python3 tools/linux_capture.py [--out DIR] [--case NAME ...] [--list]

Only the Python 3.11 standard library is used; tcpdump, iptables, ip, ss,
unshare and mount are called as subprocesses.
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
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "data", "linux"
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
        if ip is None or len(ip) < 20 or ip[0] >> 4 != 4:
            continue
        ihl = (ip[0] & 0x0F) * 4
        total_len = struct.unpack("!H", ip[2:4])[0]
        if ip[9] != 6:
            continue
        tcp = ip[ihl:]
        if len(tcp) < 20:
            continue
        sport, dport, seq, ack = struct.unpack("!HHII", tcp[:12])
        doff = (tcp[12] >> 4) * 4
        flags = tcp[13]
        payload = total_len - ihl - doff
        packets.append(
            {
                "ts": ts,
                "saddr": socket.inet_ntoa(ip[12:16]),
                "daddr": socket.inet_ntoa(ip[16:20]),
                "sport": sport,
                "dport": dport,
                "seq": seq,
                "ack": ack,
                "flags": flags,
                "len": payload,
            }
        )
    return packets


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
    def __init__(self, pcap: str, ports: tuple[int, int], max_seconds: float):
        self.pcap = pcap
        p1, p2 = ports
        # `timeout` guarantees the capture ends by itself even if we never signal it.
        self.cmd = [
            "timeout",
            "--signal=INT",
            str(int(max_seconds)),
            "tcpdump",
            "-i",
            "lo",
            "-nn",
            "-tt",
            "-S",
            "-U",
            "-s",
            "256",
            "--time-stamp-precision=nano",
            "-w",
            pcap,
            f"tcp and (port {p1} or port {p2})",
        ]
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
            raise UnexpectedExchange(f"{name}: exchange before the drop {got} differs from the expected {expected[: drop['position']]}")
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
# Driver
# --------------------------------------------------------------------------


def die(msg: str, code: int = 2) -> None:
    print(f"linux_capture: error: {msg}", file=sys.stderr)
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    cases = build_cases()
    ap = argparse.ArgumentParser(description="Record Linux TCP behaviour on loopback (run as root).")
    ap.add_argument("--out", default=DEFAULT_OUT, help="output directory (default: tests/data/linux)")
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
