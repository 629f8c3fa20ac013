"""What every benchmark script shares: the data, the machine's description, memory readings, JSON output.

`find_names` resolves the dataset (--data, $NINJAGRAD_NAMES, ../shared/data/names.txt) without ever
copying it; `environment` records versions, thread settings, the BLAS numpy and torch really use and the
machine, so two result files can be compared honestly; `rss_bytes`/`peak_rss_bytes` read memory;
`write_json` writes a result file atomically (through `model.files.atomic_write`).
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import json
import os
import platform
import re
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

from model.files import atomic_write

ROOT = Path(__file__).resolve().parent.parent
SHARED_NAMES = ROOT.parent / "shared" / "data" / "names.txt"
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE",
              "GOTO_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "KMP_AFFINITY",
              "OMP_PROC_BIND", "MKL_DEBUG_CPU_TYPE")


def find_names(path: str | os.PathLike[str] | None) -> Path | None:
    """The names file to use: `path` if given (it must exist), else $NINJAGRAD_NAMES, else the shared copy."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise SystemExit(f"--data {p}: no such file")
        return p
    env = os.environ.get("NINJAGRAD_NAMES")
    if env:
        if not Path(env).is_file():
            raise SystemExit(f"$NINJAGRAD_NAMES={env}: no such file; fix or unset the variable")
        return Path(env)
    return SHARED_NAMES if SHARED_NAMES.is_file() else None


# ---------------------------------------------------------------------------------------------------------
# memory


def rss_bytes() -> int:
    """Resident set size now (Linux /proc/self/statm; falls back to the peak elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return peak_rss_bytes()


def peak_rss_bytes() -> int:
    """The process's high-water resident set size (getrusage: kB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def mib(n_bytes: int) -> float:
    return round(n_bytes / 2**20, 1)


# ---------------------------------------------------------------------------------------------------------
# the machine and the libraries


def _git() -> dict[str, Any]:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "engine", "manual", "model"], cwd=ROOT,
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return {}
    if head.returncode != 0:
        return {}
    return {"commit": head.stdout.strip(), "uncommitted_changes_in_engine_manual_model": bool(dirty.stdout.strip())}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _loaded_openblas() -> dict[str, Any]:
    """OpenBLAS as loaded right now: its build string, the core it picked and its thread count.

    The build info of numpy.show_config says what numpy was compiled against; this asks the library
    itself, which is what OPENBLAS_CORETYPE and OPENBLAS_NUM_THREADS change.
    """
    try:
        with open("/proc/self/maps") as f:
            libs = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line})
    except OSError:
        return {}
    out: dict[str, Any] = {}
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        info: dict[str, Any] = {"library": path}
        for key, stem, restype in (("config", "get_config", ctypes.c_char_p),
                                   ("corename", "get_corename", ctypes.c_char_p),
                                   ("num_threads", "get_num_threads", ctypes.c_int)):
            for name in (f"openblas_{stem}", f"openblas_{stem}64_", f"scipy_openblas_{stem}64_",
                         f"scipy_openblas_{stem}"):
                fn = getattr(lib, name, None)
                if fn is not None:
                    fn.restype = restype
                    value = fn()
                    info[key] = value.decode() if isinstance(value, bytes) else value
                    break
        out[Path(path).name] = info
    return out


def _numpy_blas() -> dict[str, Any]:
    import numpy as np

    info: dict[str, Any] = {}
    try:
        deps = np.show_config(mode="dicts")["Build Dependencies"]
        info["build"] = {k: {f: deps[k].get(f) for f in ("name", "version", "openblas configuration")}
                         for k in ("blas", "lapack") if k in deps}
    except Exception as e:  # show_config's layout is not a stable API
        info["build"] = f"unavailable ({type(e).__name__}: {e})"
    info["runtime"] = _loaded_openblas()
    try:
        import threadpoolctl  # optional: not a project dependency
    except ImportError:
        info["threadpoolctl"] = "not installed"
    else:
        info["threadpoolctl"] = threadpoolctl.threadpool_info()
    return info


