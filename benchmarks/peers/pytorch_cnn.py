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

The convolutions run through oneDNN where this PyTorch has it (Debian's does), which picks its
instruction set at run time (AVX-512 where the CPU has it; ONEDNN_MAX_CPU_ISA=AVX2 caps it).

Run it with /usr/bin/python3 (Debian's python3-torch), OPENBLAS_NUM_THREADS equal to
--threads and, on few cores, OMP_WAIT_POLICY=PASSIVE; run_cnn_comparison.sh does. It keeps
freed memory in the process (peer_common.py says why).
"""

import torch
from torch import nn

import peer_common


def main():
    peer_common.keep_freed_memory()
    args = peer_common.parse(__doc__.split("\n\n")[0], default_batch="64")
    peer_common.set_threads("pytorch_cnn.py", args.threads)
    torch.manual_seed(42)
    x = torch.rand(args.samples, 1, 28, 28)
    y = torch.randint(0, 10, (args.samples,))
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.samples} samples, SGD lr 0.01", flush=True)
    for batch in (int(b) for b in args.batch.split(",")):
        model = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 32×14×14
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 64×7×7
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10),
        )
        peer_common.run(model, batch, x, y, args)


if __name__ == "__main__":
    main()
