"""The benchmark suite, in one command:

    python bench/run.py [--quick] [--out DIR] [--only W1,W1R,W2,MEM,W3,W4]

Runs W1, W1r (W1 with the loss read) and W2 (bench_core.py), the W1 memory probe, W3 (bench_training.py) and W4
(bench_serialization.py) when those files exist, for pyautodiff, numpy and PyTorch (when installed),
interleaved; prints medians, ratios and issue 5's targets (met / NOT MET); writes DIR/results.json and
DIR/bench.png (DIR defaults to bench/results/).  Full run < 5 min here, --quick < 60 s.
"""
import os
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)

import _timing as T  # noqa: E402

ENV_INFO = T.setup_env()  # before numpy / torch are imported (by anything below)

import argparse  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import traceback  # noqa: E402

LIB_ORDER = ("pyautodiff", "torch", "numpy", "fused")
# memory: RSS may move by a few pages between two reads (allocator bookkeeping, the interpreter);
# a leak of W1's buffers would be 40 MB per iteration (or per few): 4 MiB is 10% of one buffer.
RSS_GROWTH_TOLERANCE = 4 * 2**20


# ----------------------------------------------------------------------------- targets
def _target(targets, workload, name, value, limit, op="<="):
    met = None if value is None else (value <= limit if op == "<=" else value >= limit)
    targets.append({"workload": workload, "name": name, "value": value, "limit": limit, "op": op, "met": met})


def core_targets(res):
    t = []
    w1 = res.get("W1")
    if w1:
        by_n = {c["N"]: c["median"] for c in w1["cases"]}
        for n, lim in ((1, 0.2), (100, 0.2), (10_000, 0.2), (10_000_000, 0.15)):
            m = by_n.get(n)
            if m is not None:
                _target(t, "W1", f"N={n:g}: pyautodiff/torch", T.ratio(m.get("pyautodiff"), m.get("torch")), lim)
        for n in (1_000_000, 10_000_000):
            m = by_n.get(n)
            if m is not None:
                _target(t, "W1", f"N={n:g}: pyautodiff/hand-fused loop", T.ratio(m.get("pyautodiff"), m.get("fused")), 2.0)
        for n, m in sorted(by_n.items()):
            _target(t, "W1", f"N={n:g}: pyautodiff/torch (faster than PyTorch at every size)",
                    T.ratio(m.get("pyautodiff"), m.get("torch")), 1.0)
    w2 = res.get("W2")
    if w2:
        m = w2["cases"][0]["median"]
        _target(t, "W2", "pyautodiff/torch", T.ratio(m.get("pyautodiff"), m.get("torch")), 0.2)
    mem = res.get("MEM")
    if mem and mem.get("results"):
        r = mem["results"]
        pad = r.get("pyautodiff")
        if pad:
            _target(t, "MEM", f"W1 N={mem['N']:g}: pyautodiff RSS growth over {pad['iters']} iterations (bytes)",
                    pad["rss_growth"], RSS_GROWTH_TOLERANCE)
            th = r.get("torch")
            if th:
                _target(t, "MEM", "peak RSS of the iterations above the input: pyautodiff/torch",
                        T.ratio(pad.get("workload_peak"), th.get("workload_peak")), 1.0)
                _target(t, "MEM", "peak RSS of the whole process: pyautodiff/torch",
                        T.ratio(pad.get("peak_rss"), th.get("peak_rss")), 1.0)
    return t


def foreign_targets(name, res):
    """Targets reported by another engineer's module (a list under "targets"), else computed when the
    result follows the schema (W3: ratio pyautodiff/torch <= 0.5 on its first case)."""
    t = []
    for x in res.get("targets") or []:
        if isinstance(x, dict) and "name" in x:
            t.append({"workload": name, "name": x["name"], "value": x.get("value"), "limit": x.get("limit"),
                      "op": x.get("op", "<="), "met": x.get("met")})
    if not t and name == "W3" and res.get("cases"):
        m = res["cases"][0].get("median") or {}
        _target(t, "W3", f"{res['cases'][0].get('case', 'epoch')}: pyautodiff/torch",
                T.ratio(m.get("pyautodiff"), m.get("torch")), 0.5)
    if not t and name == "W4":
        t.append({"workload": "W4", "name": "save/load >= 80% of raw write/read; mmap load <= torch's",
                  "value": None, "limit": None, "op": "", "met": None})
    return t


