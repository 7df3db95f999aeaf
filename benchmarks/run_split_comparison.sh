#!/usr/bin/env bash
# SpatialParallel and TensorParallel beside SingleProcess and DataParallel on 2 ranks
# (benchmarks/parallel/split_throughput.cpp): examples/06's 224×224 CNN at batches 1, 2, 4 and
# 16 (seconds per step, halo share, memory), with and without overlapped gradient sums, and
# the 784-4096-4096-10 MLP at batch 256. Every rank runs one thread. Results in docs/benchmarks.md.
#
#   benchmarks/run_split_comparison.sh [--build-dir build/bench] [--repeats 3]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=$root/build/bench
repeats=3
while (($#)); do
  case $1 in
  --build-dir) build_dir=$2; shift 2 ;;
  --repeats) repeats=$2; shift 2 ;;
  *) sed -n '2,7p' "$0"; exit 2 ;;
  esac
done
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DLOOM_ENABLE_BENCHMARKS=ON \
  -DLOOM_ENABLE_TESTS=OFF -DLOOM_ENABLE_EXAMPLES=OFF >/dev/null
cmake --build "$build_dir" -j "$(nproc --all)" --target split_throughput >/dev/null
bin=$build_dir/benchmarks/split_throughput
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
if [[ $(id -u) == 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
two=(mpiexec --oversubscribe -n 2)
for ((k = 0; k < repeats; ++k)); do
  for batch in 1 2 4 16; do
    "$bin" --net cnn --strategy single --batch "$batch" --steps 30
    "$bin" --net cnn --strategy spatial1 --batch "$batch" --steps 30
    "${two[@]}" "$bin" --net cnn --strategy spatial --batch "$batch" --steps 30
    "${two[@]}" "$bin" --net cnn --strategy spatial --batch "$batch" --steps 30 --overlap 0
  done
  "$bin" --net mlp --strategy single --batch 256 --steps 20
  "${two[@]}" "$bin" --net mlp --strategy data --batch 256 --steps 20
  "${two[@]}" "$bin" --net mlp --strategy tensor --batch 256 --steps 20
done
