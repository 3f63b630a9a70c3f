"""The book's notebooks: listed in the table of contents, executed, importing the simulator."""

import json
import re
from pathlib import Path

import pytest
import yaml

TOP = Path(__file__).resolve().parent.parent
BOOK = TOP / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))


def toc_files():
    toc = yaml.safe_load((TOP / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part["chapters"]]
    return files


def test_every_notebook_is_in_the_toc_and_every_toc_entry_exists():
    listed = toc_files()
    for nb in NOTEBOOKS:
        assert f"book/{nb.stem}" in listed, f"{nb.name} is not in _toc.yml"
    for f in listed:
        assert (TOP / f"{f}.ipynb").exists() or (TOP / f"{f}.md").exists(), f


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_chapter_is_executed_and_uses_the_simulator(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    source = "".join("".join(c["source"]) for c in code)
    assert "from tcpsim" in source or "import tcpsim" in source
    assert "def " not in source and "class " not in source, "no simulation logic in a notebook"
    with_output = [c for c in code if c.get("outputs")]
    assert len(with_output) >= 0.75 * len(code), "the chapter's outputs are stored"
    assert not any(o.get("output_type") == "error" for c in code for o in c.get("outputs", []))
    assert all(c.get("execution_count") for c in code), "executed top to bottom"
    counts = [c["execution_count"] for c in code]
    assert counts == sorted(counts)
    for c in code:
        tags = c.get("metadata", {}).get("tags", [])
        if "nbval-ignore-output" in tags:
            assert "".join(c["source"]).strip().endswith(".widget()"), "only live widgets may be ignored"
        assert "nbval-skip" not in tags


#: a seconds <-> microseconds factor written by hand (the chapters use tcpsim.secs / tcpsim.us)
HAND_WRITTEN_FACTOR = re.compile(r"(?<![\w.])(1e\+?6|1_000_000|1000000|10\s*\*\*\s*6)(?![\w.])", re.I)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_chapter_converts_times_with_the_helpers(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            found = HAND_WRITTEN_FACTOR.findall(source)
            assert not found, f"cell {i} writes {found[0]}: use secs(t_us) / us(seconds) from tcpsim"


def test_the_factor_check_sees_a_hand_written_conversion():
    assert HAND_WRITTEN_FACTOR.findall("print(c.t / 1e6, r.t * 1_000_000, x / 1000000)") == [
        "1e6", "1_000_000", "1000000"]
    assert not HAND_WRITTEN_FACTOR.findall("isn = 4294967295; n = 21000000; secs(c.t); count = 20000")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_first_cell_says_in_one_line_how_to_run_the_chapter(path):
    # a notebook opened in JupyterLab shows its pictures before anything runs; the line under the
    # title says what makes the panels live, and where the website's reader learns to get the book
    first = json.loads(path.read_text())["cells"][0]
    paragraphs = "".join(first["source"]).split("\n\n")
    assert first["cell_type"] == "markdown" and paragraphs[0].startswith("# ")
    assert "**Run ▸ Run All Cells**" in paragraphs[1] and "[Run it yourself](run.md)" in paragraphs[1]
    assert "\n" not in paragraphs[1], "one line"
    assert (BOOK / "run.md").is_file()
