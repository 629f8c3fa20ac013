"""The seed notebook's code cells, taken from ../shared/seed at test time (never copied here).

The notebook is text: `In [N]:` opens a cell, and the cell's printed output follows its code.
`OUTPUT_STARTS` marks where each cell's output begins, so what is left is the code, verbatim.
"""

from __future__ import annotations

import re
from pathlib import Path

# the first characters of each cell's printed output (cells not listed print nothing)
OUTPUT_STARTS = {
    19: "fatal: destination path",
    21: " This dataset contains 32033 names",
    22: "{0: '.'",
    23: "torch.Size([182625, 3])",
    25: "4137",
    26: "torch.Size([32, 3])",
    27: "tensor(3.3420",
    28: "logprobs        | exact",
    29: "3.342024564743042 diff",
    30: "logits          | exact",
    31: "maxdiff:  tensor(",
    32: "hprebn          | exact",
    33: "12297\n",
    36: "train 2.0714",
}


def code_cells(path: Path) -> dict[int, str]:
    """{N: code of In [N]}, without its output and without `!shell` / `%magic` lines."""
    text = path.read_text(encoding="utf-8")
    parts = re.split(r"^In \[(\d+)\]:\n", text, flags=re.M)
    cells = {}
    for number, body in zip(parts[1::2], parts[2::2]):
        n = int(number)
        marker = OUTPUT_STARTS.get(n)
        if marker is not None:
            cut = body.find("\n" + marker)
            if cut < 0:
                raise ValueError(f"seed notebook: the output of In [{n}] no longer starts with {marker!r}")
            body = body[:cut]
        lines = [line for line in body.splitlines() if not line.startswith(("!", "%"))]
        cells[n] = "\n".join(lines) + "\n"
    return cells
