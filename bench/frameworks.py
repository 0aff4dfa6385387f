"""The framework rows (issues 3 and 6): our LangChain / LlamaIndex classes vs the anchors.

    .venv/bin/python -m bench.frameworks          # or: python -m bench --frameworks
    .venv/bin/python -m bench.frameworks --quick  # fewer iterations (a smoke run, noisier)

The anchors (ChatTongyi: langchain-community + dashscope; llama-index-llms-dashscope) are never
our dependencies: this command creates ``.bench-venv`` on first use (``python3 -m venv`` and
``pip install -e '.[all]' <anchors>``, redone when the package list changes) and re-runs itself
there. The server (``bench/framework_server.py``) runs in its own process; only the client
process's CPU is counted. Blocks of the contenders are interleaved and medians kept, as in
``bench/run.py``. Prints the rows, a table of our/anchor ratios against the targets, and writes
``bench/RESULTS.md``. Each row records the versions of the distributions its class is built
from; a pair whose framework (langchain-core, llama-index-core) differs between our row and the
anchor is not compared: its ratios read REFUSED, and ``--check`` fails.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.contenders import Contender
from bench.run import Row, cpu_per_op, measure_async, server

ROOT = Path(__file__).resolve().parent.parent
BENCH_VENV = ROOT / ".bench-venv"
BENCH_PY = BENCH_VENV / "bin" / "python"
ANCHORS = ["langchain-community", "dashscope", "llama-index-llms-dashscope", "py-spy"]
RESULTS = ROOT / "bench" / "RESULTS.md"
IMPORT_PAIRS = {
    "langchain_dashscope_ext": (
        "import langchain_core.language_models", "import langchain_dashscope_ext"),
    "ChatDashScope": (
        "from langchain_core.language_models import BaseChatModel",
        "from langchain_dashscope_ext import ChatDashScope"),
    "DashScopeLLM (li)": (
        "from llama_index.core.llms.function_calling import FunctionCallingLLM",
        "from llamaindex_dashscope_ext import DashScopeLLM"),
}  # fmt: skip
"""(framework import, ours): in one fresh interpreter the first is timed, then what the second
adds on top. langchain-core 1.x loads ``language_models`` lazily, as ``langchain_dashscope_ext``
loads its classes, so the issue's pair (first) is joined by the one a user pays for (second)."""
_TIMED = """import time
w0, c0 = time.perf_counter(), time.process_time()
{base}
w1, c1 = time.perf_counter(), time.process_time()
{ours}
w2, c2 = time.perf_counter(), time.process_time()
print((w1 - w0) * 1e3, (c1 - c0) * 1e3, (w2 - w1) * 1e3, (c2 - c1) * 1e3)
"""


@dataclass
class Settings:
    """Iteration counts per block; ``quick`` shrinks them."""

    calls: int = 100
    streams: int = 8
    chunks: int = 200
    async_calls: int = 1536
    blocks: int = 5
    imports: int = 9

    def scaled(self, quick: bool) -> Settings:
        return Settings(30, 3, self.chunks, 384, 3, 3) if quick else self


# ------------------------------------------------------------------------ the bench venv


