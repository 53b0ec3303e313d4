"""Where pyautodiff's time goes on W1 / W2 (a diagnostic, not part of run.py).

    python bench/profile_core.py [small|large|cprofile|all]

small     per-op cost of W2 / W1 N=1 through the public API, then one op (`x + 1`, `x * 3`, `x ** 2`
          on a 0-d float32 leaf) peeled layer by layer: Tensor.__add__ -> ops.add -> Node.apply ->
          forward -> kernel, np.empty, wrap, link; and backward: engine overhead vs node.backward.
large     W1 at N = 1e6 / 1e7 stage by stage (each forward op, mean, backward): CPU time, minor page
          faults, and time expressed in "passes" (one pass = reading N floats and writing N floats
          into a warm buffer, np.add(x, 1, out=buf)).
cprofile  cProfile of W2 (Python-level functions only: Cython code shows up in its caller's time).

Layer timings call pyautodiff internals directly; where those moved, the line says n/a.
"""
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
import _timing as T  # noqa: E402

T.setup_env()

import numpy as np  # noqa: E402

import bench_core as C  # noqa: E402

pad, _note = C.import_pyautodiff()


def per_call(fn, target_s=0.2):
    """Median seconds per call of fn (blocks of calls, several samples)."""
    r = T.compare({"f": fn}, min_samples=7, budget_s=target_s, sample_s=0.005, warmup_s=0.02)
    return r["f"]["median"]


def group(fns, budget_s=3.0):
    """Median seconds per call of each of fns ({label: fn}), all interleaved (comparable on a busy box)."""
    r = T.compare(fns, min_samples=15, budget_s=budget_s, sample_s=0.003, warmup_s=0.02)
    return {k: r[k]["median"] for k in fns}


def line(label, s, ref=None):
    extra = f"   {100 * s / ref:5.1f}%" if ref else ""
    print(f"  {label:<58} {T.fmt_time(s):>10}{extra}")


# ----------------------------------------------------------------------------- small
def small():
    print("== W2 / W1 N=1: public-API costs (median CPU time per call, interleaved)")
    x = pad.tensor(2.0, requires_grad=True)
    w2_step, _ = C.make_w2("pyautodiff", pad)

    def fwd():
        return 4 * (x + 1) ** 2 + 3

    def fwd_nograd():
        with pad.no_grad():
            return 4 * (x + 1) ** 2 + 3
    a = x + 1
    p = a ** 2
    q = 4 * p
    xnp = np.random.default_rng(0).random(1, dtype=np.float32)
    w1_step, _ = C.make_w1("pyautodiff", pad, xnp)
    xx = pad.tensor(xnp, requires_grad=True)
    yy = 3 * (xx + 1) ** 2
    r = group({"w2": w2_step, "fwd": fwd, "fwd_ng": fwd_nograd, "add": lambda: x + 1, "pow": lambda: a ** 2,
               "rmul": lambda: 4 * p, "add3": lambda: q + 3, "addf": lambda: x + 1.0, "mulf": lambda: x * 4.0,
               "w1": w1_step, "w1f": lambda: 3 * (xx + 1) ** 2, "w1m": lambda: yy.mean()}, 6.0)
    w2 = r["w2"]
    line("W2 step: x.grad=None; y = 4*(x+1)**2+3; y.backward()", w2, w2)
    line("  forward (graph recorded)", r["fwd"], w2)
    line("  => backward + x.grad=None (difference)", w2 - r["fwd"], w2)
    line("  forward under no_grad (no graph; includes the context manager)", r["fwd_ng"], w2)
    line("  x + 1", r["add"], w2)
    line("  a ** 2", r["pow"], w2)
    line("  4 * p", r["rmul"], w2)
    line("  q + 3", r["add3"], w2)
    line("  x + 1.0  (float scalar)", r["addf"], w2)
    line("  x * 4.0  (float scalar)", r["mulf"], w2)
    w1 = r["w1"]
    line("W1 N=1 step", w1, w1)
    line("  3 * (x + 1) ** 2  (forward)", r["w1f"], w1)
    line("  y.mean()", r["w1m"], w1)
    line("  => backward + x.grad=None (difference)", w1 - r["w1f"] - r["w1m"], w1)

    print("\n== one op peeled: `x + 1` on a 0-d float32 leaf that requires grad (interleaved)")
    ops = sys.modules.get("pyautodiff.ops.elementwise")
    K = getattr(ops, "K", None)
    try:
        dt = x._data.dtype
        Add = ops.AddBackward0
        xd = pad.tensor(2.0)
        node = Add.__new__(Add)
        arr = x._data
        out = np.empty((), dt)
        G = sys.modules.get("pyautodiff._graph")
        fns = {
            "Tensor.__add__(x, 1)  (whole op)": lambda: x + 1,
            "ops.elementwise.add(x, 1)": lambda: ops.add(x, 1),
            "AddBackward0.apply(x, 1, dtype)  (no dtype dispatch)": lambda: Add.apply(x, 1, dt),
            "AddBackward0.apply(x, 1.0, dtype)": lambda: Add.apply(x, 1.0, dt),
            "AddBackward0.apply(no-grad leaf, 1, dtype)  (no link)": lambda: Add.apply(xd, 1, dt),
            "AddBackward0.forward(ndarray, 1, dtype)": lambda: node.forward(arr, 1, dt),
            "np.empty((), float32)": lambda: np.empty((), dt),
            "Add.__new__(Add)  (node object)": lambda: Add.__new__(Add),
            "numpy floor: 0-d array + 1": lambda: arr + 1,
            "empty lambda (measurement floor)": lambda: None,
        }
        if K is not None:
            fns["K.add_scalar(ndarray, 1, out)  (kernel alone)"] = lambda: K.add_scalar(arr, 1, out)
        if G is not None and hasattr(G, "wrap"):
            fns["_graph.wrap(Tensor, ndarray)  (result tensor)"] = lambda: G.wrap(pad.Tensor, out)
        r = group(fns, 6.0)
        tot = r["Tensor.__add__(x, 1)  (whole op)"]
        for k, v in r.items():
            line(k, v, tot)
    except Exception as e:  # internals moved
        print(f"  n/a ({type(e).__name__}: {e})")

    print("\n== backward of W2 peeled (node.backward called directly on a retained graph)")
    peel_backward(fwd, w2_step)
    print("\n== backward of W1 N=1 peeled")
    peel_backward(lambda: (3 * (xx + 1) ** 2).mean(), w1_step)


