#!/usr/bin/env bash
# Builds loom's communication and data-parallel benchmarks and measures, in one run:
#   1. all-reduce bus bandwidth of comm::Mpi, comm::Ring and comm::RecursiveHalving against
#      MPI_Allreduce, 4 KiB to 64 MiB on 2 ranks (median of --reps runs per cell);
#   2. data-parallel training throughput of the 784-512-512-10 MLP at a global batch of 256:
#      SingleProcess and DataParallel on 1 rank, DataParallel on 2 ranks with overlap on and
#      off, for each communicator; PyTorch on 1 and 2 threads beside it (same environment);
# for each OpenBLAS kernel set (--coretypes). Prints Markdown tables for docs/benchmarks.md and
# draws docs/img/allreduce_bandwidth.png and docs/img/dp_throughput.png (python3-matplotlib).
#
#   benchmarks/run_parallel_comparison.sh [--reps 3] [--coretypes "Haswell SkylakeX"]
#                                         [--min-seconds 4] [--build-dir build/bench]
#                                         [--no-plots]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=build/bench
reps=3
coretypes="Haswell SkylakeX"
min_seconds=4
plots=1
python=/usr/bin/python3

while [[ $# -gt 0 ]]; do
  case $1 in
    --reps) reps=$2; shift 2 ;;
    --coretypes) coretypes=$2; shift 2 ;;
    --min-seconds) min_seconds=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --no-plots) plots=0; shift ;;
    -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_parallel_comparison.sh: unknown option $1 (--help lists them)" >&2; exit 2 ;;
  esac
done

cd "$root"
[[ $build_dir = /* ]] || build_dir=$root/$build_dir
results=$build_dir/results
mkdir -p "$results"
stamp=$(date +%Y%m%d-%H%M%S)
raw=$results/parallel-$stamp.raw
: > "$raw"

log() { printf '==> %s\n' "$*" >&2; }
if [[ "$(id -u)" == 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_PROC_BIND=false OMP_WAIT_POLICY=PASSIVE
mpi() { local n=$1; shift; mpiexec -n "$n" --oversubscribe "$@"; }

log "building allreduce_bandwidth and dp_throughput in $build_dir"
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DLOOM_ENABLE_BENCHMARKS=ON \
  -DLOOM_ENABLE_TESTS=OFF -DLOOM_ENABLE_EXAMPLES=OFF >/dev/null
cmake --build "$build_dir" -j "$(nproc --all)" --target allreduce_bandwidth dp_throughput >/dev/null
bin=$build_dir/benchmarks

median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

echo "## Environment"
echo
echo "| | |"
echo "|---|---|"
echo "| CPU | $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc --all) cores |"
echo "| MPI | $(mpiexec --version | head -n1) |"
echo "| loom | $(git -C "$root" rev-parse --short HEAD) |"
echo "| threads | 1 per rank (OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1) |"
echo "| load before | $(cut -d' ' -f1-3 /proc/loadavg) |"
echo

# 1. Bandwidth (does not depend on the BLAS kernel).
log "all-reduce bandwidth on 2 ranks, $reps runs"
runs=()
for r in $(seq "$reps"); do
  runs+=("$results/bw-$stamp-$r.csv")
  mpi 2 "$bin/allreduce_bandwidth" --min-seconds 0.5 --csv "${runs[-1]}" >/dev/null
done
echo "## All-reduce bus bandwidth, 2 ranks (GB/s, median of $reps runs)"
echo
# The best of loom's policies (comm::Mpi included) against MPI_Allreduce, named per size.
"$python" "$root/benchmarks/summarize_results.py" bandwidth --median-csv "$results/bw-$stamp.csv" \
  "${runs[@]}"

# 2. Throughput.
echo "## Data-parallel MLP training throughput, global batch 256 (samples/s, median of $reps runs)"
echo
echo "| OPENBLAS_CORETYPE | configuration | samples/s | vs 1 rank (DataParallel) |"
echo "|---|---|---:|---:|"
for coretype in $coretypes; do
  export OPENBLAS_CORETYPE=$coretype
  declare -A rate=()
  measure() {  # name, command...
    local name=$1; shift
    local values=()
    for r in $(seq "$reps"); do
      log "$coretype: $name (run $r, load $(cut -d' ' -f1 /proc/loadavg))"
      local line
      line=$("$@" 2>/dev/null | grep -E "samples_per_s=" | head -n1)
      echo "$coretype $name $line" >> "$raw"
      values+=("$(sed -E 's/.*samples_per_s=([0-9.]+).*/\1/' <<<"$line")")
    done
    rate[$name]=$(printf '%s\n' "${values[@]}" | median)
  }
  measure "SingleProcess, 1 rank" "$bin/dp_throughput" --comm ring --min-seconds "$min_seconds" --single-only 1
  for comm in mpi ring halving; do
    measure "DataParallel<$comm>, 1 rank" mpi 1 "$bin/dp_throughput" --comm "$comm" --min-seconds "$min_seconds"
    measure "DataParallel<$comm>, 2 ranks, overlap" mpi 2 "$bin/dp_throughput" --comm "$comm" --min-seconds "$min_seconds" --overlap 1
    measure "DataParallel<$comm>, 2 ranks, no overlap" mpi 2 "$bin/dp_throughput" --comm "$comm" --min-seconds "$min_seconds" --overlap 0
  done
  measure "PyTorch, 1 thread" env OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$python" "$root/benchmarks/peers/pytorch_mlp.py" --threads 1 --batch 256 --min-seconds "$min_seconds"
  measure "PyTorch, 2 threads" env OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 "$python" "$root/benchmarks/peers/pytorch_mlp.py" --threads 2 --batch 256 --min-seconds "$min_seconds"
  for name in "SingleProcess, 1 rank" \
              "DataParallel<mpi>, 1 rank" "DataParallel<mpi>, 2 ranks, overlap" "DataParallel<mpi>, 2 ranks, no overlap" \
              "DataParallel<ring>, 1 rank" "DataParallel<ring>, 2 ranks, overlap" "DataParallel<ring>, 2 ranks, no overlap" \
              "DataParallel<halving>, 1 rank" "DataParallel<halving>, 2 ranks, overlap" "DataParallel<halving>, 2 ranks, no overlap" \
              "PyTorch, 1 thread" "PyTorch, 2 threads"; do
    comm=$(sed -nE 's/DataParallel<([a-z]+)>.*/\1/p' <<<"$name")
    base=${rate["DataParallel<${comm:-ring}>, 1 rank"]}
    ratio=$(awk -v a="${rate[$name]}" -v b="$base" 'BEGIN {printf "%.2f", a / b}')
    [[ -n "$comm" ]] || ratio="—"
    printf '| %s | %s | %.0f | %s |\n' "$coretype" "$name" "${rate[$name]}" "$ratio"
    printf '%s,"%s",%s\n' "$coretype" "$name" "${rate[$name]}" >> "$results/dp-$stamp.csv"
  done
  unset rate
done
echo

if ((plots)); then
  log "plots in docs/img"
  mkdir -p "$root/docs/img"
  "$python" "$root/benchmarks/plot_parallel.py" "$results/bw-$stamp.csv" "$results/dp-$stamp.csv" \
    "$root/docs/img"
fi
log "raw results in $results (parallel-$stamp.raw, bw-$stamp.csv, dp-$stamp.csv)"