def ensure_bench_venv() -> None:
    """Create ``.bench-venv`` with the project and the anchors (again if the list changed)."""
    stamp = BENCH_VENV / ".bench-installed"
    wanted = " ".join(["-e .[all]", *ANCHORS])
    if stamp.exists() and stamp.read_text() == wanted:
        return
    if not BENCH_PY.exists():
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
    pip = [str(BENCH_PY), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    print(f"installing into {BENCH_VENV.name}: {wanted}", file=sys.stderr, flush=True)
    subprocess.run([*pip, "-e", ".[all]", *ANCHORS], check=True, cwd=ROOT)
    stamp.write_text(wanted)


def in_bench_venv() -> bool:
    """True when this interpreter is the bench venv's."""
    return Path(sys.prefix).resolve() == BENCH_VENV.resolve()


# ---------------------------------------------------------------------------- measuring


def measure_sync(contenders: list[Contender], rows: dict[str, Row], s: Settings) -> None:
    """CPU per call and per chunk received by the caller, blocks interleaved."""
    seen = {}
    for c in contenders:  # warm-up: connections, caches, lazy imports
        for _ in range(10):
            getattr(c, "call", lambda: None)()
        seen[c.name] = c.stream()  # type: ignore[attr-defined]
        if seen[c.name] < s.chunks // 2:
            raise RuntimeError(f"{c.name}: {seen[c.name]} chunks for {s.chunks} frames")
    for _ in range(s.blocks):
        for c in contenders:
            rows[c.name].cpu_call.append(cpu_per_op(c.call, s.calls))  # type: ignore[attr-defined]
            per_stream = cpu_per_op(c.stream, s.streams)  # type: ignore[attr-defined]
            rows[c.name].cpu_chunk.append(per_stream / seen[c.name])


# as a user's interpreter runs: bytecode cached (installed wheels have .pyc; our editable
# sources would otherwise be compiled on every import when PYTHONDONTWRITEBYTECODE is set)
_CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _child_run(base: str, ours: str) -> list[float]:
    """[base wall, base CPU, ours-on-top wall, ours-on-top CPU] ms in a fresh interpreter."""
    code = _TIMED.format(base=base, ours=ours)
    done = subprocess.run([sys.executable, "-c", code], check=True, cwd="/", env=_CHILD_ENV,
                          capture_output=True, text=True)  # fmt: skip
    return [float(x) for x in done.stdout.split()]


def import_times(n: int) -> dict[str, list[float]]:
    """Per ``IMPORT_PAIRS`` entry, the medians of ``_child_run`` over ``n`` interleaved runs."""
    runs: dict[str, list[list[float]]] = {name: [] for name in IMPORT_PAIRS}
    for pair in IMPORT_PAIRS.values():  # warm the file cache, write bytecode
        _child_run(*pair)
    for _ in range(n):
        for name, pair in IMPORT_PAIRS.items():
            runs[name].append(_child_run(*pair))
    return {
        name: [statistics.median(col) for col in zip(*r, strict=True)] for name, r in runs.items()
    }


# ---------------------------------------------------------------------------- reporting


@dataclass
class Check:
    """One target: ours / anchor (or a difference in ms) against its limit."""

    label: str
    value: float | None
    limit: float
    at_most: bool
    unit: str = "x"
    refused: str | None = None
    """Why the two rows may not be compared (their framework versions differ)."""

    @property
    def ok(self) -> bool | None:
        if self.refused:
            return False
        if self.value is None:
            return None
        return self.value <= self.limit if self.at_most else self.value >= self.limit

    def line(self) -> str:
        sign = "<=" if self.at_most else ">="
        if self.refused:
            return f"  {self.label:<52}{'-':>11}  REFUSED: {self.refused}"
        shown = "-" if self.value is None else f"{self.value:7.2f}{self.unit}"
        verdict = {None: "n/a", True: "OK", False: "MISSED"}[self.ok]
        return f"  {self.label:<52}{shown:>11}  (target {sign} {self.limit}{self.unit})  {verdict}"


Versions = dict[str, dict[str, str]]
"""Per row name: the distributions its class is built from, with their versions."""


def framework_mismatch(versions: Versions, ours: str, anchor: str, framework: str) -> str | None:
    """Why rows ``ours`` and ``anchor`` may not be compared, or None when they may."""
    mine, theirs = versions.get(ours, {}).get(framework), versions.get(anchor, {}).get(framework)
    if mine is None or theirs is None:
        return f"{framework} version not recorded for {ours if mine is None else anchor}"
    if mine != theirs:
        return f"{ours} ran {framework} {mine}, {anchor} ran {framework} {theirs}"
    return None


def _ratio(mine: list[float], base: list[float], invert: bool = False) -> float | None:
    a, b = Row.med(mine), Row.med(base)
    if not a or not b:
        return None
    return b / a if invert else a / b


def checks(
    rows: dict[str, Row], imports: dict[str, list[float]], versions: Versions
) -> list[Check]:
    """The targets (issue 12's for the rows, issues 3 and 6 for imports), from the rows and the
    import times; a pair on different framework versions is refused, never compared."""
    lc, tongyi = rows.get("ChatDashScope"), rows.get("ChatTongyi")
    li, anchor = rows.get("DashScopeLLM (li)"), rows.get("li-llms-dashscope")
    out: list[Check] = []
    if lc and tongyi:
        why = framework_mismatch(versions, lc.name, tongyi.name, "langchain-core")
        out += [
            Check("LC invoke CPU/call: ChatDashScope / ChatTongyi",
                  _ratio(lc.cpu_call, tongyi.cpu_call), 0.6, True, refused=why),
            Check("LC stream CPU/chunk: ChatDashScope / ChatTongyi",
                  _ratio(lc.cpu_chunk, tongyi.cpu_chunk), 0.6, True, refused=why),
            Check("LC ainvoke calls/s @64: ChatDashScope / ChatTongyi",
                  _ratio(lc.calls_per_s, tongyi.calls_per_s), 3.0, False, refused=why),
        ]  # fmt: skip
    for name in ("langchain_dashscope_ext", "ChatDashScope"):
        if name in imports:
            label = f"import: {IMPORT_PAIRS[name][1].split()[-1]} on top (wall)"
            out.append(Check(label, imports[name][2], 40, True, " ms"))
    if li and anchor:
        why = framework_mismatch(versions, li.name, anchor.name, "llama-index-core")
        out += [
            Check("LI complete CPU/call: DashScopeLLM / li-llms-ds",
                  _ratio(li.cpu_call, anchor.cpu_call), 0.6, True, refused=why),
            Check("LI stream_complete CPU/chunk: ours / li-llms-ds",
                  _ratio(li.cpu_chunk, anchor.cpu_chunk), 0.6, True, refused=why),
            Check("LI acomplete calls/s @64: ours / li-llms-ds",
                  _ratio(li.calls_per_s, anchor.calls_per_s), 1.5, False, refused=why),
        ]  # fmt: skip
    return out


def _fmt(value: float | None, scale: float, digits: int) -> str:
    return "-" if value is None else f"{value * scale:.{digits}f}"


def render(rows: dict[str, Row], imports: dict[str, list[float]], found: list[Check],
           header: str, versions: Versions) -> str:  # fmt: skip
    """The two tables (rows, then ratios vs targets) as printed and stored."""
    lines = [header, "",
             f"{'contender':<20}{'CPU/call µs':>13}{'CPU/chunk µs':>14}{'calls/s @64':>13}"
             f"{'async CPU/call µs':>19}"]  # fmt: skip
    for row in rows.values():
        lines.append(
            f"{row.name:<20}{_fmt(Row.med(row.cpu_call), 1e6, 1):>13}"
            f"{_fmt(Row.med(row.cpu_chunk), 1e6, 2):>14}{_fmt(Row.med(row.calls_per_s), 1, 0):>13}"
            f"{_fmt(Row.med(row.async_cpu_call), 1e6, 1):>19}"
        )
    lines += ["", "what each row ran (its class's distributions):"]
    for name, found_versions in versions.items():
        shown = ", ".join(f"{dist} {v}" for dist, v in found_versions.items())
        lines.append(f"  {name:<20}{shown}")
    lines += [
        "",
        f"{'fresh interpreter: framework import, then ours':<74}{'wall ms':>9}{'CPU ms':>9}",
    ]
    for name, (base, ours) in IMPORT_PAIRS.items():
        if name in imports:
            bw, bc, ow, oc = imports[name]
            lines.append(f"  {base:<72}{bw:9.1f}{bc:9.1f}")
            lines.append(f"  {'+ ' + ours:<72}{ow:9.1f}{oc:9.1f}")
    lines += ["", "ours vs anchor (targets: issue 12, imports: issues 3 and 6; same framework "
              "version only):"]  # fmt: skip
    lines += [c.line() for c in found]
    return "\n".join(lines)


def machine() -> str:
    """Date, host, CPU model and count, load, Python and the packages measured."""
    from importlib.metadata import PackageNotFoundError, version

    model = platform.processor() or platform.machine()
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        model = next(ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines()
                     if ln.startswith("model name"))  # fmt: skip
    except (OSError, StopIteration):
        pass
    versions = []
    for dist in ("langchain-core", "langchain-community", "dashscope", "llama-index-core",
                 "llama-index-llms-dashscope", "aiohttp", "httpx", "pydantic"):  # fmt: skip
        try:
            versions.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            versions.append(f"{dist} (not installed)")
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"- date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n"
        f"- machine: {platform.platform()}, {model}, {os.cpu_count()} CPUs, load average {load}\n"
        f"- python {platform.python_version()}; {', '.join(versions)}\n"
        f"- commit: {_git_head()}"
    )


