"""Shared helpers of the benchmark suite: single-thread setup, interleaved timing, memory probes.

Import this module *before* numpy / torch / pyautodiff and call `setup_env()` first thing: thread
counts of OpenMP / MKL / OpenBLAS are read from the environment when those libraries load.

Clock: `time.process_time_ns` (CLOCK_PROCESS_CPUTIME_ID), not wall time.
  * The box is a shared, noisy 2-core machine: CPU time does not count the time our process sat
    descheduled while something else ran, so medians are far more stable than with perf_counter.
  * Every library runs single-threaded here (see setup_env), so process CPU time == the work done.
    It still counts kernel time spent *for* us: page faults on fresh buffers, mmap/munmap, which
    is a real cost of the workload (PyTorch loses most of W1 at N=1e7 there) and must be included.
  * Its resolution is 1 ns but one read costs a system call (~0.2-1 us here, measured by
    `clock_overhead_ns`).  Tiny workloads are therefore timed in blocks: one sample = one clock
    pair around a block of B iterations, B chosen so that a sample lasts >= `sample_s` (default
    2 ms), which makes the clock's own cost < 0.1 % of a sample.
  * What CPU time misses: time waiting on I/O (W4 uses wall time for that reason; its own module).

Interleaving: the callables are sampled round-robin (A B C, B C A, C A B, ...: the order rotates
each round so that no library always runs right after the same other one), so slow drifts of the
machine (another tenant, thermal state, a CPU-frequency change) hit every library alike.  Medians
are taken per library over the rounds, and ratios are ratios of medians; the median of the paired
per-round ratios is also kept as a drift-proof cross-check.

A callable may carry a `context` attribute (a contextvars.Context): its blocks then run inside
that context (bench_core uses this to give numpy its default allocator back: see there).

Garbage collector: left ON while timing.  A training loop runs with it on, and a library whose
graph makes reference cycles should pay for them here; medians keep rare collections from
dominating.
"""
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS")
# Set on some of this workplace's machines so that old OpenBLAS builds run; they make a current
# numpy pick a slower kernel.  The bench process (only it: never tests or CI) drops both together.
OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

clock_ns = time.process_time_ns
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


# ----------------------------------------------------------------------------- environment
def setup_env(unset_openblas=True):
    """Single-thread every math library and (optionally) drop the OpenBLAS core-type overrides.

    Must run before numpy/torch are imported.  Returns a dict describing what it did (for results).
    Child processes started afterwards inherit the same environment.
    """
    info = {"threads_env": {}, "openblas_overrides_removed": {}}
    for v in THREAD_VARS:
        os.environ[v] = "1"
        info["threads_env"][v] = "1"
    if unset_openblas:
        for v in OPENBLAS_OVERRIDES:
            if v in os.environ:
                info["openblas_overrides_removed"][v] = os.environ.pop(v)
    for mod in ("numpy", "torch"):
        if mod in sys.modules:
            info.setdefault("warnings", []).append(
                f"{mod} was imported before setup_env(): its thread settings may not apply")
    return info


def setup_torch(torch):
    """One intra-op thread and one inter-op thread, like every other library here."""
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # only allowed before any parallel work started; already 1 via env then
        pass


def blas_info():
    """Which BLAS kernel numpy (and torch, if loaded) run, as threadpoolctl reports it."""
    try:
        import threadpoolctl
    except ImportError:
        return "threadpoolctl not installed"
    return [{k: d.get(k) for k in ("internal_api", "architecture", "num_threads", "version", "filepath")}
            for d in threadpoolctl.threadpool_info()]


def machine_info():
    info = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            info["transparent_hugepage"] = f.read().strip()
    except OSError:
        pass
    return info


# ----------------------------------------------------------------------------- timing
def clock_overhead_ns(n=2000):
    """Median cost of one clock read, in ns."""
    c = clock_ns
    xs = []
    for _ in range(n):
        t0 = c()
        t1 = c()
        xs.append(t1 - t0)
    return statistics.median(xs)


def _time_block(fn, block):
    ctx = getattr(fn, "context", None)  # a contextvars.Context to run the block in (see bench_core)
    if ctx is not None:
        return ctx.run(_time_block_raw, fn, block)
    return _time_block_raw(fn, block)


def _time_block_raw(fn, block):
    c = clock_ns
    if block == 1:
        t0 = c()
        fn()
        return c() - t0
    r = range(block)
    t0 = c()
    for _ in r:
        fn()
    return c() - t0


