#!/usr/bin/env python3
"""Draws the pipeline benchmark plots from run_pipeline_comparison.sh's results:

    plot_pipeline.py pipeline_results.txt OUTPUT_DIR

pipeline_bubble.png: each stage's idle share against micro-batches, GPipe and 1F1B, with the
model (p - 1)/(M + p - 1). deep_mlp.png: samples/s and memory per rank of each strategy on the
16 x Dense<2048> MLP. Medians over the repeats.
"""
import statistics
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def records(path):
    for line in open(path):
        if line.startswith("mode="):
            yield dict(field.split("=", 1) for field in line.split())


def main(path, out):
    rows = list(records(path))
    idle = defaultdict(list)
    batch = "?"
    for r in rows:
        if r["mode"] == "bubble" and r["recompute"] == "0":
            batch = r["batch"]
            stages = [float(v) for v in r["idle"].split(",")]
            idle[(r["schedule"], int(r["micro"]))].append(stages)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    micro = sorted({m for _, m in idle})
    for schedule, colour in [("gpipe", "C0"), ("1f1b", "C1")]:
        for stage, style in [(0, "-"), (1, ":")]:
            values = [statistics.median(s[stage] for s in idle[(schedule, m)]) for m in micro]
            ax.plot(micro, values, colour + style, marker="o",
                    label=f"{'GPipe' if schedule == 'gpipe' else '1F1B'}, stage {stage}")
    ax.plot(micro, [1 / (m + 1) for m in micro], "k--", label="(p − 1)/(M + p − 1), p = 2")
    ax.set_xscale("log", base=2)
    ax.set_xticks(micro)
    ax.set_xticklabels([str(m) for m in micro])
    ax.set_xlabel(f"micro-batches M (batch {batch})")
    ax.set_ylabel("share of the step waiting")
    ax.set_title("Pipeline bubble, 2 stages of 4 × Dense<512> (stage 1 adds Dense<10> and the loss)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(f"{out}/pipeline_bubble.png", dpi=110)

    deep = defaultdict(list)
    for r in rows:
        if r["mode"] == "deep":
            deep[r["strategy"]].append(r)
    names = [s for s in ["single", "data", "tensor", "pipeline"] if s in deep]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))
    left.bar(names, [statistics.median(float(r["samples_per_s"]) for r in deep[s]) for s in names],
             color="C0")
    left.set_ylabel("samples/s")
    left.set_title("16 × Dense<2048>, batch 256")
    right.bar(names, [statistics.median(max(float(v) for v in r["model_MiB"].split(","))
                                        for r in deep[s]) for s in names], color="C2")
    right.set_ylabel("model memory per rank (MiB)")
    right.set_title("parameters, gradients, momentum, workspace")
    fig.tight_layout()
    fig.savefig(f"{out}/deep_mlp.png", dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
