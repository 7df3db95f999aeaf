#!/usr/bin/env bash
# Time to accuracy and bytes communicated on Fashion-MNIST (example 02's MLP, a global batch
# of 64, 10 epochs, validation after each): DataParallel (examples/03_data_parallel_mlp)
# against LocalSGD with period 4, 16 and 64, post-local SGD (one epoch data-parallel, then
# period 16) and ElasticAveraging (period 16), on 2 and 4 ranks (4 oversubscribe 2 cores
# here: say so when quoting them), and on 4 ranks ParameterServer (1 server + 3 workers,
# staleness 4); then for 3 epochs with 0, 1 and 10 ms added to every collective and message
# (benchmarks/parallel/slow_network.cpp): DataParallel, LocalSGD (period 16 and 64) and
# ElasticAveraging (period 16) on 2 ranks, DataParallel, LocalSGD (period 16) and
# ParameterServer on 4 (--slow-only: these alone). Every rank runs one BLAS thread. Writes
# one metrics log per run and slow_network.txt under the build directory and draws
# docs/img/local_sgd.png (python3-matplotlib). Results in docs/benchmarks.md.
#
#   benchmarks/run_local_sgd_comparison.sh [--build-dir build/local-sgd] [--ranks "2 4"]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=$root/build/local-sgd
ranks="2 4"
slow_only=0
while (($#)); do
  case $1 in
  --build-dir) build_dir=$2; shift 2 ;;
  --ranks) ranks=$2; shift 2 ;;
  --slow-only) slow_only=1; shift ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
  esac
done
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DLOOM_ENABLE_TESTS=OFF \
  -DLOOM_ENABLE_EXAMPLES=ON -DLOOM_ENABLE_BENCHMARKS=ON >/dev/null
cmake --build "$build_dir" -j "$(nproc --all)" \
  --target 03_data_parallel_mlp 08_local_sgd slow_network >/dev/null
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
if [[ $(id -u) == 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
logs=$build_dir/local_sgd_logs
data=$build_dir/examples/03_data_parallel_mlp/03_data_parallel_mlp
local=$build_dir/examples/08_local_sgd/08_local_sgd
((slow_only)) || { rm -rf "$logs" && mkdir -p "$logs"; }
for n in $ranks; do
  ((slow_only)) && break
  run=(mpiexec --oversubscribe -n "$n")
  "${run[@]}" "$data" --min-accuracy 0 --log "$logs/np${n}_data.jsonl" | tail -1
  for period in 4 16 64; do
    "${run[@]}" "$local" --period "$period" --min-accuracy 0 \
      --log "$logs/np${n}_local_period${period}.jsonl" | tail -2
  done
  "${run[@]}" "$local" --period 16 --warmup 938 --min-accuracy 0 \
    --log "$logs/np${n}_postlocal_period16_warmup938.jsonl" | tail -2
  "${run[@]}" "$local" --strategy elastic --period 16 --min-accuracy 0 \
    --log "$logs/np${n}_elastic_period16.jsonl" | tail -2
  if ((n >= 3)); then
    "${run[@]}" "$local" --strategy server --staleness 4 --min-accuracy 0 \
      --log "$logs/np${n}_server_staleness4.jsonl" | tail -2
  fi
done
slow=$build_dir/slow_network.txt
: >"$slow"
for delay in 0 1000 10000; do
  for strategy in "2 data 1" "2 local 16" "2 local 64" "2 elastic 16" "4 data 1" "4 local 16" \
    "4 server 0"; do
    set -- $strategy
    mpiexec --oversubscribe -n "$1" "$build_dir/benchmarks/slow_network" --strategy "$2" \
      --period "$3" --delay-us "$delay" --epochs 3 | tee -a "$slow"
  done
done
((slow_only)) && exit 0
/usr/bin/python3 "$root/benchmarks/plot_local_sgd.py" "$logs" "$root/docs/img/local_sgd.png"