# ----------------------------------------------------------------------------- printing
def _fmt(v, unit):
    if v is None:
        return "-"
    if unit == "s":
        return T.fmt_time(v)
    if isinstance(v, float):
        return f"{v:.4g} {unit}".strip()
    return f"{v} {unit}".strip()


def table(rows, header):
    w = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w[i]) if i == 0 else str(c).rjust(w[i]) for i, c in enumerate(r))
             for r in [header] + rows]
    lines.insert(1, "  ".join("-" * x for x in w))
    return "\n".join(lines)


def print_cases(res):
    """Medians and ratios of a result following the schema (cases -> median {lib: value})."""
    unit = res.get("unit", "s")
    cases = res.get("cases") or []
    libs = [lib for lib in LIB_ORDER if any(lib in (c.get("median") or {}) for c in cases)]
    libs += sorted({lib for c in cases for lib in (c.get("median") or {})} - set(libs))
    ref = [lib for lib in ("torch", "numpy", "fused") if lib in libs and "pyautodiff" in libs]
    header = ["case"] + libs + [f"pad/{r}" for r in ref]
    rows = []
    for c in cases:
        m = c.get("median") or {}
        u = c.get("unit", unit)
        row = [c.get("case", "?")] + [_fmt(m.get(lib), u) for lib in libs]
        hib = c.get("higher_is_better", res.get("higher_is_better", False))
        for r in ref:
            # ratios always read "pyautodiff time / reference time": for throughputs, invert
            a, b = m.get("pyautodiff"), m.get(r)
            row.append(T.fmt_ratio(T.ratio(b, a) if hib else T.ratio(a, b)))
        rows.append(row)
    print(table(rows, header))


def print_mem(mem):
    r = mem.get("results") or {}
    header = ["library", "RSS after import", "RSS growth", "peak RSS (process)", "peak above input",
              "minor faults/iter", "CPU/iter"]
    rows = []
    for lib in LIB_ORDER:
        d = r.get(lib)
        if not d:
            continue
        rows.append([lib, T.fmt_bytes(d["rss_after_import"]),
                     f"{T.fmt_bytes(d['rss_growth'])} /{d['iters']} it", T.fmt_bytes(d["peak_rss"]),
                     T.fmt_bytes(d.get("workload_peak")), f"{d['minflt_per_iter']:.0f}",
                     T.fmt_time(d["cpu_per_iter"])])
    if rows:
        print(table(rows, header))


def print_targets(targets):
    rows = []
    for t in targets:
        v = t["value"]
        if isinstance(v, float):
            vs = f"{v:.3f}"
        elif isinstance(v, int) and abs(v) >= 1024:
            vs = T.fmt_bytes(v)
        else:
            vs = "-" if v is None else str(v)
        lim = t["limit"]
        ls = T.fmt_bytes(lim) if isinstance(lim, int) and lim >= 1024 else ("" if lim is None else str(lim))
        status = {True: "met", False: "NOT MET", None: "n/a"}[t["met"]]
        rows.append([t["workload"], t["name"], vs, f"{t['op']} {ls}".strip(), status])
    print(table(rows, ["wl", "target", "value", "needs", "status"]))


