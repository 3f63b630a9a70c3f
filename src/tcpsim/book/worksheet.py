"""Worksheets on paper: N variants of the book's questions, and their answer key.

``python -m tcpsim worksheet [--chapter X] [--kind K] --variants N --seed S --out DIR`` writes
``DIR/worksheet.html`` and ``DIR/answers.html`` -- plain HTML pages that print cleanly (A4, each
question kept on one page, no scripts) -- and a PDF of each made by headless Chromium.  The
variants come from the same generator as the website's (`tcpsim.book.quiz`), with the seed S
mixed into each question's own: the same command gives the same sheets, another seed other ones.
"""

from __future__ import annotations

import shutil
import subprocess
from html import escape
from pathlib import Path
from typing import Any

from .quiz import Question, answer_html, book_questions, variant_html
from .text import t

PRINT_CSS = """
@page { size: A4; margin: 14mm 14mm 16mm; }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10.5pt; color: #111; line-height: 1.35; }
h1 { font-size: 16pt; margin: 0 0 0.2em; }
.sheet-note { font-size: 9pt; color: #333; margin: 0 0 1em; }
section.q { break-inside: avoid; border-top: 1px solid #999; padding-top: 0.4em; margin-top: 0.8em; }
h2 { font-size: 12pt; margin: 0.2em 0; }
.tcpsim-quiz-title { display: none; }
.tcpsim-quiz-facts { font-size: 9.5pt; }
table.tcpsim-quiz-table { font-family: "DejaVu Sans Mono", monospace; font-size: 8.5pt; border-collapse: collapse; }
table.tcpsim-quiz-table caption { text-align: left; font-size: 9pt; }
table.tcpsim-quiz-table td, table.tcpsim-quiz-table th { padding: 0 0.5em; text-align: left; white-space: nowrap; }
td.tcpsim-quiz-blank { border: 1px solid #111; min-width: 3.5em; }
.tcpsim-quiz-items { font-family: "DejaVu Sans Mono", monospace; font-size: 9pt; list-style: none; padding: 0 0.5em; }
.tcpsim-quiz-figure img { max-width: 100%; max-height: 14cm; width: auto; }
.tcpsim-quiz-fields li { margin: 0.45em 0; }
.tcpsim-quiz-line { color: #444; }
.tcpsim-quiz-key b { font-family: "DejaVu Sans Mono", monospace; }
"""


class WorksheetError(Exception):
    """A worksheet that cannot be made as asked (one line, for the command line)."""


def questions(chapter: str | None = None, kind: str | None = None) -> list[Question]:
    try:
        return book_questions(chapter, kind)
    except ValueError as e:
        raise WorksheetError(str(e)) from None


def _page(title: str, note: str, sections: list[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{PRINT_CSS}</style></head><body>"
            f"<h1>{escape(title)}</h1><p class=\"sheet-note\">{escape(note)}</p>{''.join(sections)}</body></html>\n")


def sheets(qs: list[Question], variants: int, seed: int) -> tuple[str, str, list[dict[str, Any]]]:
    """The worksheet's HTML, its answer key's HTML, and the variants they hold."""
    made: list[tuple[str, dict[str, Any]]] = []
    for number, q in enumerate(qs, 1):
        mixed = Question(q.kind, q.scenario, scope=q.scope, seed=q.seed * 1000 + seed, blanks=q.blanks, name=q.name)
        for k in range(variants):
            v = mixed.variant(k)
            made.append((t("sheet.question", number=number, variant=k + 1, title=v["title"]), v))
    work = [f"<section class=\"q\"><h2>{escape(head)}</h2>{variant_html(v, answers=False)}</section>"
            for head, v in made]
    key = [f"<section class=\"q\"><h2>{escape(head)}</h2><p class=\"tcpsim-quiz-facts\">{escape(v['facts'])}</p>"
           f"{answer_html(v)}</section>" for head, v in made]
    what = t("list.separator").join(dict.fromkeys(q.name.split("/")[0] for q in qs))
    note = t("sheet.note", chapters=what, variants=variants, seed=seed)
    return (_page(t("sheet.title"), note, work), _page(t("sheet.answers"), note, key), [v for _, v in made])


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "/usr/bin/chromium"):
        found = shutil.which(name)
        if found:
            return found
    raise WorksheetError("chromium is not installed, so no PDF was made (the HTML pages are written): "
                         "install Debian's chromium (apt-get install chromium), or pass --no-pdf")


def print_pdf(html_path: Path, pdf_path: Path, browser: str) -> None:
    """Print an HTML page to PDF with headless Chromium."""
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
           f"--print-to-pdf={pdf_path}", html_path.resolve().as_uri()]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise WorksheetError(f"chromium could not print {html_path.name}: {e}") from None
    if r.returncode != 0 or not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        last = (r.stderr.strip().splitlines() or ["no message"])[-1]
        raise WorksheetError(f"chromium could not print {html_path.name} (exit {r.returncode}): {last}")


def write(out: Path, chapter: str | None = None, kind: str | None = None, variants: int = 2, seed: int = 1,
          pdf: bool = True) -> list[Path]:
    """Write the worksheet and its answer key into `out` (and their PDFs); the files written."""
    if not 1 <= variants <= 50:
        raise WorksheetError(f"--variants wants a number from 1 to 50, got {variants}")
    if seed < 0:
        raise WorksheetError(f"--seed wants a number from 0 up, got {seed}")
    qs = questions(chapter, kind)
    if not qs:
        raise WorksheetError(f"no question of kind {kind!r} in chapter {chapter!r}")
    if out.exists() and not out.is_dir():
        raise WorksheetError(f"--out {out} is a file, not a folder")
    work, key, _ = sheets(qs, variants, seed)
    out.mkdir(parents=True, exist_ok=True)
    pages = []
    for name, text in (("worksheet", work), ("answers", key)):
        page = out / f"{name}.html"
        page.write_text(text, encoding="utf-8")
        pages.append(page)
    if not pdf:
        return pages
    browser = chromium()                       # the HTML is written first: it is useful without
    pdfs = []
    for page in pages:
        print_pdf(page, page.with_suffix(".pdf"), browser)
        pdfs.append(page.with_suffix(".pdf"))
    return pages + pdfs
