"""What the PyTorch peers share: the allocator settings, the command line and the timed loop.

PyTorch allocates every activation and gradient afresh each step. Under glibc's default
settings, freed blocks of more than 128 KiB go back to the system (munmap, or a trim of the
heap), and the next step takes page faults to get them back: on this project's virtual
machines that made PyTorch 2.5 times slower at batch 32 and 3 times slower on the CNN. PyTorch's
own CPU performance guide preloads jemalloc or tcmalloc for the same reason. The peers keep
freed memory in the process instead, through glibc's MALLOC_MMAP_THRESHOLD_ and
MALLOC_TRIM_THRESHOLD_ (both are needed: setting one alone turns off glibc's adaptive
threshold and is slower than neither). glibc reads them at start-up, so keep_freed_memory()
starts the script again with them when they are missing.
"""

import argparse
import os
import sys
import time

import torch

# 4 GiB: no allocation is served by mmap, and the heap is never trimmed.
ALLOCATOR_SETTINGS = {"MALLOC_MMAP_THRESHOLD_": "4294967296", "MALLOC_TRIM_THRESHOLD_": "4294967296"}


def keep_freed_memory():
    """Restarts this process with ALLOCATOR_SETTINGS unless the environment already names them
    (a caller who sets either keeps control)."""
    if any(name in os.environ for name in ALLOCATOR_SETTINGS):
        return
    os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, **ALLOCATOR_SETTINGS})


def parse(description, default_batch):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--batch", default=default_batch, help="comma-separated batch sizes")
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--min-epochs", type=int, default=2)
    parser.add_argument("--min-seconds", type=float, default=5.0)
    return parser.parse_args()


def set_threads(script, threads):
    torch.set_num_threads(threads)
    blas_threads = os.environ.get("OPENBLAS_NUM_THREADS")
    if blas_threads != str(threads):
        print(f"{script}: warning: OPENBLAS_NUM_THREADS={blas_threads} differs from "
              f"--threads {threads}; throughput may collapse", file=sys.stderr)


def run(model, batch, x, y, args):
    """Trains `model` with SGD (lr 0.01) and cross-entropy on x, y in shuffled batches: one
    epoch of warm-up, then whole epochs until --min-epochs and --min-seconds have passed.
    Prints one line, e.g.

        pytorch batch=64 samples_per_s=2345.6 samples_per_cpu_s=2350.1 epochs=3

    (samples_per_cpu_s divides by the process's CPU time, which other work on the machine
    inflates less than wall-clock time)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    n = x.shape[0]

    def epoch():
        order = torch.randperm(n)
        for first in range(0, n, batch):
            idx = order[first : first + batch]
            xb, yb = x[idx], y[idx]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()

    epoch()  # warm-up
    start = time.perf_counter()
    cpu_start = time.process_time()
    epochs = 0
    while True:
        epoch()
        epochs += 1
        elapsed = time.perf_counter() - start
        if epochs >= args.min_epochs and elapsed >= args.min_seconds:
            break
    cpu = time.process_time() - cpu_start
    print(f"pytorch batch={batch} samples_per_s={epochs * n / elapsed:.1f} "
          f"samples_per_cpu_s={epochs * n / cpu:.1f} epochs={epochs}", flush=True)
