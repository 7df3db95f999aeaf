#!/usr/bin/python3
"""PyTorch peer of benchmarks/train/cnn_throughput.cpp.

The same convolutional network as examples/04_fashion_mnist_cnn (nn.Sequential of
Conv2d(1, 32, 3, padding=1), ReLU, MaxPool2d(2), Conv2d(32, 64, 3, padding=1), ReLU,
MaxPool2d(2), Flatten, Linear(3136, 128), ReLU, Linear(128, 10)), nn.CrossEntropyLoss and
torch.optim.SGD (lr 0.01, no momentum), on 60000 random 1×28×28 images and labels already in
memory, shuffled every epoch (a torch.randperm index, then x[idx] and y[idx] gather each
batch). Warms up for one epoch, then times whole epochs until at least --min-epochs epochs and
--min-seconds seconds have passed. Prints one line per batch size:

    pytorch batch=64 samples_per_s=2345.6 samples_per_cpu_s=2350.1 epochs=3

(samples_per_cpu_s divides by the process's CPU time, which other work on the machine inflates
less than wall-clock time.) The convolutions run through oneDNN where this PyTorch has it
(Debian's does).

Run it with /usr/bin/python3 (Debian's python3-torch), OPENBLAS_NUM_THREADS equal to
--threads and, on few cores, OMP_WAIT_POLICY=PASSIVE; run_cnn_comparison.sh does.
"""

import argparse
import os
import sys
import time

import torch
from torch import nn


def parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--batch", default="64", help="comma-separated batch sizes")
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--min-epochs", type=int, default=2)
    parser.add_argument("--min-seconds", type=float, default=5.0)
    return parser.parse_args()


def make_model():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 32×14×14
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 64×7×7
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def run(batch, x, y, args):
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
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


def main():
    args = parse()
    torch.set_num_threads(args.threads)
    blas_threads = os.environ.get("OPENBLAS_NUM_THREADS")
    if blas_threads != str(args.threads):
        print(f"pytorch_cnn.py: warning: OPENBLAS_NUM_THREADS={blas_threads} differs from "
              f"--threads {args.threads}; throughput may collapse", file=sys.stderr)
    torch.manual_seed(42)
    x = torch.rand(args.samples, 1, 28, 28)
    y = torch.randint(0, 10, (args.samples,))
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.samples} samples, SGD lr 0.01", flush=True)
    for batch in (int(b) for b in args.batch.split(",")):
        run(batch, x, y, args)


if __name__ == "__main__":
    main()
