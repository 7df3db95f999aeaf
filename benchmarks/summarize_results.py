#!/usr/bin/python3
"""Markdown tables from the raw results of run_mlp_comparison.sh and run_parallel_comparison.sh.

    summarize_results.py throughput <stamp>.raw [threads]
    summarize_results.py gbench <results dir> <stamp> <coretype>...
    summarize_results.py bandwidth [--median-csv <out.csv>] <run.csv>...

throughput: one table per clock (wall, process CPU time) of loom, PyTorch and the GEMM-only
ceiling, medians over repetitions, with loom/ceiling and loom/pytorch as medians of
per-repetition ratios. gbench: the Google Benchmark JSON files of a run, one column per
OPENBLAS_CORETYPE, the GEMMs pivoted to one row per shape. bandwidth: the all-reduce bus
bandwidth of allreduce_bandwidth's CSV files (one per run; a file of medians works too), the
median of each cell over the files, and the best of loom's policies (every column other than
MPI_Allreduce, comm::Mpi included) against MPI_Allreduce, naming the policy.
"""

import csv
import json
import re
import statistics
import sys


def throughput(raw, threads="1"):
    runs = {"wall": {}, "cpu": {}}  # clock -> (coretype, batch) -> {what: {rep: samples/s}}
    loads = []
    pattern = re.compile(r"coretype=(\S+) rep=(\d+) load=(\S+) (\w+) batch=(\d+) "
                         r"samples_per_s=(\S+) samples_per_cpu_s=(\S+)")
    for line in open(raw):
        m = pattern.match(line)
        if not m:
            continue
        coretype, rep, load, what, batch, wall, cpu = m.groups()
        loads.append(float(load))
        for clock, rate in (("wall", wall), ("cpu", cpu)):
            key = (coretype, int(batch))
            runs[clock].setdefault(key, {}).setdefault(what, {})[rep] = float(rate)
    if not loads:
        return
    reps = max(len(v) for d in runs["wall"].values() for v in d.values())
    titles = {"wall": "wall-clock time",
              "cpu": "process CPU time (less sensitive to other load)"}

    def paired(d, a, b):
        """Median over repetitions of a/b, each pair measured next to each other in time."""
        ratios = [d[a][r] / d[b][r] for r in d.get(a, {}) if r in d.get(b, {})]
        return statistics.median(ratios) if ratios else None

    for clock in ("wall", "cpu"):
        print(f"## Training throughput, samples/s by {titles[clock]} (median of {reps} runs, "
              f"{threads} thread)\n")
        print("| coretype | batch | loom | pytorch | GEMM-only ceiling | loom/ceiling "
              "| loom/pytorch | loom min–max | pytorch min–max |")
        print("|---|---:|---:|---:|---:|---:|---:|---|---|")
        for (coretype, batch), d in runs[clock].items():
            med = {k: statistics.median(v.values()) for k, v in d.items()}

            def fmt(v):
                return f"{v:.0f}" if v else "–"

            def spread(k):
                return f"{min(d[k].values()):.0f}–{max(d[k].values()):.0f}" if k in d else "–"

            to_ceiling = paired(d, "loom", "ceiling")
            to_torch = paired(d, "loom", "pytorch")
            print(f"| {coretype} | {batch} | {fmt(med.get('loom'))} | {fmt(med.get('pytorch'))} "
                  f"| {fmt(med.get('ceiling'))} | "
                  + (f"{100 * to_ceiling:.1f} %" if to_ceiling else "–") + " | "
                  + (f"{to_torch:.2f}" if to_torch else "–")
                  + f" | {spread('loom')} | {spread('pytorch')} |")
        print()
    print("loom/ceiling and loom/pytorch are medians of per-repetition ratios: loom and the "
          "ceiling take turns epoch by epoch in one process, and PyTorch runs right after it.\n")
    print(f"Load average (1 min) when the runs started: {min(loads):.2f}–{max(loads):.2f}"
          + (" — NOISY: other work was running; prefer the CPU-time table or rerun on a quiet "
             "machine" if max(loads) > 1.5 else ""))
    print()


def si(x):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.1f}{unit}"
    return f"{x:.1f}"


