#!/usr/bin/env python3
"""Draws the data-parallel benchmark plots from run_parallel_comparison.sh's CSV files:

    plot_parallel.py BANDWIDTH.csv THROUGHPUT.csv OUTPUT_DIR

allreduce_bandwidth.png: bus bandwidth against message size, one line per policy.
dp_throughput.png: samples/s against ranks (PyTorch: threads), one panel per OpenBLAS kernel.
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def bandwidth(path, out):
    rows = list(csv.DictReader(open(path)))
    sizes = [int(r["bytes"]) for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for key, style in [("MPI_Allreduce", "k--"), ("comm::Mpi", "C0-"), ("comm::Ring", "C1-"),
                       ("comm::RecursiveHalving", "C2-")]:
        ax.plot(sizes, [float(r[key]) for r in rows], style, marker="o", label=key)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes)
    ax.set_xticklabels([f"{s // 1024} KiB" if s < 1 << 20 else f"{s >> 20} MiB" for s in sizes])
    ax.set_xlabel("message size (floats, all-reduce sum)")
    ax.set_ylabel("bus bandwidth (GB/s)")
    ax.set_title("All-reduce on 2 ranks (shared memory, Open MPI 4.1)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(f"{out}/allreduce_bandwidth.png", dpi=120)


def throughput(path, out):
    data = {}
    for coretype, name, rate in csv.reader(open(path)):
        data.setdefault(coretype, {})[name] = float(rate)
    fig, axes = plt.subplots(1, len(data), figsize=(5.5 * len(data), 4.2), squeeze=False)
    for ax, (coretype, rates) in zip(axes[0], sorted(data.items())):
        for comm, color in [("mpi", "C0"), ("ring", "C1"), ("halving", "C2")]:
            ys = [rates.get(f"DataParallel<{comm}>, 1 rank"),
                  rates.get(f"DataParallel<{comm}>, 2 ranks, overlap")]
            ax.plot([1, 2], ys, color=color, marker="o", label=f"loom DataParallel<{comm}>")
        ax.plot([1, 2], [rates.get("PyTorch, 1 thread"), rates.get("PyTorch, 2 threads")], "k--",
                marker="s", label="PyTorch (threads)")
        single = rates.get("SingleProcess, 1 rank")
        ax.plot([1], [single], "C3*", markersize=12, label="loom SingleProcess")
        ideal = rates.get("DataParallel<ring>, 1 rank")
        ax.plot([1, 2], [ideal, 2 * ideal], ":", color="gray", label="linear scaling")
        ax.set_xticks([1, 2])
        ax.set_xlabel("ranks (PyTorch: threads)")
        ax.set_ylabel("samples/s")
        ax.set_ylim(bottom=0)
        ax.set_title(f"MLP 784-512-512-10, global batch 256, {coretype}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(f"{out}/dp_throughput.png", dpi=120)


if __name__ == "__main__":
    bandwidth(sys.argv[1], sys.argv[3])
    throughput(sys.argv[2], sys.argv[3])
