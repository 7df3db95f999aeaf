#!/usr/bin/env bash
# Pipeline on 2 ranks (benchmarks/parallel/pipeline_throughput.cpp): the bubble of GPipe and
# 1F1B against (p − 1)/(M + p − 1) for M = 1, 2, 4, 8, 16 (batch 1024), with and without
# activation recomputation, and the 16 × Dense<2048> MLP under SingleProcess, DataParallel,
# TensorParallel<2> and Pipeline<Cuts<16>, MicroBatches<4>>, and example 07's CNN on 4 ranks
# (oversubscribed on fewer cores) under its Hybrid and each pure strategy. Every rank runs one
# thread.
# Writes pipeline_results.txt in the build directory and draws docs/img/pipeline_bubble.png
# and docs/img/deep_mlp.png (python3-matplotlib). Results in docs/benchmarks.md.
#
#   benchmarks/run_pipeline_comparison.sh [--build-dir build/bench] [--repeats 3]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=$root/build/bench
repeats=3
while (($#)); do
  case $1 in
  --build-dir) build_dir=$2; shift 2 ;;
  --repeats) repeats=$2; shift 2 ;;
  *) sed -n '2,9p' "$0"; exit 2 ;;
  esac
done
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DLOOM_ENABLE_BENCHMARKS=ON \
  -DLOOM_ENABLE_TESTS=OFF -DLOOM_ENABLE_EXAMPLES=OFF >/dev/null
cmake --build "$build_dir" -j "$(nproc --all)" --target pipeline_throughput >/dev/null
bin=$build_dir/benchmarks/pipeline_throughput
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
if [[ $(id -u) == 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
two=(mpiexec --oversubscribe -n 2)
out=$build_dir/pipeline_results.txt
: >"$out"
for ((k = 0; k < repeats; ++k)); do
  for schedule in gpipe 1f1b; do
    for micro in 1 2 4 8 16; do
      for recompute in 0 1; do
        "${two[@]}" "$bin" --mode bubble --schedule "$schedule" --micro "$micro" \
          --recompute "$recompute" --batch 1024 --steps 20 | tee -a "$out"
      done
    done
  done
  "$bin" --mode deep --strategy single | tee -a "$out"
  for strategy in data tensor pipeline; do
    "${two[@]}" "$bin" --mode deep --strategy "$strategy" | tee -a "$out"
  done
  "$bin" --mode grid --strategy single --steps 20 | tee -a "$out"
  for strategy in hybrid data tensor pipeline replicated-pipeline; do
    mpiexec --oversubscribe -n 4 "$bin" --mode grid --strategy "$strategy" --steps 20 | tee -a "$out"
  done
done
/usr/bin/python3 "$root/benchmarks/plot_pipeline.py" "$out" "$root/docs/img"