def gbench(results, stamp, *coretypes):
    other = {}  # name -> coretype -> text
    gemm = {}  # (gemm, batch) -> (coretype, impl) -> GFLOP/s
    for coretype in coretypes:
        for b in ("layers_dense", "loss_softmax_cross_entropy", "optim_optimizers",
                  "kernels_gemm"):
            data = json.load(open(f"{results}/{stamp}.{coretype}.{b}.json"))
            rows = data["benchmarks"]
            # With --benchmark_repetitions, take the median aggregate of each benchmark.
            medians = [r for r in rows if r.get("aggregate_name") == "median"]
            for r in medians or rows:
                if medians:
                    r = dict(r, name=r["run_name"])
                m = re.match(r"(dispatch|tiled|sgemm)/(\w+?)_(\d+x\d+x\d+)/batch:(\d+)", r["name"])
                if m:
                    impl, name, shape, batch = m.groups()
                    key = (f"{name} {shape.replace('x', '×')}", int(batch))
                    gemm.setdefault(key, {})[(coretype, impl)] = r["FLOP/s"] / 1e9
                    continue
                parts = [f"{r['cpu_time']:.1f} µs"]
                if "FLOP/s" in r:
                    parts.append(si(r["FLOP/s"]) + "FLOP/s")
                if "bytes_per_second" in r:
                    parts.append(si(r["bytes_per_second"]) + "B/s")
                if "items_per_second" in r:
                    parts.append(si(r["items_per_second"]) + " items/s")
                other.setdefault(r["name"], {})[coretype] = ", ".join(parts)
    print("## Google Benchmark (CPU time per iteration and rates; median of the repetitions)\n")
    print("| benchmark | " + " | ".join(f"OPENBLAS_CORETYPE={c}" for c in coretypes) + " |")
    print("|---|" + "---|" * len(coretypes))
    for name, by in other.items():
        print(f"| {name} | " + " | ".join(by.get(c, "–") for c in coretypes) + " |")
    print()
    if gemm:
        impls = ("dispatch", "sgemm", "tiled")
        print("GEMM in GFLOP/s, m×n×k (dispatch = loom::kernels::gemm, sgemm = sgemm_ called "
              "directly, tiled = loom::kernels::detail::gemm_tiled):\n")
        print("| GEMM | batch | " + " | ".join(f"{i} {c}" for c in coretypes for i in impls) + " |")
        print("|---|---:|" + "---:|" * (len(impls) * len(coretypes)))
        for (name, batch), by in gemm.items():
            print(f"| {name} | {batch} | "
                  + " | ".join(f"{by[(c, i)]:.1f}" if (c, i) in by else "–"
                               for c in coretypes for i in impls) + " |")
        print()


def bandwidth(*args):
    args = list(args)
    median_csv = None
    if args[:1] == ["--median-csv"]:
        median_csv, args = args[1], args[2:]
    if not args:
        sys.exit(__doc__)
    columns, cells = None, {}  # bytes -> column -> [GB/s, one per run]
    for path in args:
        with open(path) as f:
            reader = csv.DictReader(f)
            if columns is None:
                columns = [c for c in reader.fieldnames if c != "bytes"]
            for row in reader:
                for c in columns:
                    cells.setdefault(int(row["bytes"]), {}).setdefault(c, []).append(float(row[c]))
    policies = [c for c in columns if c != "MPI_Allreduce"]
    out = open(median_csv, "w") if median_csv else None
    if out:
        out.write("bytes," + ",".join(columns) + "\n")
    print("| bytes | " + " | ".join(columns) + " | best loom policy | best / MPI_Allreduce |")
    print("|---:|" + "---:|" * len(columns) + "---|---:|")
    for size in sorted(cells):
        med = {c: statistics.median(cells[size][c]) for c in columns}
        best = max(med[p] for p in policies)
        names = ", ".join(p.removeprefix("comm::") for p in policies if med[p] == best)
        print(f"| {size} | " + " | ".join(f"{med[c]:.2f}" for c in columns)
              + f" | {names} | {best / med['MPI_Allreduce']:.2f} |")
        if out:
            out.write(f"{size}," + ",".join(str(med[c]) for c in columns) + "\n")
    if out:
        out.close()
    print()


if __name__ == "__main__":
    commands = {"throughput": throughput, "gbench": gbench, "bandwidth": bandwidth}
    if len(sys.argv) < 3 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])
