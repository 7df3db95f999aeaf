#!/usr/bin/env python3
"""Draws docs/img/local_sgd.png from run_local_sgd_comparison.sh's metrics logs:

    plot_local_sgd.py LOG_DIR OUTPUT.png

Test accuracy after each epoch against training seconds (validation excluded) and against the
bytes each rank all-reduced (before compression), for every strategy and rank count, and a
table of each run's time to 88 % on stdout. The bytes follow from each strategy's rules:
DataParallel all-reduces the gradients every step; LocalSGD and ElasticAveraging the
parameters every period and at each epoch's end, with SGD's momentum at the epoch's end; the
parameter server (its server rank) receives every batch's gradients and sends parameters back.
"""
import json
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PARAMETERS = 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10  # example 02's MLP
STEPS_PER_EPOCH = 938  # 60000 samples in batches of 64
BUFFER = PARAMETERS * 4


def bytes_per_epoch(name, epochs):
    period = int(re.search(r"period(\d+)", name).group(1)) if "period" in name else 1
    warmup = int(re.search(r"warmup(\d+)", name).group(1)) if "warmup" in name else 0
    out = []
    for e in range(epochs):
        total = 0
        for s in range(e * STEPS_PER_EPOCH, (e + 1) * STEPS_PER_EPOCH):
            last = s == (e + 1) * STEPS_PER_EPOCH - 1
            if "server" in name:
                total += 2 * BUFFER  # gradients in, parameters out
            elif name.endswith("data") or s < warmup:
                total += BUFFER
            elif last:
                total += 2 * BUFFER  # parameters and momentum, exactly
            elif (s + 1 - warmup) % period == 0:
                total += BUFFER
        out.append(total)
    return out


def label(name):
    ranks, rest = name.split("_", 1)
    rest = rest.replace("postlocal_period16_warmup938", "post-local SGD (1 epoch), H=16")
    rest = rest.replace("data", "DataParallel").replace("local_period", "LocalSGD H=")
    rest = rest.replace("elastic_period", "EASGD τ=")
    rest = rest.replace("server_staleness", "ParameterServer 1+3, S=")
    return f"{rest}, {ranks[2:]} ranks"


def main(logs, out):
    runs = {}
    for file in sorted(os.listdir(logs)):
        if file.endswith(".jsonl"):
            rows = [json.loads(line) for line in open(os.path.join(logs, file))]
            runs[file[:-6]] = [r for r in rows if "val_accuracy" in r]
    fig, (by_time, by_bytes) = plt.subplots(1, 2, figsize=(12, 4.6), sharey=True)
    colours = {}
    print("| run | time to 88 % (s) | MiB to 88 % | final accuracy | MiB in all |")
    print("|---|---|---|---|---|")
    for name, rows in runs.items():
        seconds, mib, elapsed, sent = [], [], 0.0, 0.0
        for row, b in zip(rows, bytes_per_epoch(name, len(rows))):
            elapsed += row["seconds"]
            sent += b / 2**20
            seconds.append(elapsed)
            mib.append(sent)
        accuracy = [r["val_accuracy"] for r in rows]
        style = "-" if name.startswith("np2") else "--"
        strategy = name.split("_", 1)[1]  # one colour per strategy, whatever the ranks
        colour = colours.setdefault(strategy, f"C{len(colours) % 10}")
        by_time.plot(seconds, accuracy, colour + style, marker="o", ms=3, label=label(name))
        by_bytes.plot(mib, accuracy, colour + style, marker="o", ms=3)
        reached = next((k for k, a in enumerate(accuracy) if a >= 0.88), None)
        print(f"| {label(name)} | {seconds[reached]:.1f} | {mib[reached]:.0f} |" if reached
              is not None else f"| {label(name)} | not reached | — |", end="")
        print(f" {accuracy[-1]:.4f} | {mib[-1]:.0f} |")
    for ax in (by_time, by_bytes):
        ax.axhline(0.88, color="k", lw=0.8, ls=":")
        ax.grid(alpha=0.3)
        ax.set_ylim(0.8, 0.91)
    by_time.set_xlabel("training seconds (validation excluded)")
    by_time.set_ylabel("test accuracy after each epoch")
    by_bytes.set_xlabel("MiB communicated per rank (log)")
    by_bytes.set_xscale("log")
    by_time.legend(fontsize=7, loc="lower right")
    fig.suptitle("Fashion-MNIST MLP, global batch 64 (4 ranks oversubscribe 2 cores)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
