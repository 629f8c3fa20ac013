"""Draw the README's small example: micrograd's classic expression as engine `Value`s, with data and grads.

Run by `make graph-example` (which also draws the makemore graph with `ninjagrad graph`).
"""

from pathlib import Path

import viz
from engine import Value


def main() -> None:
    a, b = Value(-4.0, name="a"), Value(2.0, name="b")
    c = a + b
    d = a * b + b**3
    e = (c - d).tanh()
    e.backward()
    out = viz.render(e, Path(__file__).parent / "value-example.svg", names={"c": c, "d": d, "e": e},
                     detail="stats")
    print(f"graph written to {out}")


if __name__ == "__main__":
    main()
