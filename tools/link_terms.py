"""Link the first use of each glossary term in each chapter to the glossary (book/glossary.md).

Run after editing a chapter's text: `python tools/link_terms.py` rewrites the chapters' markdown
cells, wrapping the first plain-text use of each term (not in code, a heading, a link or a
role) as {term}`text <Term>`.  Running it again changes nothing.  The terms and the words that
name them are listed here; each term must exist in the glossary (the build fails otherwise).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
CHAPTERS = ["intro", "handshake", "close", "states", "server", "lab", "appendix"]

#: glossary term -> the words that name it in the text (the first found is linked)
TERMS: dict[str, tuple[str, ...]] = {
    "three-way handshake": ("three-way handshake",),
    "ISN": ("initial sequence number", "ISN"),
    "sequence number": ("sequence number",),
    "acknowledgment number": ("acknowledgment number",),
    "active open": ("active open",),
    "passive open": ("passive open",),
    "active close": ("active close", "active closer"),
    "simultaneous open": ("simultaneous open",),
    "simultaneous close": ("simultaneous close",),
    "RTO": ("retransmission timeout", "RTO"),
    "MSL": ("maximum segment lifetime", "MSL"),
    "2MSL": ("2MSL",),
    "four-tuple": ("four-tuple",),
    "incarnation": ("incarnation",),
    "half-close": ("half-close",),
    "half-open connection": ("half-open",),
    "SYN queue": ("SYN queue",),
    "accept queue": ("accept queue",),
    "SYN cookie": ("SYN cookie",),
    "delayed ACK": ("delayed ACK",),
    "challenge ACK": ("challenge ACK",),
    "TCB": ("TCB",),
    "orphan": ("orphaned", "orphan"),
    "keepalive": ("keepalive",),
}

PROTECTED = re.compile(r"`[^`]*`|\{[a-z]+\}`[^`]*`|\[[^\]]*\]\([^)]*\)|<[^>]+>|\*\*[^*]+\*\*")


def _spans(line: str) -> list[tuple[int, int]]:
    return [m.span() for m in PROTECTED.finditer(line)]


def link_cell(source: str, todo: dict[str, tuple[str, ...]]) -> str:
    lines, fence = source.split("\n"), False
    for n, line in enumerate(lines):
        if line.lstrip().startswith(("```", ":::")):
            fence = not fence           # a code block or a directive's body: left alone
            continue
        if fence or line.lstrip().startswith(("#", ":")):
            continue
        for term in list(todo):
            for words in todo[term]:
                pat = re.compile(rf"(?<![\w`{{<-]){re.escape(words)}(?![\w`-])", re.I if words.islower() else 0)
                hit = next((m for m in pat.finditer(line)
                            if not any(a <= m.start() < b for a, b in _spans(line))), None)
                if hit:
                    text = hit.group(0)
                    role = f"{{term}}`{text}`" if text == term else f"{{term}}`{text} <{term}>`"
                    line = line[:hit.start()] + role + line[hit.end():]
                    del todo[term]
                    break
        lines[n] = line
    return "\n".join(lines)


def main() -> int:
    glossary = (TOP / "book" / "glossary.md").read_text(encoding="utf-8")
    missing = [t for t in TERMS if not re.search(rf"^{re.escape(t)}$", glossary, re.M)]
    if missing:
        print(f"link_terms: not in book/glossary.md: {', '.join(missing)}", file=sys.stderr)
        return 1
    for name in CHAPTERS:
        path = TOP / "book" / f"{name}.ipynb"
        nb = json.loads(path.read_text(encoding="utf-8"))
        done = {t for c in nb["cells"] if c["cell_type"] == "markdown"
                for t in re.findall(r"\{term\}`(?:[^`<]*<([^>]+)>|([^`<]+))`", "".join(c["source"]))
                for t in t if t}
        todo = {t: w for t, w in TERMS.items() if t not in done}
        for cell in nb["cells"][1:]:                   # not the chapter's title and its summary box
            if cell["cell_type"] != "markdown" or not todo:
                continue
            src = "".join(cell["source"])
            new = link_cell(src, todo)
            if new != src:
                cell["source"] = new.splitlines(keepends=True)
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