def _git_head() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True, check=False)  # fmt: skip
    return done.stdout.strip() or "?"


def write_results(text: str, command: str) -> None:
    """``bench/RESULTS.md``: generated; machine info, the command and both tables."""
    RESULTS.write_text(
        "# Framework benchmark results\n\n"
        f"Generated by `{command}` (bench/frameworks.py); do not edit by hand.\n\n"
        f"{machine()}\n\n```\n{text}\n```\n"
    )


# ---------------------------------------------------------------------------------- main


def _contenders(base_url: str) -> list[Contender]:
    from bench.framework_contenders import PAIRS

    built: list[Contender] = []
    for _, *classes in PAIRS:
        for cls in classes:
            try:
                built.append(cls(base_url))
            except ImportError as exc:
                print(f"skipping {cls.name}: {exc}", file=sys.stderr)
    return built


def run(s: Settings) -> tuple[dict[str, Row], Versions, float]:
    """Measure every framework row against the bench server; (rows, versions, seconds)."""
    began = time.perf_counter()
    with server(s.chunks, module="bench.framework_server") as base_url:
        contenders = _contenders(base_url)
        rows = {c.name: Row(c.name) for c in contenders}
        versions = {c.name: c.versions() for c in contenders if hasattr(c, "versions")}
        try:
            measure_sync(contenders, rows, s)
            measure_async(contenders, rows, s)  # type: ignore[arg-type]  # same field names
        finally:
            for c in contenders:
                c.close()
    return rows, versions, time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    """Run the framework rows in the bench venv; with ``--check`` exit 1 on a missed target."""
    parser = argparse.ArgumentParser(prog="python -m bench.frameworks")
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/RESULTS.md")
    args = parser.parse_args(argv)
    if not in_bench_venv():
        ensure_bench_venv()
        given = sys.argv[1:] if argv is None else argv
        return subprocess.call([str(BENCH_PY), "-m", "bench.frameworks", *given], cwd=ROOT)
    s = Settings().scaled(args.quick)
    rows, versions, seconds = run(s)
    imports = import_times(s.imports)
    found = checks(rows, imports, versions)
    quick = " (--quick)" if args.quick else ""
    header = (f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, chunks/stream "
              f"{s.chunks}, {seconds:.0f} s measuring{quick}")  # fmt: skip
    text = render(rows, imports, found, header, versions)
    print(text)
    if not args.no_write:
        write_results(text, "python -m bench.frameworks" + (" --quick" if args.quick else ""))
    return 1 if args.check and not all(c.ok for c in found) else 0


if __name__ == "__main__":
    sys.exit(main())