def calibrate(fn, sample_s=0.002, warmup_s=0.05, max_block=1_000_000):
    """Warm `fn` up (>= 3 calls and ~warmup_s), return (block size, seconds per call estimate)."""
    fn()
    fn()
    t = _time_block(fn, 1) / 1e9
    # grow a block until it takes measurable time, to estimate per-call cost of tiny functions
    block = 1
    while t * block < 1e-4 and block < max_block:
        block *= 10
        t = _time_block(fn, block) / 1e9 / block
    spent = t * block  # the calls above were warm-up too
    while spent < warmup_s:
        b = max(1, min(max_block, int(0.01 / max(t, 1e-9))))
        dt = _time_block(fn, b) / 1e9
        spent += dt
        t = min(t, dt / b) if dt > 0 else t
    block = max(1, min(max_block, math.ceil(sample_s / max(t, 1e-9))))
    return block, t


def compare(fns, *, min_samples=5, max_samples=200, budget_s=2.0, sample_s=0.002, warmup_s=0.05):
    """Time several callables interleaved.  fns: {name: zero-argument callable}.

    Runs rounds until every callable has min_samples samples and the budget is spent, or
    max_samples rounds are done.  Returns {name: stats dict} with per-call seconds:
        median, min, q1, q3, n_samples, block, samples (list of per-call seconds)
    plus the key "_paired" -> {(a, b): median of per-round ratios a/b} (as "a/b" strings).
    """
    names = list(fns)
    blocks = {}
    for n in names:
        blocks[n], _ = calibrate(fns[n], sample_s=sample_s, warmup_s=warmup_s)
    samples = {n: [] for n in names}
    t_start = time.perf_counter()
    rnd = 0
    while rnd < max_samples:
        k = rnd % len(names)
        order = names[k:] + names[:k]
        for n in order:
            samples[n].append(_time_block(fns[n], blocks[n]) / 1e9 / blocks[n])
        rnd += 1
        if rnd >= min_samples and time.perf_counter() - t_start >= budget_s:
            break
    out = {}
    for n in names:
        s = samples[n]
        q = statistics.quantiles(s, n=4) if len(s) >= 2 else [s[0]] * 3
        out[n] = {"median": statistics.median(s), "min": min(s), "q1": q[0], "q3": q[2],
                  "n_samples": len(s), "block": blocks[n], "samples": s}
    paired = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            rs = [x / y for x, y in zip(samples[a], samples[b]) if y > 0]
            if rs:
                paired[f"{a}/{b}"] = statistics.median(rs)
    out["_paired"] = paired
    return out


def ratio(a, b):
    """a / b, or None when either is missing."""
    if a is None or b is None or b == 0:
        return None
    return a / b


# ----------------------------------------------------------------------------- memory
def rss_bytes():
    """Current resident set size (from /proc/self/statm)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * PAGE_SIZE
    except OSError:
        return None


def peak_rss_bytes():
    """Peak RSS of this process's memory image so far: VmHWM of /proc/self/status.

    Not getrusage's ru_maxrss: on Linux that one is max'ed with the RSS of the pre-exec image, i.e.
    a subprocess inherits its *parent's* RSS at fork time as a floor (and clear_refs can't lower it).
    ru_maxrss is the fallback where /proc is missing.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak_rss():
    """Reset VmHWM to the current RSS (Linux: write 5 to /proc/self/clear_refs).  True if done."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def minor_faults():
    """Minor page faults of this process so far (a fault = first touch of a fresh page)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def run_child(argv, env=None, timeout=600):
    """Run a Python child process whose last stdout line is JSON; return the parsed object.

    Used so that peak-RSS comparisons are made in one fresh process per library.
    """
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run([sys.executable] + list(argv), capture_output=True, text=True, env=e, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"child {argv} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    return json.loads(lines[-1])


# ----------------------------------------------------------------------------- formatting
def fmt_time(s):
    if s is None:
        return "-"
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.2f} us" if s < 1e-5 else f"{s * 1e6:.1f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms" if s < 1e-2 else f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def fmt_bytes(b):
    if b is None:
        return "-"
    sign = "-" if b < 0 else ""
    b = abs(b)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if b < 1024 or unit == "GiB":
            return f"{sign}{b:.0f} {unit}" if unit == "B" else f"{sign}{b:.1f} {unit}"
        b /= 1024


def fmt_ratio(r):
    return "-" if r is None else f"{r:.3f}"

