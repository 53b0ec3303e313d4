"""W4: save / load a ~100 MB state dict (four 2500x2500 float32 weights plus biases), page cache.

    python bench/bench_serialization.py [--quick]

Compared, interleaved (one sample of each per round, the order rotating each round), wall time
(this is I/O: CPU time would miss the time the kernel spends for us), medians over the rounds:
  * save, page cache (nobody fsyncs): pyautodiff.save (its fsync switched off for this row),
    torch.save, numpy (np.savez of the same arrays), raw (the arrays' bytes written to a file);
  * save, durable: pyautodiff.save as shipped (temporary file, fsync, rename, fsync of the folder)
    against raw bytes written the same way (temporary file, fsync, rename, folder fsync);
  * load: pyautodiff.load, torch.load, numpy (np.load of the .npz, every array read), raw (the file
    read into one fresh numpy buffer);
  * mmap load: pyautodiff.load(mmap=True) and torch.load(mmap=True), in seconds.
Every save writes a fresh file (the previous one is removed outside the timed region).  Throughputs are
payload bytes (the tensors' bytes) per second; ratios are ratios of medians, and the median of the
per-round ratios is kept as a cross-check against drift.  `run(quick=False) -> dict` follows the bench
suite's result schema (see bench/README.md).
"""
import os
import shutil
import sys
import tempfile
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

try:
    import _timing as T
except ImportError:  # pragma: no cover - the module is meant to live in bench/
    T = None

if __name__ == "__main__" and T is not None:
    T.setup_env()

import statistics  # noqa: E402

SHAPES = [(2500, 2500)] * 4 + [(2500,)] * 4


def _median(xs):
    return statistics.median(xs) if xs else None