# ----------------------------------------------------------------------------- plot
def plot(res, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed: no plot"
    w1 = res.get("W1")
    if not w1:
        return "W1 not run: no plot"
    cases = w1["cases"]
    libs = [lib for lib in LIB_ORDER if any(lib in c["median"] for c in cases)]
    labels = {"pyautodiff": "pyautodiff", "torch": "PyTorch eager (1 thread)", "numpy": "hand-written numpy",
              "fused": "hand-fused C loop (floor)"}
    style = {"pyautodiff": "o-", "torch": "s-", "numpy": "^-", "fused": "x--"}
    color = {"pyautodiff": "C0", "torch": "C1", "numpy": "C2", "fused": "C3"}
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    for lib in libs:
        pts = [(c["N"], c["median"][lib]) for c in cases if lib in c["median"]]
        ax.loglog([p[0] for p in pts], [p[1] for p in pts], style.get(lib, "o-"), color=color.get(lib),
                  label=labels.get(lib, lib))
        if lib != "pyautodiff":
            rp = [(c["N"], c["median"]["pyautodiff"] / c["median"][lib]) for c in cases
                  if lib in c["median"] and "pyautodiff" in c["median"]]
            ax2.semilogx([p[0] for p in rp], [p[1] for p in rp], style.get(lib, "o-"), color=color.get(lib),
                         label=f"pyautodiff / {labels.get(lib, lib)}")
    ax.set_xlabel("N (float32 elements)")
    ax.set_ylabel("median CPU time per iteration (s)")
    ax.set_title("W1: y = 3*(x+1)**2; y.mean().backward()")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax2.set_yscale("log")
    ax2.axhline(1.0, color="gray", lw=0.8)
    ax2.plot([1, 1e4], [0.2, 0.2], ":", color="C1", lw=1.5, label="target vs PyTorch (N<=1e4: 0.2, 1e7: 0.15)")
    ax2.plot([1e7], [0.15], "*", color="C1", ms=10)
    ax2.plot([1e6, 1e7], [2, 2], ":", color="C3", lw=1.5, label="target vs fused loop (2x)")
    ax2.set_xlabel("N")
    ax2.set_ylabel("time ratio (lower is better for pyautodiff)")
    ax2.set_title("W1 ratios")
    ax2.grid(True, which="both", alpha=0.3)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


# ----------------------------------------------------------------------------- main
def run_foreign(modname, wl, quick, notes):
    path = os.path.join(_HERE, modname + ".py")
    if not os.path.exists(path):
        notes.append(f"{wl}: bench/{modname}.py not present yet: skipped")
        return None
    try:
        mod = importlib.import_module(modname)
        res = mod.run(quick=quick)
    except Exception as e:
        notes.append(f"{wl}: bench/{modname}.py failed: {type(e).__name__}: {e}\n"
                     + "".join(traceback.format_exc().splitlines(True)[-6:]))
        return None
    if not isinstance(res, dict):
        notes.append(f"{wl}: {modname}.run() returned {type(res).__name__}, not a dict")
        return {"raw": repr(res)[:2000]}
    return res


def git_state():
    """The commit benchmarked, and whether pyautodiff/ or csrc/ differ from it (uncommitted work)."""
    import subprocess
    repo = os.path.dirname(_HERE)
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "pyautodiff", "csrc"], cwd=repo,
                               capture_output=True, text=True, timeout=10).stdout.split("\n")
        dirty = [ln for ln in dirty if ln.strip()]
    except (OSError, subprocess.SubprocessError):
        return None
    if not head:
        return None
    return head + (f" + uncommitted changes in {len(dirty)} file(s) of pyautodiff/ csrc/" if dirty else "")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fast smoke run (< 60 s): fewer samples, shorter memory probe")
    ap.add_argument("--out", default=os.path.join(_HERE, "results"), help="output folder (default bench/results)")
    ap.add_argument("--only", default="W1,W1R,W2,MEM,W3,W4",
                    help="comma-separated subset of W1,W1R,W2,MEM,W3,W4 (W1R: W1 with the loss read)")
    ap.add_argument("--readme", action="store_true",
                    help="also put this run's table into bench/README.md and its plot into bench/latest.png")
    args = ap.parse_args(argv)
    only = {s.strip().upper() for s in args.only.split(",") if s.strip()}
    os.makedirs(args.out, exist_ok=True)
    t_start = time.perf_counter()
    import bench_core as C

    notes = []
    C.import_pyautodiff()  # puts this repository on sys.path when pyautodiff isn't importable otherwise
    res = {"env": ENV_INFO, "machine": T.machine_info(), "quick": args.quick,
           "clock": "time.process_time_ns (process CPU time), medians over interleaved samples",
           "clock_overhead_ns": T.clock_overhead_ns(), "notes": notes, "timings_s": {}}
    if ENV_INFO["openblas_overrides_removed"]:
        notes.append(f"removed {ENV_INFO['openblas_overrides_removed']} from this process's environment (bench only)")
    if only & {"W1", "W1R", "W2", "MEM"}:
        mods = C.load_mods(notes)
        import numpy
        pad = mods["pyautodiff"]
        res["versions"] = {"pyautodiff": getattr(pad, "__version__", "?"), "pyautodiff_path": os.path.dirname(pad.__file__),
                           "git": git_state(),
                           "numpy": numpy.__version__,
                           "torch": mods["torch"].__version__ if mods["torch"] is not None else None}
        res["blas"] = T.blas_info()
        for wl, fn in (("W1", lambda: C.run_w1(mods, quick=args.quick)),
                       ("W1R", lambda: C.run_w1(mods, quick=args.quick, sizes=(1_000_000, 10_000_000),
                                                read_loss=True)),
                       ("W2", lambda: C.run_w2(mods, quick=args.quick)),
                       ("MEM", lambda: C.run_memory([k for k, m in mods.items() if m is not None], quick=args.quick))):
            if wl in only:
                t0 = time.perf_counter()
                print(f"[bench] {wl} ...", file=sys.stderr, flush=True)
                res[wl.replace("W1R", "W1r")] = fn()
                res["timings_s"][wl] = time.perf_counter() - t0
    for wl, modname in (("W3", "bench_training"), ("W4", "bench_serialization")):
        if wl in only:
            t0 = time.perf_counter()
            print(f"[bench] {wl} ...", file=sys.stderr, flush=True)
            r = run_foreign(modname, wl, args.quick, notes)
            if r is not None:
                res[wl] = r
            res["timings_s"][wl] = time.perf_counter() - t0

    targets = core_targets(res)
    for wl in ("W3", "W4"):
        if isinstance(res.get(wl), dict):
            targets += foreign_targets(wl, res[wl])
    res["targets"] = targets

    png = os.path.join(args.out, "bench.png")
    note = plot(res, png) if "W1" in res else "W1 not run: no plot"
    if note:
        notes.append(note)
    res["total_s"] = time.perf_counter() - t_start

    # ---- report
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        report(res, targets, notes, args.quick)
    text = buf.getvalue()
    print(text, end="")
    js = os.path.join(args.out, "results.json")
    with open(js, "w") as f:
        json.dump(res, f, indent=1, default=str)
    print(f"\nwrote {js}" + ("" if note else f" and {png}") + f"  (total {res['total_s']:.0f} s)")
    if args.readme:
        update_readme(text, None if note else png, res)
    return res


