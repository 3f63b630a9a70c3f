"""Rewrite tests/golden/<name>.json from the built-in scenarios.

A golden trace changes only in a commit that says why: run this, read the
diff (git diff tests/golden), and explain the change in the commit message.
"""

from pathlib import Path

from tcpsim.network import run
from tcpsim.scenario import builtin_names

GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "golden"


def main() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for name in builtin_names():
        (GOLDEN / f"{name}.json").write_text(run(name).to_json() + "\n", encoding="utf-8")
        print("wrote", name)


if __name__ == "__main__":
    main()
