"""Hostile invocations of the command line: generated argument lists (hostile numbers,
files, paths and specs) run in a sandbox; counts tracebacks, exit statuses outside 0/1/2,
errors that are not one line, runs over the time bound, and any change outside the sandbox.

Usage: python benchmarks/bench_fuzz.py [OUT.json] [--count N] [--seed S]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import random
import signal
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

from _report import emit

from cascade import main

SECONDS = 20
"""Time bound of one invocation."""

NUMBERS = ["nan", "inf", "-inf", "-1", "0", "1e400", "1e-300", "\u0664", "\uff11\uff16", "1_0",
           "99999999999999999999", "", "x", "0x10", "1" * 5000, "3", "16", "64", "1024",
           "1099511627776", "16777216"]
ALGORITHMS = ["fusemax", "one_pass", "three_pass", "causal", "sliding_window", "gqa",
              "linear_attention", "nope", "../../etc/passwd"]
FILES = {
    "bomb.yaml": "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(9)),
    "nul.cascade": "QK[m,p] = Q[e,p] * K[e,m]\x00\n",
    "deep.cascade": "Y[p] = " + "(" * 3000 + "X[p]" + ")" * 3000 + "\n",
    "deep.yaml": "cascade: " + "[" * 5000 + "]" * 5000 + "\n",
    "digits.cascade": "Y[p] = X[p] * " + "9" * 5000 + "\n",
    "ok.cascade": "QK[m,p] = Q[e,p] * K[e,m]\nGM[p] = QK[m,p] reduce max over m\n",
    "where.cascade": "QK[m,p] = Q[e,p] * K[e,m] where m // 0 == p\n",
    "wrap.cascade": "QK[m,p] = Q[e,p] * K[e,m] where m * W * W * W < p\n",
    "random.bin": "",
    "spec.yaml": "algorithms: [fusemax]\narchitectures: [{preset: fusemax, clock_mhz: .inf}]\n"
                 "models: [bert]\nseq: [1024]\n",
    "spec_big.yaml": "algorithms: [fusemax]\narchitectures: [{preset: fusemax, array: "
                     "1099511627776}]\nmodels: [bert]\nseq: [1024]\n",
    "config.json": '{"hidden_size": ' + "[" * 3000 + "]" * 3000 + "}",
    "arch_typo.yaml": "like: fusemax\nglobal_bufer: {capacity_bytes: 1}\n",
    "arch_huge.yaml": "like: fusemax\nunits: {array2d: {shape: [1099511627776, 1099511627776]}}\n",
    "arch_tiny.yaml": "like: flat\nglobal_buffer: {capacity_bytes: 1}\n",
    "arch_nan.yaml": "like: fusemax\nclock_mhz: .nan\n",
    "arch_self.yaml": "like: arch_self.yaml\n",
    "arch_yes.yaml": "like: fusemax\nunits: {array2d: {systolic: yes}}\n",
    "mapping_bad.yaml": "name: m\nbindings: {QK: {unit: array2d, spatial: MP}}\n",
    "mapping_tiles.yaml": "name: m\nbindings: {}\ntiles: {P: -1}\n",
    "mapping_other.yaml": "name: m\nbindings: {ZZ: {unit: array2d, spatial: [M]}}\n",
    **{f"mapping_{kind}.yaml": (
        "name: m\nbindings:\n" + "".join(
            f"  {e}: {{unit: {'array2d' if e in ('QK', 'AV') else 'array1d'}, "
            f"spatial: {'[M, P]' if e in ('QK', 'AV') else '[P]'}}}\n"
            for e in ("QK", "GM", "SN", "SD", "A", "AV"))
        + "dram_loops: [P]\ntiles: {P: 256}\nstages: [[QK, GM, SN, SD, A, AV]]\n" + extra)
       for kind, extra in (("in_place", "in_place: {SN: QK, A: SN}\n"),
                           ("in_place_bad", "in_place: {A: QK, GM: QK}\n"),
                           ("in_place_self", "in_place: {SN: SN}\n"),
                           ("staged", "placement: {QK: staged, A: staged, Q: staged}\n"))},
    "ref.py": "import numpy as np\n\ndef attention(x):\n    s = x['Q'].T @ x['K']\n"
              "    p = np.exp(s - s.max(axis=1, keepdims=True))\n"
              "    return (p / p.sum(axis=1, keepdims=True) @ x['V'].T).T\n\n"
              "def exits(x):\n    raise SystemExit(3)\n\n"
              "def huge(x):\n    return {'AV': np.zeros((4, 4))}\n",
    "ref_broken.py": "import numpy as np\nthis is not python\n",
}


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_symlink():
            digest.update(os.readlink(path).encode())
        elif path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _setup(root: Path, rng: random.Random) -> tuple[Path, Path]:
    sandbox, outside = root / "sandbox", root / "outside"
    sandbox.mkdir()
    outside.mkdir()
    (outside / "precious.txt").write_text("do not touch")
    (outside / "folder").mkdir()
    (outside / "folder" / "inside.txt").write_text("nor this")
    FILES["random.bin"] = "".join(chr(rng.randrange(0, 0x250)) for _ in range(400))
    for name, text in FILES.items():
        (sandbox / name).write_text(text, encoding="utf-8", errors="surrogatepass")
    (sandbox / "link").symlink_to(outside / "folder")
    (sandbox / "filelink").symlink_to(outside / "precious.txt")
    os.mkfifo(sandbox / "fifo")
    (sandbox / "dir").mkdir()
    (sandbox / "db.sqlite").write_bytes(bytes(rng.randrange(256) for _ in range(4096)))
    return sandbox, outside


def _paths() -> list[str]:
    return ["out", "dir", "link", "filelink", "fifo", "/dev/null", ".", "..", "x/..",
            "../outside", "../outside/folder", "a;b", "a\nb", "missing/deeper/out", "ok.cascade"]


def _invocation(rng: random.Random) -> list[str]:
    number = rng.choice(NUMBERS)
    algorithm = rng.choice(ALGORITHMS + list(FILES) + ["fifo", "dir", "/dev/zero"])
    path = rng.choice(_paths())
    kind = rng.randrange(12)
    if kind == 0:
        return ["analyze", algorithm, "--shape", rng.choice(
            ["E=2,F=2,M=4,P=4", f"E={number},M=4", "Z=4", "E=2,F=2,M=4,P=4,M0=2", number])]
    if kind == 1:
        flags = rng.sample(["--buffer-mib", "--bandwidth-gib-s", "--clock-mhz", "--array"],
                           rng.randrange(1, 5))
        values = [rng.choice([*NUMBERS, "1", "0.001", "100000", "1e-3"]) for _ in flags]
        return ["map", rng.choice(ALGORITHMS[:7]), "--arch", rng.choice(["fusemax", "flat",
                                                                        "bomb.yaml", "x"]),
                "--model", rng.choice(["bert", "llama-3-8b", "nope"]),
                "--seq", rng.choice(["256", "1024", "1048576", number]),
                *(f"{f}={v}" for f, v in zip(flags, values, strict=True)),
                *(["--objective", rng.choice(["energy", "edp", "x"])]
                  if rng.random() < 0.3 else [])]
    if kind == 2:
        return ["map", rng.choice(ALGORITHMS), "--arch", "fusemax",
                "--model-config", rng.choice(["config.json", "fifo", "bomb.yaml", "missing"]),
                "--seq", "256"]
    if kind == 3:
        return ["table", "--out", path]
    if kind == 4:
        return ["numerics", rng.choice(["--lengths", "--widths", "--table-bits"]), number,
                "--out", path]
    if kind == 5:
        return ["sweep", rng.choice(["spec.yaml", "spec_big.yaml", "bomb.yaml", "fifo",
                                     "nul.cascade"]),
                "--db", rng.choice(["db.sqlite", "missing/r.sqlite", "dir", "fifo"])]
    if kind == 6:
        return ["report", rng.choice(["db.sqlite", "fifo", "dir", "missing.sqlite"]),
                "--out", path, *(["--force"] if rng.random() < 0.5 else [])]
    if kind == 7:
        return ["emit-rtl", rng.choice(["exp", "softmax", "nope"]),
                "--param", f"{rng.choice(['width', 'table_bits', 'm'])}={number}",
                "--out", path, *(["--force"] if rng.random() < 0.5 else [])]
    if kind == 8:
        return ["check", rng.choice(["ok.cascade", "where.cascade", "wrap.cascade",
                                     "nul.cascade", "fifo", "digits.cascade"]), "--seed", number]
    json = ["--json"] if rng.random() < 0.5 else []
    arch = rng.choice(["fusemax", "arch_typo.yaml", "arch_huge.yaml", "arch_tiny.yaml",
                       "arch_nan.yaml", "arch_self.yaml", "arch_yes.yaml", "bomb.yaml",
                       "deep.yaml", "fifo", "dir", "missing.yaml", "link", "/dev/zero"])
    if kind == 9:
        return ["show", rng.choice(["arch", "algorithm"]), rng.choice([arch, algorithm]), *json]
    if kind == 10:
        return ["map", rng.choice(ALGORITHMS[:7]), "--arch", arch, "--model", "bert",
                "--seq", rng.choice(["1k", "8K", "1m", "k", "8kk", "99999999999m", number]),
                *(["--batch", rng.choice(NUMBERS)] if rng.random() < 0.3 else []),
                *(["--mapping", rng.choice(["mapping_bad.yaml", "mapping_tiles.yaml",
                                            "mapping_other.yaml", "mapping_in_place.yaml",
                                            "mapping_in_place_bad.yaml",
                                            "mapping_in_place_self.yaml",
                                            "mapping_staged.yaml", "bomb.yaml", "fifo",
                                            "ok.cascade", "missing.yaml"])]
                  if rng.random() < 0.5 else []),
                *(["--out", path] if rng.random() < 0.3 else []), *json]
    return ["check", rng.choice(["fusemax", "ok.cascade", "three_pass"]), "--reference",
            rng.choice(["ref.py:attention", "ref.py:exits", "ref.py:huge", "ref.py:missing",
                        "ref_broken.py:f", "nope:f", "fifo:f", "bomb.yaml:f", "ref.py",
                        ":f", "os:getcwd", "ref.py:1x"]),
            *(["--shape", rng.choice(["E=4,F=4,M=8,P=4,M0=4", "E=2,F=2,M=4,P=4", number])]
              if rng.random() < 0.8 else []), *json]


class _Overtime(Exception):
    pass


def _alarm(_signum: int, _frame: object) -> None:
    raise _Overtime


def _one_error(argv: list[str], out: str, lines: list[str]) -> bool:
    """An error is one line on standard error, or under --json one JSON document with an
    ``error`` on standard output."""
    if "--json" not in argv:
        return len(lines) == 1
    try:
        return not lines and "error" in json.loads(out)
    except ValueError:
        return False


def _run(argv: list[str]) -> tuple[int | str, str, str, float]:
    err, out = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(SECONDS)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status: int | str = main(argv)
    except _Overtime:
        status = "overtime"
    except BaseException:  # a traceback: what the contract forbids
        status = "traceback:" + traceback.format_exc().strip().splitlines()[-1]
    finally:
        signal.alarm(0)
    return status, out.getvalue(), err.getvalue(), time.perf_counter() - start


def main_bench() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", nargs="?")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    here = Path.cwd()
    with tempfile.TemporaryDirectory() as folder:
        sandbox, outside = _setup(Path(folder), rng)
        before = _tree_digest(outside)
        os.chdir(sandbox)
        statuses: Counter[str] = Counter()
        problems: list[dict[str, Any]] = []
        slowest, slowest_argv = 0.0, []
        try:
            for _ in range(args.count):
                argv = _invocation(rng)
                status, out, err, seconds = _run(argv)
                if seconds > slowest:
                    slowest, slowest_argv = seconds, argv
                statuses[str(status) if isinstance(status, int) else status.split(":")[0]] += 1
                lines = err.strip("\n").splitlines()
                bad = (not isinstance(status, int) or status not in (0, 1, 2)
                       or (status == 2 and not _one_error(argv, out, lines)))
                if bad and len(problems) < 50:
                    problems.append({"argv": argv, "status": status, "stderr": err[-400:]})
        finally:
            os.chdir(here)
        outside_unchanged = _tree_digest(outside) == before
    emit({"benchmark": "fuzz", "invocations": args.count, "seed": args.seed,
          "statuses": dict(statuses), "tracebacks": statuses.get("traceback", 0),
          "overtime": statuses.get("overtime", 0), "problems": len(problems),
          "outside_sandbox_unchanged": outside_unchanged,
          "slowest_seconds": round(slowest, 2), "slowest_argv": slowest_argv,
          "time_bound_seconds": SECONDS,
          "examples": problems[:20]}, args.out)


if __name__ == "__main__":
    main_bench()