def update_readme(text, png, res):
    """Replace README.md's '## Latest results' section with this run's report (+ bench/latest.png)."""
    import shutil
    readme = os.path.join(_HERE, "README.md")
    with open(readme) as f:
        doc = f.read()
    head = doc.split("## Latest results")[0].rstrip() + "\n\n"
    m = res.get("machine", {})
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    img = ""
    if png:
        shutil.copyfile(png, os.path.join(_HERE, "latest.png"))
        img = "\n![W1 time vs N](latest.png)\n"
    doc = (head + "## Latest results\n"
           f"`python bench/run.py --readme` on {when}, {m.get('cpu', '?')}, {m.get('cpus', '?')} CPUs "
           f"(a shared, noisy box: ratios move by ~10% between runs), total {res['total_s']:.0f} s.\n\n"
           "```\n" + text.strip("\n") + "\n```\n" + img)
    with open(readme, "w") as f:
        f.write(doc)
    print(f"updated {readme}" + (" and bench/latest.png" if png else ""))


def report(res, targets, notes, quick):
    print(f"\npyautodiff benchmarks ({'quick' if quick else 'full'} run), single-threaded, libraries "
          f"interleaved.  W1/W2: median process-CPU time per iteration (W3/W4: see their titles).  "
          f"Ratios pad/X = pyautodiff time / X time (< 1: pyautodiff faster)")
    v = res.get("versions")
    if v:
        print(f"versions: pyautodiff {v['pyautodiff']} ({v['pyautodiff_path']}"
              + (f", git {v['git']}" if v.get("git") else "") + f"), numpy {v['numpy']}, torch {v['torch']}")
    for wl in ("W1", "W1r", "W2", "W3", "W4"):
        r = res.get(wl)
        if not r:
            continue
        print(f"\n{wl}: {r.get('title', '')}")
        if r.get("cases"):
            print_cases(r)
            if wl == "W2":
                po = r["cases"][0].get("per_op") or {}
                print("per op (/8): " + ", ".join(f"{k} {T.fmt_time(x)}" for k, x in po.items()))
        else:
            print(json.dumps(r, default=str, indent=1)[:3000])
        for n in r.get("notes") or []:
            print(f"  note: {n}")
    if res.get("MEM"):
        print(f"\nMEM: {res['MEM']['title']}")
        print_mem(res["MEM"])
        for n in res["MEM"].get("notes") or []:
            print(f"  note: {n}")
    print("\nissue 5 targets")
    print_targets(targets)
    for n in notes:
        print(f"note: {n}")


if __name__ == "__main__":
    main()