def peel_backward(fwd, step):
    """Time each node.backward of the (chain) graph fwd() builds, with the gradient it really gets,
    against the whole step and the forward: the rest is the engine's own overhead."""
    try:
        y = fwd()
        fns = {}
        n = y.grad_fn
        g = np.ones(y._data.shape, y._data.dtype)
        i = 0
        while n is not None and type(n).__name__ != "AccumulateGrad":
            res = n.backward(g)
            fns[f"{i}: {type(n).__name__}.backward(g)"] = (lambda n=n, g=g: n.backward(g))
            g0 = res[0] if isinstance(res, tuple) else res
            # the engine fits each gradient to its input (broadcast -> sum_to, dtype)
            nxt = [e[0] for e in n.next_functions if e[0] is not None]
            n = nxt[0] if nxt else None
            g = np.asarray(g0)
            i += 1
        fns["step"] = step
        fns["fwd"] = fwd
        leaf = n.variable if n is not None and hasattr(n, "variable") else None

        def bw_retained():
            if leaf is not None:
                leaf.grad = None
            y.backward(retain_graph=True)
        fns["bw"] = bw_retained
        r = group(fns, 4.0)
        st, f, bw = r.pop("step"), r.pop("fwd"), r.pop("bw")
        sumb = 0.0
        line("whole step", st, st)
        line("forward (graph recorded)", f, st)
        for k, v in r.items():
            sumb += v
            line(k, v, st)
        line("sum of node.backward calls", sumb, st)
        line("y.backward(retain_graph=True) on a built graph (+ x.grad=None)", bw, st)
        line("=> engine walk + AccumulateGrad + root grad (bw - sum of nodes)", bw - sumb, st)
        line("=> rest: graph teardown/freeing, step overhead (step - fwd - bw)", st - f - bw, st)
    except Exception as e:
        print(f"  n/a ({type(e).__name__}: {e})")


