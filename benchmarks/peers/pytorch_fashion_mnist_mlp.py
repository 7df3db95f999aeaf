#!/usr/bin/python3
"""PyTorch peer of examples/02_fashion_mnist_mlp, for peak memory and time.

The same training: Fashion-MNIST from Debian's dataset-fashion-mnist (the IDX .gz files, or
$LOOM_FASHION_MNIST_DIR), pixels / 255 standardised with the training set's mean and
deviation, the 784-512-512-10 ReLU MLP, cross-entropy, SGD (lr 0.05, Nesterov momentum 0.9)
with a cosine schedule over the run, batches of 64 shuffled each epoch, the test accuracy at
the end. PyTorch's allocator settings are left as they are (the throughput peers change them;
that would inflate memory here). Prints

    pytorch epochs=1 test_accuracy=0.8512 seconds=41.2
"""

import argparse
import gzip
import os
import time

import numpy as np
import torch
from torch import nn


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape).copy()


def load(directory, prefix):
    def path(name):
        plain = os.path.join(directory, name)
        return plain + ".gz" if os.path.exists(plain + ".gz") else plain
    images = read_idx(path(f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(path(f"{prefix}-labels-idx1-ubyte"))
    x = torch.from_numpy(images.reshape(len(images), 784)).float().div_(255.0)
    return x, torch.from_numpy(labels.astype(np.int64))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    start = time.time()
    directory = os.environ.get("LOOM_FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist"
    x, y = load(directory, "train")
    x_test, y_test = load(directory, "t10k")
    mean, std = x.mean(), x.std(unbiased=False)
    x.sub_(mean).div_(std)  # in place, as a careful user writes it
    x_test.sub_(mean).div_(std)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    batch = 64
    steps = args.epochs * ((len(x) + batch - 1) // batch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(args.epochs):
        order = torch.randperm(len(x))
        for first in range(0, len(x), batch):
            idx = order[first:first + batch]
            optimizer.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            optimizer.step()
            schedule.step()
    with torch.no_grad():
        correct = sum(int((model(x_test[i:i + 1000]).argmax(1) == y_test[i:i + 1000]).sum())
                      for i in range(0, len(x_test), 1000))
    print(f"pytorch epochs={args.epochs} test_accuracy={correct / len(x_test):.4f} "
          f"seconds={time.time() - start:.1f}", flush=True)


if __name__ == "__main__":
    main()
