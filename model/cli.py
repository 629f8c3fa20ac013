"""The `ninjagrad` command: check, train, sample, graph and demo.

`ninjagrad check` prints the three-way gradient table and exits 1 on a disagreement;
`train` trains with one of three gradient backends and writes a checkpoint and a loss plot;
`sample` generates names from a checkpoint; `graph` draws the forward graph (coloured by
the check with --check); `demo` runs them in a minute, as `make demo` does. Errors are one
readable line on stderr (exit 2), not a traceback (NINJAGRAD_DEBUG=1 shows it); a reader that
closes the pipe early (`ninjagrad sample | head`) ends the command quietly with exit 141.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .data import MAX_BLOCK_SIZE, SPLIT_NAMES
from .files import check_writable
from .mlp import Config

DEFAULTS = Config()
SIGPIPE_EXIT = 128 + 13  # what a shell reports for a process killed by SIGPIPE (13), as `yes | head` gives
SIZE_OPTIONS = {"sample": "-n"}  # per command; the others' sizes are the model's
MODEL_SIZE_OPTIONS = "--n-hidden, --n-embd, --block-size or --batch-size"
# every size option's range (dest -> option, least, most), checked before any work: the upper bounds are far
# above real use and far below what NumPy refuses obscurely ("Maximum allowed dimension exceeded") or what
# takes minutes and gigabytes to build
SIZES = {"n_embd": ("--n-embd", 1, 1_000), "n_hidden": ("--n-hidden", 1, 10_000),
         "block_size": ("--block-size", 1, MAX_BLOCK_SIZE), "batch_size": ("--batch-size", 2, 1_000_000),
         "graph_batch": ("--graph-batch", 2, 1_000_000), "steps": ("--steps", 1, 10_000_000),
         "n": ("-n", 0, 1_000_000)}
FORMATS = ("svg", "png", "pdf", "dot")
DETAILS = ("name", "shape", "stats", "full")


def _data(args, needs: tuple[str, ...], notice: Callable[[str], None] = print):
    """The names (from --data, $NINJAGRAD_NAMES, the cache, a download or the census fallback) and splits.

    `needs` names the splits the command uses; too few words to fill them is a DataError.
    """
    from .data import build_splits, load_names, require_words

    source = load_names(args.data, notice=notice)
    require_words(len(source.words), needs, f"`ninjagrad {args.command}`")
    return source, build_splits(source.words, block_size=args.block_size)


def _range(dest: str) -> str:
    """An option's range for its --help, e.g. '1 to 64'."""
    _, least, most = SIZES[dest]
    return f"{least} to {most:,}"


def _check_sizes(args) -> None:
    """A ValueError naming the first size option outside its range in SIZES."""
    for dest, (option, least, most) in SIZES.items():
        value = getattr(args, dest, None)
        if value is not None and not least <= value <= most:
            raise ValueError(f"{option} must be from {least} to {most:,}, got {value}")


def _seed(text: str) -> int:
    """argparse type of --seed: a non-negative integer, what NumPy's generators accept."""
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}") from None
    if seed < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {seed}")
    return seed


def _config(args, **overrides) -> Config:
    fields = {f: getattr(args, f) for f in ("n_embd", "n_hidden", "block_size", "batch_size", "seed", "dtype")
              if getattr(args, f, None) is not None}
    if getattr(args, "steps", None) is not None:
        fields["steps"] = args.steps
    return DEFAULTS.replace(**{**fields, **overrides})


