"""Re-execute the chapter notebooks in place, so their stored outputs are what
the simulator produces today (nbval then checks exactly that).

    .venv/bin/python tools/execute_notebooks.py [book/chapter.ipynb ...]
"""

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

BOOK = Path(__file__).resolve().parent.parent / "book"


def main(paths) -> None:
    for path in paths or sorted(BOOK.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        # JupyterLab asks which kernel to use when a notebook does not say
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                     "language": "python"}
        NotebookClient(nb, timeout=300, kernel_name="python3", store_widget_state=False, record_timing=False,
                       resources={"metadata": {"path": str(BOOK)}}).execute()
        for cell in nb.cells:                       # no wall-clock times in the book's files
            cell.metadata.pop("execution", None)
            merged = []                             # one stream output, however the kernel split it
            for out in cell.get("outputs", []):
                if (out.get("output_type") == "stream" and merged and merged[-1].get("output_type") == "stream"
                        and merged[-1]["name"] == out["name"]):
                    merged[-1]["text"] += out["text"]
                else:
                    merged.append(out)
            if cell.cell_type == "code":
                cell.outputs = merged
            for out in cell.get("outputs", []):     # a widget's model id changes on every run and
                out.get("data", {}).pop("application/vnd.jupyter.widget-view+json", None)  # means
                # nothing without the kernel that made it; its text/html twin stays
        nbformat.write(nb, path)
        print("executed", path)


if __name__ == "__main__":
    main([Path(p) for p in sys.argv[1:]])
