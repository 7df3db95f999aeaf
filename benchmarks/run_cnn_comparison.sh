#!/usr/bin/env bash
# Builds loom's CNN benchmarks and compares loom with PyTorch on examples/04's convolutional
# network (Conv2D 32, ReLU, MaxPool 2, Conv2D 64, ReLU, MaxPool 2, Dense 128, ReLU, Dense 10;
# plain SGD lr 0.01), side by side on the same threads and environment, for each OpenBLAS
# kernel set (OPENBLAS_CORETYPE). Prints the environment and the throughput table (median of
# --reps runs, loom and PyTorch taking turns), and optionally the per-kernel breakdown of a
# loom training step and the Google Benchmark results of the two convolution layers. The
# tables are Markdown, ready for docs/benchmarks.md.
#
#   benchmarks/run_cnn_comparison.sh [--reps 3] [--coretypes "Haswell SkylakeX"] [--threads 1]
#                                    [--batch 64] [--samples 60000] [--min-seconds 5]
#                                    [--min-epochs 2] [--no-throughput] [--breakdown]
#                                    [--gbench] [--all] [--build-dir build/bench]
#
# --all is --breakdown --gbench. Everything printed also goes to <build-dir>/results/, one
# file per run (cnn-<stamp>.md; raw lines in cnn-<stamp>.raw, Google Benchmark JSON in
# cnn-<stamp>.<coretype>.json). Keep the machine quiet while it runs: it prints the load
# average before each measurement and flags tables taken under load.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=build/bench
reps=3
coretypes="Haswell SkylakeX"
threads=1
batches=64
samples=60000
min_seconds=5
min_epochs=2
do_throughput=1
do_breakdown=0
do_gbench=0
python=/usr/bin/python3

while [[ $# -gt 0 ]]; do
  case $1 in
    --reps) reps=$2; shift 2 ;;
    --coretypes) coretypes=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --batch) batches=$2; shift 2 ;;
    --samples) samples=$2; shift 2 ;;
    --min-seconds) min_seconds=$2; shift 2 ;;
    --min-epochs) min_epochs=$2; shift 2 ;;
    --no-throughput) do_throughput=0; shift ;;
    --breakdown) do_breakdown=1; shift ;;
    --gbench) do_gbench=1; shift ;;
    --all) do_breakdown=1; do_gbench=1; shift ;;
    --build-dir) build_dir=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_cnn_comparison.sh: unknown option $1 (--help lists them)" >&2; exit 2 ;;
  esac
done