def _import_torch(notes):
    try:
        import torch
    except Exception as e:  # not installed: its columns are skipped
        notes.append(f"torch not importable ({type(e).__name__}): its columns are skipped")
        return None
    if T is not None:
        T.setup_torch(torch)
    return torch


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _fsync_dir(d):
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def run(quick=False):
    import numpy as np
    import pyautodiff as pad
    from pyautodiff import serialization

    notes = []
    torch = _import_torch(notes)
    rng = np.random.default_rng(0)
    arrays = {}
    for i, shape in enumerate(SHAPES):
        arrays[("weight" if len(shape) == 2 else "bias") + str(i % 4)] = rng.standard_normal(shape, dtype=np.float32)
    nbytes = sum(a.nbytes for a in arrays.values())
    sd = {k: pad.from_numpy(a) for k, a in arrays.items()}
    tsd = {k: torch.from_numpy(a) for k, a in arrays.items()} if torch is not None else None

    tmp = tempfile.mkdtemp(prefix="pad_bench_ser_", dir=os.environ.get("PAD_BENCH_TMP"))
    P = {k: os.path.join(tmp, k) for k in ("raw", "raw_durable", "pad", "pad_durable", "torch", "numpy.npz")}

    # -- the measured operations (each returns nothing; files are left for the loads)
    def raw_write():
        with open(P["raw"], "wb") as f:
            for a in arrays.values():
                f.write(memoryview(a).cast("B"))

    def raw_write_durable():
        t = P["raw_durable"] + ".tmp"
        with open(t, "wb") as f:
            for a in arrays.values():
                f.write(memoryview(a).cast("B"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(t, P["raw_durable"])
        _fsync_dir(tmp)

    def pad_save():
        serialization._FSYNC = False
        try:
            pad.save(sd, P["pad"])
        finally:
            serialization._FSYNC = True

    def pad_save_durable():
        pad.save(sd, P["pad_durable"])

    def torch_save():
        torch.save(tsd, P["torch"])

    def numpy_save():
        np.savez(P["numpy.npz"], **arrays)

    def raw_read():
        buf = np.empty(os.path.getsize(P["raw"]), dtype=np.uint8)
        with open(P["raw"], "rb") as f:
            f.readinto(memoryview(buf))
        return buf

    def pad_load():
        return pad.load(P["pad"])

    def torch_load():
        return torch.load(P["torch"])

    def numpy_load():
        with np.load(P["numpy.npz"]) as z:
            return {k: z[k] for k in z.files}

    def pad_mmap():
        return pad.load(P["pad"], mmap=True)

    def torch_mmap():
        return torch.load(P["torch"], mmap=True)

    saves = {"raw": (raw_write, P["raw"]), "pyautodiff": (pad_save, P["pad"]), "numpy": (numpy_save, P["numpy.npz"])}
    durable = {"raw": (raw_write_durable, P["raw_durable"]), "pyautodiff": (pad_save_durable, P["pad_durable"])}
    loads = {"raw": raw_read, "pyautodiff": pad_load, "numpy": numpy_load}
    mmaps = {"pyautodiff": pad_mmap}
    if torch is not None:
        saves["torch"] = (torch_save, P["torch"])
        loads["torch"] = torch_load
        mmaps["torch"] = torch_mmap

    samples = {c: {k: [] for k in d} for c, d in (("save", saves), ("save_durable", durable), ("load", loads),
                                                  ("mmap", mmaps))}

    def timed(fn):
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
        del out
        return dt

    rounds = 4 if quick else 9
    budget = 25.0 if quick else 50.0
    t_start = time.perf_counter()
    try:
        # check once that every library reads back what it wrote
        for name, (fn, path) in list(saves.items()) + list(durable.items()):
            fn()
        back = pad.load(P["pad"])
        assert all(np.array_equal(back[k].numpy(), arrays[k]) for k in arrays)
        assert all(np.array_equal(pad.load(P["pad"], mmap=True)[k].numpy(), arrays[k]) for k in arrays)
        del back
        r = 0
        while r < rounds + 1 and (r < 3 or time.perf_counter() - t_start < budget):
            warm = r == 0
            for case, fns in (("save", saves), ("save_durable", durable)):
                names = list(fns)
                names = names[r % len(names):] + names[:r % len(names)]
                for name in names:
                    fn, path = fns[name]
                    _remove(path)
                    dt = timed(fn)
                    if not warm:
                        samples[case][name].append(dt)
            for case, fns in (("load", loads), ("mmap", mmaps)):
                names = list(fns)
                names = names[r % len(names):] + names[:r % len(names)]
                for name in names:
                    dt = timed(fns[name])
                    if not warm:
                        samples[case][name].append(dt)
            r += 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def gbps(xs):
        return [nbytes / x / 1e9 for x in xs]

    def paired(case, a, b, invert):
        xs, ys = samples[case].get(a) or [], samples[case].get(b) or []
        rs = [(y / x if invert else x / y) for x, y in zip(xs, ys)]
        return _median(rs)

    cases = []
    titles = {"save": "save, page cache", "save_durable": "save, durable (fsync + rename)", "load": "load"}
    for case in ("save", "save_durable", "load"):
        med = {k: _median(gbps(v)) for k, v in samples[case].items() if v}
        cases.append({"case": titles[case], "unit": "GB/s", "higher_is_better": True, "median": med,
                      "samples_s": samples[case], "payload_bytes": nbytes})
    mm = {k: _median(v) for k, v in samples["mmap"].items() if v}
    cases.append({"case": "load, mmap=True", "unit": "s", "higher_is_better": False, "median": mm,
                  "samples_s": samples["mmap"]})

    def rat(a, b):
        return None if a is None or b is None or b == 0 else a / b

    c_save, c_dur, c_load = cases[0]["median"], cases[1]["median"], cases[2]["median"]
    targets = []

    def target(name, value, limit, op, cross=None):
        met = None if value is None else (value >= limit if op == ">=" else value <= limit)
        targets.append({"name": name, "value": value, "limit": limit, "op": op, "met": met,
                        "paired_ratio": cross})

    target("save (page cache): pyautodiff / raw write throughput", rat(c_save.get("pyautodiff"), c_save.get("raw")),
           0.8, ">=", paired("save", "raw", "pyautodiff", False))
    target("save (fsync + rename, as shipped): pyautodiff / raw write with the same durability",
           rat(c_dur.get("pyautodiff"), c_dur.get("raw")), 0.8, ">=", paired("save_durable", "raw", "pyautodiff", False))
    target("load: pyautodiff / raw read throughput", rat(c_load.get("pyautodiff"), c_load.get("raw")), 0.8, ">=",
           paired("load", "raw", "pyautodiff", False))
    if "torch" in mm:
        target("load mmap=True: pyautodiff time / torch time", rat(mm.get("pyautodiff"), mm.get("torch")), 1.0, "<=",
               paired("mmap", "pyautodiff", "torch", False))
    if torch is not None:
        notes.append("for reference, torch / raw: save %.2f, load %.2f" % (
            rat(c_save.get("torch"), c_save.get("raw")) or float("nan"),
            rat(c_load.get("torch"), c_load.get("raw")) or float("nan")))
    crc = "libdeflate" if serialization._fast_crc_fn() is not None else "zlib"
    notes.append(f"CRC-32 of every record computed with {crc}; {len(samples['load']['pyautodiff'])} rounds; "
                 f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at the end")
    return {"workload": "W4", "title": f"save / load a {nbytes / 1e6:.0f} MB state dict (page cache), wall time",
            "unit": "GB/s", "higher_is_better": True, "cases": cases, "targets": targets, "notes": notes}


def _print(res):
    print(res["title"])
    for c in res["cases"]:
        unit = c["unit"]
        row = "  ".join(f"{k} {v * 1000:.2f} ms" if unit == "s" else f"{k} {v:.2f} {unit}"
                        for k, v in c["median"].items())
        print(f"  {c['case']:32s} {row}")
    for t in res["targets"]:
        v = "-" if t["value"] is None else f"{t['value']:.3f}"
        cross = "" if t.get("paired_ratio") is None else f" (paired {t['paired_ratio']:.3f})"
        print(f"  {'met' if t['met'] else 'NOT MET':8s} {t['name']}: {v}{cross} {t['op']} {t['limit']}")
    for n in res["notes"]:
        print("  note:", n)


if __name__ == "__main__":
    t0 = time.perf_counter()
    out = run(quick="--quick" in sys.argv)
    _print(out)
    print(f"  ({time.perf_counter() - t0:.1f} s)")