def _model_options(p: argparse.ArgumentParser, n_hidden: int, batch_size: int) -> None:
    p.add_argument("--data", metavar="PATH", type=os.path.expanduser, help="names file, one word per line "
                   "(default: $NINJAGRAD_NAMES, then a cached or downloaded names.txt, then the census names of "
                   "the `names` package)")
    p.add_argument("--batch-size", type=int, default=batch_size,
                   help=f"examples per batch, {_range('batch_size')} (default {batch_size})")
    p.add_argument("--n-hidden", type=int, default=n_hidden,
                   help=f"hidden units, {_range('n_hidden')} (default {n_hidden})")
    p.add_argument("--n-embd", type=int, default=DEFAULTS.n_embd,
                   help=f"embedding size, {_range('n_embd')} (default {DEFAULTS.n_embd})")
    p.add_argument("--block-size", type=int, default=DEFAULTS.block_size,
                   help=f"characters of context, {_range('block_size')}, the longest word allowed "
                   f"(default {DEFAULTS.block_size})")
    p.add_argument("--seed", type=_seed, default=DEFAULTS.seed, help=f"initialisation and batch seed "
                   f"(default {DEFAULTS.seed}, the notebook's)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="default float32, as the lecture")


# ---- check ----------------------------------------------------------------------------


def run_check_command(args, splits=None) -> int:
    from .check import run_check

    if splits is None:
        _, splits = _data(args, ("train",), notice=(lambda s: print(s, file=sys.stderr)) if args.json else print)
    result = run_check(splits.Xtr, splits.Ytr, splits.vocab.size, _config(args),
                       with_finite_differences=not args.no_fd)
    print(result.to_json() if args.json else result.table())
    return 0 if result.ok else 1


# ---- train / sample -------------------------------------------------------------------


def _train_outputs(out: Path, force: bool) -> tuple[Path, Path]:
    """The checkpoint and plot paths in --out, checked writable before training (which may take hours).

    --out is created if missing; an existing checkpoint is kept unless `force`.
    """
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: is a file, not a directory; pick another --out")
    ckpt, plot = out / "model.npz", out / "loss.png"
    if ckpt.is_file() and not force:
        raise ValueError(f"{ckpt} already exists (an earlier run's checkpoint); pass --force to overwrite it "
                         "or pick another --out")
    for path in (ckpt, plot):
        check_writable(path)
    return ckpt, plot


def run_train_command(args) -> int:
    from .checkpoint import save_checkpoint
    from .train import plot_losses, train

    ckpt, plot = _train_outputs(Path(args.out), args.force)
    if args.torch_threads is not None and args.backend != "torch":
        print(f"ninjagrad train: note: --torch-threads applies to --backend torch only; ignored for {args.backend}",
              file=sys.stderr)
    source, splits = _data(args, SPLIT_NAMES)
    cfg = _config(args)
    with np.errstate(all="ignore"):  # a diverging run's overflows: train's one error says it, not NumPy's warnings
        result = train(splits, cfg, backend=args.backend, progress=not args.no_progress,
                       torch_threads=args.torch_threads)
    save_checkpoint(ckpt, result.params, result.bnmean, result.bnvar, splits.vocab, cfg,
                    extra={"backend": args.backend, "data": source.source})
    plot_losses(result.losses, plot)
    for split, loss in result.split_losses.items():
        print(f"{split} {loss:.4f}")
    print(f"{cfg.steps} steps with the {args.backend} backend in {result.seconds:.1f} s; "
          f"checkpoint {ckpt}, loss plot {plot}")
    return 0


def run_sample_command(args) -> int:
    from .checkpoint import load_checkpoint
    from .sample import sample

    for name in sample(load_checkpoint(args.checkpoint), n=args.n, seed=args.seed):
        print(name)
    return 0


# ---- graph ----------------------------------------------------------------------------


def makemore_graph(splits, cfg: Config, check=None, detail: str = "shape"):
    """The engine's forward graph of one small batch, named as in the lecture."""
    import engine
    import viz

    from .mlp import forward_chunked, init_params, to_backend

    rng = np.random.default_rng(cfg.seed)
    P = to_backend(init_params(splits.vocab.size, cfg, rng), engine)
    ix = rng.integers(0, splits.Xtr.shape[0], cfg.batch_size)
    Xb, Yb = engine.tensor(splits.Xtr[ix]), engine.tensor(splits.Ytr[ix])
    fwd = forward_chunked(engine, P, Xb, Yb)
    fwd["loss"].backward()
    return viz.draw(fwd["loss"], names={**P, **fwd, "Xb": Xb, "Yb": Yb}, check=check, detail=detail)


def _graph_format(args) -> str:
    """--format, else the format --out's suffix names; checked (with the file's writability) before any work.

    A suffix naming another format than --format is an error: `--format png --out g.svg` would write PNG
    bytes into a file every viewer opens as SVG.
    """
    import viz

    out = Path(args.out)
    implied = viz.implied_format(out)
    if args.format is None and implied is None:
        raise ValueError(f"cannot tell the format from --out {out}; end it in .svg, .png, .pdf, .dot or .gv, "
                         "or pass --format")
    if args.format is not None and implied not in (None, args.format):
        raise ValueError(f"--format {args.format} contradicts --out {out}; drop --format or name the file "
                         f"{out.with_suffix('.' + args.format)}")
    check_writable(out)
    return args.format or implied


def _render_graph(args, fmt: str, splits, cfg: Config, check=None) -> Path:
    import viz

    graph = makemore_graph(splits, cfg, check=check.verdicts() if check is not None else None, detail=args.detail)
    return viz.render(graph, args.out, format=fmt)


def run_graph_command(args) -> int:
    from .check import run_check

    fmt = _graph_format(args)
    _, splits = _data(args, ("train",))
    cfg = _config(args)
    check = run_check(splits.Xtr, splits.Ytr, splits.vocab.size, cfg) if args.check else None
    if check is not None:
        print(check.table())
    print(f"graph written to {_render_graph(args, fmt, splits, cfg, check)}")
    return 0 if check is None or check.ok else 1  # with --check, the exit status `check` would give


# ---- demo -----------------------------------------------------------------------------


def run_demo_command(args) -> int:
    from .check import run_check
    from .sample import sample
    from .train import train

    fmt = _graph_format(args)
    source, splits = _data(args, SPLIT_NAMES, notice=lambda s: print(f"data: {s}"))
    check_cfg = _config(args, n_hidden=64)
    check = run_check(splits.Xtr, splits.Ytr, splits.vocab.size, check_cfg)
    who = " · ".join({"torch": "PyTorch"}.get(b, b) for b in check.backends)  # PyTorch only when installed
    ways = {2: "two", 3: "three"}[len(check.backends)]
    print(f"\n== {ways}-way gradient check ({who}), one batch of the lecture's In [27] ==")
    print(check.table())
    print(f"\n== training the makemore MLP for {args.steps} steps (manual backend) ==")
    started = time.perf_counter()
    cfg = _config(args)
    result = train(splits, cfg, backend="manual", progress=False, log_every=max(args.steps // 5, 1))
    for split, loss in result.split_losses.items():
        print(f"{split} {loss:.4f}")
    print(f"trained in {time.perf_counter() - started:.1f} s")
    print("\n== 10 names sampled from it ==")
    names = sample(result.checkpoint(splits.vocab, cfg), n=10, seed=args.seed)
    print(", ".join(names))
    try:
        path = _render_graph(args, fmt, splits, check_cfg.replace(batch_size=args.graph_batch), check)
        print(f"\nforward graph, coloured by the check: {path}")
    except RuntimeError as e:  # the dot binary is missing: the rest of the demo still stands
        print(f"\n(no graph drawn: {e})")
    return 0 if check.ok or check.rounding_only else 1


# ---- entry point ----------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line on stderr (exit 2), as every other error here: no usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ninjagrad", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("check", help="three-way gradient check of one batch (engine · manual · PyTorch)",
                       description="Differentiate one batch of the makemore MLP three ways and compare every "
                       "gradient. Exits 1 if any pair is not torch.allclose.")
    _model_options(p, n_hidden=64, batch_size=32)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--no-fd", action="store_true", help="skip the float64 finite-difference oracle")
    p.set_defaults(run=run_check_command)

    p = sub.add_parser("train", help="train the MLP and write a checkpoint and a loss plot")
    _model_options(p, n_hidden=DEFAULTS.n_hidden, batch_size=DEFAULTS.batch_size)
    p.add_argument("--backend", choices=("manual", "engine", "torch"), default="manual",
                   help="who computes the gradients (default manual)")
    p.add_argument("--steps", type=int, default=DEFAULTS.steps,
                   help=f"training steps, {_range('steps')} (default {DEFAULTS.steps})")
    p.add_argument("--out", type=os.path.expanduser, default="out",
                   help="output directory, created if missing (default out/); checked writable before training")
    p.add_argument("--force", action="store_true", help="overwrite the checkpoint an earlier run left in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--torch-threads", type=int, default=None, metavar="N",
                   help="torch's intra-op threads for --backend torch (default: torch's own; 1 is fastest for "
                        "batch 32 on a busy 2-core machine); other backends ignore it, with a note on stderr")
    p.set_defaults(run=run_train_command)

    p = sub.add_parser("sample", help="generate names from a checkpoint")
    p.add_argument("--checkpoint", required=True, metavar="PATH", type=os.path.expanduser,
                   help="a model.npz written by `ninjagrad train`")
    p.add_argument("-n", type=int, default=20, help=f"how many names, {_range('n')} (default 20)")
    p.add_argument("--seed", type=_seed, default=None, help="sampling seed (default: random)")
    p.set_defaults(run=run_sample_command)

    p = sub.add_parser("graph", help="draw the makemore forward graph with Graphviz")
    _model_options(p, n_hidden=64, batch_size=32)
    p.add_argument("--out", type=os.path.expanduser, default="graph.svg", help="output file (default graph.svg)")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="output format (default: from the --out suffix: .svg, .png, .pdf, .dot or .gv); "
                   "a suffix naming another format is an error")
    p.add_argument("--check", action="store_true", help="run the three-way check and colour the nodes by it "
                   "(then exit 1, after drawing, if any pair disagrees, as `check` does)")
    p.add_argument("--detail", choices=DETAILS, default="shape",
                   help="how much each tensor box shows (default shape)")
    p.set_defaults(run=run_graph_command)

    p = sub.add_parser("demo", help="the check table, a short training run, sampled names and the graph")
    _model_options(p, n_hidden=DEFAULTS.n_hidden, batch_size=DEFAULTS.batch_size)
    p.add_argument("--steps", type=int, default=5000, help=f"training steps, {_range('steps')} (default 5000)")
    p.add_argument("--out", type=os.path.expanduser, default="out/makemore-graph.svg", help="where to draw the graph")
    p.add_argument("--format", choices=FORMATS, default=None, help=argparse.SUPPRESS)
    p.add_argument("--detail", choices=DETAILS, default="shape", help=argparse.SUPPRESS)
    p.add_argument("--graph-batch", type=int, default=32, help=argparse.SUPPRESS)
    p.set_defaults(run=run_demo_command)
    return parser


def _message(e: BaseException, command: str) -> str:
    """The error line's text; running out of memory (NumPy's _ArrayMemoryError too) suggests smaller sizes."""
    if not isinstance(e, MemoryError):
        return str(e)
    detail = f" ({e})" if str(e) else ""
    return f"out of memory{detail}; try smaller {SIZE_OPTIONS.get(command, MODEL_SIZE_OPTIONS)}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _check_sizes(args)
        status = args.run(args)
        sys.stdout.flush()  # a closed pipe then fails here, inside the try, not at interpreter exit
        return status
    except KeyboardInterrupt:
        print("ninjagrad: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader left (`ninjagrad sample | head -1`): stop quietly. Python's docs (signal, "Note on
        # SIGPIPE") point stdout at devnull so the flush at exit cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return SIGPIPE_EXIT
    except (ValueError, TypeError, OSError, RuntimeError, ImportError, MemoryError) as e:
        if os.environ.get("NINJAGRAD_DEBUG"):
            raise
        print(f"ninjagrad {args.command}: error: {_message(e, args.command)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