cd "$root"
[[ $build_dir = /* ]] || build_dir=$root/$build_dir
results=$build_dir/results
mkdir -p "$results"
stamp=cnn-$(date +%Y%m%d-%H%M%S)
raw=$results/$stamp.raw
report=$results/$stamp.md
: > "$raw"
exec > >(tee "$report") # the report: stdout only; progress goes to stderr

log() { printf '%s\n' "$*" >&2; }
load1() { cut -d' ' -f1 /proc/loadavg; }

# --- build ----------------------------------------------------------------------------------
log "## building in $build_dir"
# The same configuration as run_mlp_comparison.sh, so that both scripts share a build.
# Debian's Kokkos (Serial only) unless LOOM_BENCH_KOKKOS_DIR names another Kokkos_DIR.
kokkos_dir=${LOOM_BENCH_KOKKOS_DIR:-/usr/lib/x86_64-linux-gnu/cmake/Kokkos}
kokkos_arg=()
[[ -d $kokkos_dir ]] && kokkos_arg=(-DKokkos_DIR="$kokkos_dir")
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DLOOM_ENABLE_BENCHMARKS=ON \
  -DLOOM_ENABLE_TESTS=OFF -DLOOM_ENABLE_EXAMPLES=ON -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
  "${kokkos_arg[@]}" \
  > "$results/$stamp.configure.log" 2>&1 || { cat "$results/$stamp.configure.log"; exit 1; }
targets=(cnn_throughput)
[[ $do_gbench = 1 ]] && targets+=(loom_bench_layers_conv2d)
cmake --build "$build_dir" -j"$(nproc --all)" --target "${targets[@]}" \
  > "$results/$stamp.build.log" 2>&1 || { tail -50 "$results/$stamp.build.log"; exit 1; }
bench=$build_dir/benchmarks

# The same environment for every program: threads, OpenBLAS kernels, passive OpenMP waiting.
run_env() { # run_env <coretype> <command...>
  local coretype=$1; shift
  env OPENBLAS_CORETYPE="$coretype" OPENBLAS_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads" \
      OMP_WAIT_POLICY=PASSIVE OMP_PROC_BIND=false "$@"
}

# --- environment ----------------------------------------------------------------------------
# LOOM_REVISION names the sources measured where they are not a git checkout (a snapshot).
revision=${LOOM_REVISION:-$(git -C "$root" describe --always --dirty 2>/dev/null || echo '?')}
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
cpu_id=$(awk -F': ' '/^cpu family/ {f=$2} /^model\t/ {m=$2} /^stepping/ {s=$2; exit}
                     END {printf "family %s model %s stepping %s", f, m, s}' /proc/cpuinfo)
flags=$(grep -m1 '^flags' /proc/cpuinfo)
isa=avx2; [[ $flags == *avx512f* ]] && isa="avx2, avx512f"
pkg() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }
kokkos=$(grep -m1 'loom: Kokkos' "$results/$stamp.configure.log" | sed 's/^-- loom: //')
torch_version=$("$python" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo "not found")
torch_conv=$("$python" -c 'import torch; print("oneDNN" if torch.backends.mkldnn.is_available() else "no oneDNN")' 2>/dev/null || echo "?")
cat <<EOF
## Environment

| | |
|---|---|
| CPU | $cpu ($cpu_id), $(nproc --all) cores ($isa) |
| kernel | $(uname -r) |
| compiler | $(g++ --version | head -1) |
| build | CMake Release (-O3), no -march; $kokkos |
| OpenBLAS | $(pkg libopenblas0-pthread) (pthread), OPENBLAS_CORETYPE = $coretypes |
| PyTorch | $torch_version (Debian python3-torch $(pkg python3-torch), convolutions through $torch_conv, which picks AVX-512 by itself; also run with ONEDNN_MAX_CPU_ISA=AVX2), $python, freed memory kept in the process (benchmarks/peers/peer_common.py) |
| Google Benchmark | $(pkg libbenchmark-dev) |
| threads | $threads: OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=PASSIVE, torch.set_num_threads($threads) |
| model | examples/04_fashion_mnist_cnn's network, SoftmaxCrossEntropy, SGD lr 0.01 without momentum |
| data | $samples random 1×28×28 images, labels 0–9, shuffled every epoch; warm-up 1 epoch, then ≥ $min_epochs epochs and ≥ $min_seconds s |
| load average at start | $(cut -d' ' -f1-3 /proc/loadavg) |
| date | $(date -u '+%Y-%m-%d %H:%M UTC'), loom $revision |

EOF

# --- throughput -----------------------------------------------------------------------------
if [[ $do_throughput = 1 ]]; then
  for coretype in $coretypes; do
    for rep in $(seq 1 "$reps"); do
      # loom and PyTorch take turns in every repetition, so that both see the same conditions.
      log "# $coretype rep $rep/$reps: loom (load $(load1))"
      run_env "$coretype" "$bench/cnn_throughput" --batch "$batches" --what loom \
          --samples "$samples" --min-seconds "$min_seconds" --min-epochs "$min_epochs" |
        grep -v '^#' | sed "s/^/coretype=$coretype rep=$rep load=$(load1) /" >> "$raw"
      log "# $coretype rep $rep/$reps: pytorch (load $(load1))"
      run_env "$coretype" "$python" "$root/benchmarks/peers/pytorch_cnn.py" --threads "$threads" \
          --batch "$batches" --samples "$samples" --min-seconds "$min_seconds" \
          --min-epochs "$min_epochs" |
        grep -v '^#' | sed "s/^/coretype=$coretype rep=$rep load=$(load1) /" >> "$raw"
      # oneDNN chooses AVX-512 by itself where the CPU has it, whatever OPENBLAS_CORETYPE says;
      # capped at AVX2 it runs the instruction set loom's BLAS runs under Haswell.
      log "# $coretype rep $rep/$reps: pytorch, oneDNN capped at AVX2 (load $(load1))"
      run_env "$coretype" env ONEDNN_MAX_CPU_ISA=AVX2 "$python" \
          "$root/benchmarks/peers/pytorch_cnn.py" --threads "$threads" --batch "$batches" \
          --samples "$samples" --min-seconds "$min_seconds" --min-epochs "$min_epochs" |
        grep -v '^#' | sed "s/^pytorch/pytorch_avx2/" |
        sed "s/^/coretype=$coretype rep=$rep load=$(load1) /" >> "$raw"
    done
  done
  "$python" - "$raw" "$threads" <<'EOF'
import re, statistics, sys
raw, threads = sys.argv[1], sys.argv[2]
pattern = re.compile(r"coretype=(\S+) rep=(\d+) load=(\S+) (\w+) batch=(\d+) "
                     r"samples_per_s=(\S+) samples_per_cpu_s=(\S+)")
runs = {"wall": {}, "cpu": {}}  # clock -> (coretype, batch) -> what -> rep -> samples/s
loads = []
for line in open(raw):
    m = pattern.match(line)
    if not m:
        continue
    coretype, rep, load, what, batch, wall, cpu = m.groups()
    loads.append(float(load))
    for clock, rate in (("wall", wall), ("cpu", cpu)):
        runs[clock].setdefault((coretype, int(batch)), {}).setdefault(what, {})[rep] = float(rate)
if not loads:
    sys.exit("run_cnn_comparison.sh: no throughput lines in " + raw)
reps = max(len(v) for d in runs["wall"].values() for v in d.values())
titles = {"wall": "wall-clock time", "cpu": "process CPU time (less sensitive to other load)"}
for clock in ("wall", "cpu"):
    print(f"## CNN training throughput, samples/s by {titles[clock]} (median of {reps} runs, "
          f"{threads} thread)\n")
    print("| OPENBLAS_CORETYPE | batch | loom | PyTorch | loom/PyTorch | PyTorch, oneDNN ≤ AVX2 "
          "| loom/that | loom min–max | PyTorch min–max |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---|")
    for (coretype, batch), d in runs[clock].items():
        med = {k: statistics.median(v.values()) for k, v in d.items()}
        # The median of per-repetition ratios: each pair ran next to each other in time.
        def ratio_to(peer):
            ratios = [d["loom"][r] / d[peer][r]
                      for r in d.get("loom", {}) if r in d.get(peer, {})]
            return f"{statistics.median(ratios):.2f}" if ratios else "–"
        def fmt(k):
            return f"{med[k]:.0f}" if k in med else "–"
        def spread(k):
            return f"{min(d[k].values()):.0f}–{max(d[k].values()):.0f}" if k in d else "–"
        print(f"| {coretype} | {batch} | {fmt('loom')} | {fmt('pytorch')} | {ratio_to('pytorch')} "
              f"| {fmt('pytorch_avx2')} | {ratio_to('pytorch_avx2')} "
              f"| {spread('loom')} | {spread('pytorch')} |")
    print()
print(f"Load average (1 min) when the runs started: {min(loads):.2f}–{max(loads):.2f}"
      + (" — NOISY: other work was running; prefer the CPU-time table or rerun on a quiet "
         "machine" if max(loads) > 1.5 else ""))
print()
EOF
fi

# --- breakdown ------------------------------------------------------------------------------
if [[ $do_breakdown = 1 ]]; then
  for coretype in $coretypes; do
    log "# $coretype: breakdown (load $(load1))"
    echo "## Where a CNN training step's time goes (OPENBLAS_CORETYPE=$coretype, load $(load1))"
    echo
    echo '```'
    run_env "$coretype" "$bench/cnn_throughput" --batch "$batches" --what breakdown \
        --samples "$samples" --min-seconds "$min_seconds" --min-epochs "$min_epochs" |
      tee -a "$raw"
    echo '```'
    echo
  done
fi

# --- Google Benchmark -----------------------------------------------------------------------
if [[ $do_gbench = 1 ]]; then
  for coretype in $coretypes; do
    log "# $coretype: loom_bench_layers_conv2d (load $(load1))"
    run_env "$coretype" "$bench/loom_bench_layers_conv2d" --benchmark_repetitions=3 \
        --benchmark_report_aggregates_only=true --benchmark_format=json \
        --benchmark_out="$results/$stamp.$coretype.json" --benchmark_out_format=json \
        > /dev/null 2>> "$results/$stamp.gbench.log"
  done
  # shellcheck disable=SC2086 # one argument per coretype
  "$python" - "$results/$stamp" $coretypes <<'EOF'
import json, sys
prefix, coretypes = sys.argv[1], sys.argv[2:]
rows = {}  # name -> coretype -> text
for coretype in coretypes:
    data = json.load(open(f"{prefix}.{coretype}.json"))["benchmarks"]
    medians = [r for r in data if r.get("aggregate_name") == "median"]
    for r in medians or data:
        name = r.get("run_name", r["name"]) if medians else r["name"]
        rows.setdefault(name, {})[coretype] = (f"{r['cpu_time']:.0f} µs, "
                                               f"{r['FLOP/s'] / 1e9:.1f} GFLOP/s")
print("## Conv2D layers against sgemm_ on the same GEMMs (CPU time per iteration, median of 3; "
      "GFLOP/s over the GEMM-equivalents)\n")
print("| benchmark | " + " | ".join(f"OPENBLAS_CORETYPE={c}" for c in coretypes) + " |")
print("|---|" + "---|" * len(coretypes))
for name, by in rows.items():
    print(f"| {name} | " + " | ".join(by.get(c, "–") for c in coretypes) + " |")
print()
EOF
fi

log "# results: $report (raw lines: $raw)"