# ----------------------------------------------------------------------------- large
def large(sizes=(10_000, 1_000_000, 10_000_000)):
    import time
    for n in sizes:
        print(f"\n== W1 N={n:g}: stage by stage (CPU time per iteration, minor faults per iteration)")
        xnp = np.random.default_rng(0).random(n, dtype=np.float32)
        buf = np.empty_like(xnp)
        np.add(xnp, 1, out=buf)
        one_pass = per_call(lambda: np.add(xnp, 1, out=buf), 0.3)
        rd = per_call(lambda: np.add.reduce(xnp), 0.3)
        print(f"  unit: one read+write pass np.add(x, 1, out=warm) = {T.fmt_time(one_pass)} "
              f"({2 * 4 * n / one_pass / 1e9:.1f} GB/s); read-only pass (sum) = {T.fmt_time(rd)}")
        fresh = per_call(lambda: np.add(xnp, 1), 0.3)
        print(f"  np.add(x, 1) into a fresh numpy array = {T.fmt_time(fresh)}")
        x = pad.tensor(xnp, requires_grad=True)
        iters = 2000 if n <= 10_000 else (30 if n < 10_000_000 else 10)

        info = getattr(sys.modules.get("pyautodiff._C"), "buffer_cache_info", None)

        def allocs():
            if info is None:
                return 0
            d = info()
            return d["hits"] + d["misses"]

        def measure(fn):
            fn()
            fn()
            f0 = T.minor_faults()
            a0 = allocs()
            c0 = time.process_time()
            for _ in range(iters):
                fn()
            t = (time.process_time() - c0) / iters
            return t, (T.minor_faults() - f0) / iters, (allocs() - a0) / iters

        def st_step():
            x.grad = None
            y = 3 * (x + 1) ** 2
            y.mean().backward()
        total, tf, ta = measure(st_step)
        print(f"  {'stage':<40} {'time':>10} {'passes':>7} {'faults':>8} {'big allocs':>10}")

        def row(label, t, fl, al):
            print(f"  {label:<40} {T.fmt_time(t):>10} {t / one_pass:7.2f} {fl:8.0f} {al:10.1f}")
        row("whole W1 step", total, tf, ta)
        a = x + 1
        p = a ** 2
        y = 3 * p

        def tag(t):  # a deferred (fused) result only records the op: its cost shows where it is consumed
            d = object.__getattribute__(t, "_data") if hasattr(t, "_data") else None
            return "" if isinstance(d, np.ndarray) else f"  [{type(d).__name__}]"
        row("x + 1" + tag(a), *measure(lambda: x + 1))
        row("a ** 2" + tag(p), *measure(lambda: a ** 2))
        row("3 * p" + tag(y), *measure(lambda: 3 * p))
        row("y.mean()", *measure(lambda: y.mean()))
        del a, p, y

        def fwd():
            return (3 * (x + 1) ** 2).mean()
        ft, ff, fa = measure(fwd)
        row("forward total (graph recorded)", ft, ff, fa)

        def fb():
            x.grad = None
            fwd().backward()
        bt, bf, ba = measure(fb)
        row("=> backward incl. AccumulateGrad (diff)", bt - ft, bf - ff, ba - fa)
        try:
            m = fwd()
            nodes = []
            stack = [m.grad_fn]
            while stack:
                nd = stack.pop()
                if nd is None or nd in nodes:
                    continue
                nodes.append(nd)
                stack += [e[0] for e in nd.next_functions]
            g = np.ones((), np.float32)
            for nd in nodes:
                if type(nd).__name__ == "AccumulateGrad":
                    continue
                res = nd.backward(g)
                r0 = res[0] if isinstance(res, tuple) else res
                kind = "broadcast view" if isinstance(r0, np.ndarray) and r0.strides == (0,) * r0.ndim and r0.ndim else \
                    ("fresh array" if isinstance(r0, np.ndarray) and r0.base is None and r0.ndim else
                     type(r0).__name__)
                row(f"  {type(nd).__name__}.backward -> {kind}", *measure(lambda nd=nd, g=g: nd.backward(g)))
                g = r0
        except Exception as e:
            print(f"  node-level split n/a ({type(e).__name__}: {e})")
        print(f"  floor: read x once + write grad once = ~{T.fmt_time(one_pass)}"
              + ("" if info else "  (big allocs: n/a, no buffer_cache_info)")
              + ("  (big allocs = numpy buffers >= the cache's min block)" if info else ""))


def cprof():
    import cProfile
    import io
    import pstats
    step, _ = C.make_w2("pyautodiff", pad)
    for _ in range(2000):
        step()
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(20000):
        step()
    pr.disable()
    s = io.StringIO()
    pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(20)
    print(s.getvalue())


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    if what in ("small", "all"):
        small()
    if what in ("large", "all"):
        large()
    if what in ("cprofile",):
        cprof()
