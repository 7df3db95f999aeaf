#!/usr/bin/env bash
# Peak memory (maximum resident set size, from /usr/bin/time -v) and time of one training run
# of examples/02_fashion_mnist_mlp against the same training in PyTorch
# (benchmarks/peers/pytorch_fashion_mnist_mlp.py), both on 1 thread, and of
# examples/03_data_parallel_mlp per rank under mpiexec -n 2. Prints a Markdown table.
#
#   benchmarks/run_memory_comparison.sh [--epochs 1] [--build-dir build/bench]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=build/bench
epochs=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --epochs) epochs=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    -h|--help) sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_memory_comparison.sh: unknown option $1 (--help lists them)" >&2; exit 2 ;;
  esac
done
cd "$root"
[[ $build_dir = /* ]] || build_dir=$root/$build_dir
[[ -x /usr/bin/time ]] || { echo "run_memory_comparison.sh: needs /usr/bin/time (Debian package time)" >&2; exit 1; }

cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DLOOM_ENABLE_BENCHMARKS=ON >&2
cmake --build "$build_dir" -j "$(nproc)" --target 02_fashion_mnist_mlp 03_data_parallel_mlp >&2
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
if [[ $(id -u) == 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# measure <name> <command...>: "name | peak MB | seconds" from /usr/bin/time -v.
measure() {
  local name=$1
  shift
  /usr/bin/time -v -o "$scratch/time" "$@" > "$scratch/out" 2>&1 || true
  local kb seconds
  kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$scratch/time")
  seconds=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$scratch/time")
  printf '| %s | %.1f | %s |\n' "$name" "$(echo "$kb / 1000" | bc -l)" "$seconds"
}

echo "OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE, $epochs epoch(s), 1 thread; $(date -u +%Y-%m-%d)"
echo
echo "| run | peak RSS (MB) | wall time |"
echo "|---|---|---|"
measure "loom, examples/02_fashion_mnist_mlp" \
  "$build_dir/examples/02_fashion_mnist_mlp/02_fashion_mnist_mlp" --epochs "$epochs" --min-accuracy 0
measure "PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'), the same training" \
  /usr/bin/python3 "$root/benchmarks/peers/pytorch_fashion_mnist_mlp.py" --epochs "$epochs"
# Each rank of example 03 measures itself.
mpiexec -n 2 --oversubscribe sh -c "/usr/bin/time -v -o $scratch/rank.\$OMPI_COMM_WORLD_RANK \
  $build_dir/examples/03_data_parallel_mlp/03_data_parallel_mlp --epochs $epochs --min-accuracy 0" \
  > /dev/null 2>&1 || true
for rank in 0 1; do
  kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$scratch/rank.$rank")
  printf '| loom, examples/03_data_parallel_mlp, rank %s of 2 | %.1f | |\n' "$rank" "$(echo "$kb / 1000" | bc -l)"
done