def _torch_info() -> dict[str, Any]:
    """torch's version, threads and BLAS if it is loaded; only its installed version if not.

    Importing torch just to describe it would add ~200 MB to the RSS a memory benchmark reports.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        try:
            return {"version": importlib.metadata.version("torch"), "loaded": False}
        except importlib.metadata.PackageNotFoundError:
            return {"version": None, "loaded": False}
    config = torch.__config__.show()
    blas = re.search(r"BLAS_INFO=(\w+)", config)
    return {
        "version": torch.__version__,
        "loaded": True,
        "num_threads": torch.get_num_threads(),
        "num_interop_threads": torch.get_num_interop_threads(),
        "blas": blas.group(1) if blas else None,
        "cpu_capability": next((line.split(":", 1)[1].strip() for line in config.splitlines()
                                if "CPU capability usage" in line), None),
    }


def environment() -> dict[str, Any]:
    """Versions, thread settings, BLAS libraries and the machine, as plain JSON-able data."""
    import numpy as np

    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    return {
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "numpy": np.__version__,
        "numpy_blas": _numpy_blas(),
        "torch": _torch_info(),
        "thread_env": {name: os.environ.get(name) for name in THREAD_ENV},
        "machine": {
            "platform": platform.platform(),
            "arch": platform.machine(),
            "cpu": _cpu_model(),
            "cpu_count": os.cpu_count(),
            "cpus_available": affinity,  # what `nproc` prints: the CPUs this process may run on
        },
        "load_average_1_5_15min": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "git": _git(),
    }


def busy_warning(env: dict[str, Any]) -> str | None:
    """A warning when other processes keep the CPUs busy: timings, and torch's threads above all, suffer."""
    load, cpus = env.get("load_average_1_5_15min"), env["machine"]["cpus_available"]
    if load and cpus and load[0] > 0.5 * cpus:
        return (f"warning: 1-minute load average {load[0]:.1f} on {cpus} CPUs — other processes are running, "
                "so timings are noisy; multi-threaded ops can stall for whole scheduler slices (try --threads 1)")
    return None


def set_threads(n: int) -> dict[str, Any]:
    """Limit torch (if imported) and the loaded OpenBLAS to `n` threads (process-wide); returns what was set."""
    done: dict[str, Any] = {}
    torch = sys.modules.get("torch")  # only if loaded: importing it would cost a manual run ~200 MB
    if torch is not None:
        torch.set_num_threads(n)
        done["torch"] = torch.get_num_threads()
    for info in _loaded_openblas().values():
        lib = ctypes.CDLL(info["library"])
        for name in ("openblas_set_num_threads", "openblas_set_num_threads64_",
                     "scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.argtypes = [ctypes.c_int]
                fn(n)
                done[Path(info["library"]).name] = n
                break
    return done


def environment_summary(env: dict[str, Any]) -> str:
    """One or two lines for the top of a printed report."""
    blas = "; ".join(f"{info.get('corename', '?')} core, {info.get('num_threads', '?')} threads"
                     for info in env["numpy_blas"].get("runtime", {}).values()) or "unknown"
    threads = ", ".join(f"{k}={v}" for k, v in env["thread_env"].items() if v is not None) or "none set"
    torch = env["torch"]
    if torch.get("loaded"):
        torch_part = f"torch {torch['version']} ({torch.get('blas')}, {torch.get('num_threads')} threads)"
    else:
        torch_part = f"torch {torch['version']} (not loaded)" if torch.get("version") else "torch not installed"
    m = env["machine"]
    return (f"python {env['python']}, numpy {env['numpy']} (OpenBLAS: {blas}), {torch_part}\n"
            f"{m['cpu']}, {m['cpus_available']} CPUs available; thread env: {threads}")


# ---------------------------------------------------------------------------------------------------------
# output


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write `obj` as indented JSON to `path` with `model.files.atomic_write`: the old file or the whole new one.

    `obj` is serialized first, so one that JSON cannot hold raises before anything is touched.
    """
    data = (json.dumps(obj, indent=2) + "\n").encode()
    return atomic_write(path, lambda f: f.write(data))


def announce_environment(threads: int | None) -> dict:
    """Set the thread counts if asked, print the environment summary (and a busy-machine warning); return it."""
    threads_set = set_threads(threads) if threads else None
    env = environment()
    env["threads_set_by_bench"] = threads_set
    print(environment_summary(env))
    if warning := busy_warning(env):
        print(warning)
    return env
