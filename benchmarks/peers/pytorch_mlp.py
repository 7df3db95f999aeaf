#!/usr/bin/python3
"""PyTorch peer of benchmarks/train/mlp_throughput.cpp.

The same 784-512-512-10 ReLU MLP (nn.Sequential of Linear/ReLU), nn.CrossEntropyLoss and
torch.optim.SGD (lr 0.01, no momentum), on 60000 random samples and labels already in memory,
shuffled every epoch (a torch.randperm index, then x[idx] and y[idx] gather each batch). Warms up
for one epoch, then times whole epochs until at least --min-epochs epochs and --min-seconds
seconds have passed. Prints one line per batch size:

    pytorch batch=256 samples_per_s=30123.4 samples_per_cpu_s=30200.1 epochs=3

Run it with /usr/bin/python3 (Debian's python3-torch), OPENBLAS_NUM_THREADS equal to
--threads and, on few cores, OMP_WAIT_POLICY=PASSIVE; run_mlp_comparison.sh does. It keeps
freed memory in the process (peer_common.py says why).
"""

import torch
from torch import nn

import peer_common


def main():
    peer_common.keep_freed_memory()
    args = peer_common.parse(__doc__.split("\n\n")[0], default_batch="32,256")
    peer_common.set_threads("pytorch_mlp.py", args.threads)
    torch.manual_seed(42)
    x = torch.rand(args.samples, 784)
    y = torch.randint(0, 10, (args.samples,))
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.samples} samples, SGD lr 0.01", flush=True)
    for batch in (int(b) for b in args.batch.split(",")):
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                              nn.Linear(512, 10))
        peer_common.run(model, batch, x, y, args)


if __name__ == "__main__":
    main()
