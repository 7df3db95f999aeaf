#!/usr/bin/env bash
# Builds loom's benchmarks and compares loom with PyTorch on the 784-512-512-10 MLP, side by
# side on the same threads and environment, for each OpenBLAS kernel set (OPENBLAS_CORETYPE).
# Prints the environment, the throughput table (median of --reps runs), the compile time of
# examples/02_fashion_mnist_mlp (g++ -O2, median of 3), and optionally the per-phase breakdown
# and the Google Benchmark results. The tables are Markdown, ready for docs/benchmarks.md.
#
#   benchmarks/run_mlp_comparison.sh [--reps 3] [--coretypes "Haswell SkylakeX"] [--threads 1]
#                                    [--batch 32,256] [--min-seconds 5] [--min-epochs 2]
#                                    [--no-throughput] [--no-compile] [--breakdown]
#                                    [--gbench] [--all] [--build-dir build/bench]
#
# --all is --breakdown --gbench. Everything printed also goes to <build-dir>/results/, one
# file per run (raw lines in *.raw, Google Benchmark JSON in *.json; summarize_results.py
# makes the tables again from them). Keep the machine quiet while it runs: it prints the load
# average before each measurement and flags runs that started under load.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=build/bench
reps=3
coretypes="Haswell SkylakeX"
threads=1
batches=32,256
min_seconds=5
min_epochs=2
do_throughput=1
do_compile=1
do_breakdown=0
do_gbench=0
python=/usr/bin/python3

while [[ $# -gt 0 ]]; do
  case $1 in
    --reps) reps=$2; shift 2 ;;
    --coretypes) coretypes=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --batch) batches=$2; shift 2 ;;
    --min-seconds) min_seconds=$2; shift 2 ;;
    --min-epochs) min_epochs=$2; shift 2 ;;
    --no-throughput) do_throughput=0; shift ;;
    --no-compile) do_compile=0; shift ;;
    --breakdown) do_breakdown=1; shift ;;
    --gbench) do_gbench=1; shift ;;
    --all) do_breakdown=1; do_gbench=1; shift ;;
    --build-dir) build_dir=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_mlp_comparison.sh: unknown option $1 (--help lists them)" >&2; exit 2 ;;
  esac
done

cd "$root"
[[ $build_dir = /* ]] || build_dir=$root/$build_dir
results=$build_dir/results
mkdir -p "$results"
stamp=$(date +%Y%m%d-%H%M%S)
raw=$results/$stamp.raw
report=$results/$stamp.md
: > "$raw"
exec > >(tee "$report") # the report: stdout only; progress goes to stderr

log() { printf '%s\n' "$*" >&2; }
load1() { cut -d' ' -f1 /proc/loadavg; }

# --- build ----------------------------------------------------------------------------------
log "## building in $build_dir"
# Debian's Kokkos (Serial only) unless LOOM_BENCH_KOKKOS_DIR names another Kokkos_DIR.
kokkos_dir=${LOOM_BENCH_KOKKOS_DIR:-/usr/lib/x86_64-linux-gnu/cmake/Kokkos}
kokkos_arg=()
[[ -d $kokkos_dir ]] && kokkos_arg=(-DKokkos_DIR="$kokkos_dir")
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DLOOM_ENABLE_BENCHMARKS=ON \
  -DLOOM_ENABLE_TESTS=OFF -DLOOM_ENABLE_EXAMPLES=ON -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
  "${kokkos_arg[@]}" \
  > "$results/$stamp.configure.log" 2>&1 || { cat "$results/$stamp.configure.log"; exit 1; }
targets=(mlp_throughput)
[[ $do_gbench = 1 ]] && targets+=(loom_bench_layers_dense loom_bench_loss_softmax_cross_entropy
                                  loom_bench_optim_optimizers loom_bench_kernels_gemm)
cmake --build "$build_dir" -j"$(nproc)" --target "${targets[@]}" \
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
cat <<EOF
## Environment

| | |
|---|---|
| CPU | $cpu ($cpu_id), $(nproc) cores ($isa) |
| kernel | $(uname -r) |
| compiler | $(g++ --version | head -1) |
| build | CMake Release (-O3), no -march; $kokkos |
| OpenBLAS | $(pkg libopenblas0-pthread) (pthread), OPENBLAS_CORETYPE = $coretypes |
| PyTorch | $torch_version (Debian python3-torch $(pkg python3-torch)), $python, freed memory kept in the process (benchmarks/peers/peer_common.py) |
| Google Benchmark | $(pkg libbenchmark-dev) |
| threads | $threads: OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=PASSIVE, torch.set_num_threads($threads) |
| data | 60000 random samples × 784, labels 0–9, shuffled every epoch; warm-up 1 epoch, then ≥ $min_epochs epochs and ≥ $min_seconds s |
| load average at start | $(cut -d' ' -f1-3 /proc/loadavg) |
| date | $(date -u '+%Y-%m-%d %H:%M UTC'), loom $revision |

EOF

# --- throughput -----------------------------------------------------------------------------
if [[ $do_throughput = 1 ]]; then
  for coretype in $coretypes; do
    for rep in $(seq 1 "$reps"); do
      # loom and PyTorch take turns in every repetition, so that both see the same conditions.
      log "# $coretype rep $rep/$reps: loom + ceiling (load $(load1))"
      run_env "$coretype" "$bench/mlp_throughput" --batch "$batches" --what loom,ceiling \
          --min-seconds "$min_seconds" --min-epochs "$min_epochs" |
        grep -v '^#' | sed "s/^/coretype=$coretype rep=$rep load=$(load1) /" >> "$raw"
      log "# $coretype rep $rep/$reps: pytorch (load $(load1))"
      run_env "$coretype" "$python" "$root/benchmarks/peers/pytorch_mlp.py" --threads "$threads" \
          --batch "$batches" --min-seconds "$min_seconds" --min-epochs "$min_epochs" |
        grep -v '^#' | sed "s/^/coretype=$coretype rep=$rep load=$(load1) /" >> "$raw"
    done
  done
  "$python" "$root/benchmarks/summarize_results.py" throughput "$raw" "$threads"
fi

# --- compile time of example 02 -------------------------------------------------------------
if [[ $do_compile = 1 ]]; then
  log "# compile time of examples/02_fashion_mnist_mlp/main.cpp (load $(load1))"
  "$python" - "$build_dir/compile_commands.json" "$root/examples/02_fashion_mnist_mlp/main.cpp" <<'EOF'
import json, os, shlex, statistics, subprocess, sys, tempfile, time
commands, source = sys.argv[1], sys.argv[2]
entry = next(e for e in json.load(open(commands)) if os.path.samefile(e["file"], source))
args = shlex.split(entry["command"])
args = ["-O2" if a in ("-O3", "-O1", "-Os") else a for a in args]
if "-O2" not in args:
    args.insert(1, "-O2")
tmp = tempfile.mkdtemp()
out = os.path.join(tmp, "main.o")
args[args.index("-o") + 1] = out

def median_time(source_file):
    command = list(args)
    command[command.index("-c") + 1] = source_file
    times = []
    for _ in range(3):
        load = os.getloadavg()[0]
        start = time.perf_counter()
        subprocess.run(command, cwd=entry["directory"], check=True)
        times.append((time.perf_counter() - start, load))
    return statistics.median(t for t, _ in times), times

# The floor: the same command on a file that only includes Kokkos, then one that only
# includes loom (nothing instantiated).
floors = {}
for name, text in (("Kokkos_Core.hpp", "#include <Kokkos_Core.hpp>\nint main() {}\n"),
                   ("loom/loom.hpp", "#include <loom/loom.hpp>\nint main() {}\n")):
    path = os.path.join(tmp, name.replace("/", "_") + ".cpp")
    open(path, "w").write(text)
    floors[name] = median_time(path)[0]
median, times = median_time(source)
print("## Compile time of examples/02_fashion_mnist_mlp (g++ -O2, one translation unit)\n")
print("```sh\n(cd " + entry["directory"] + " && "
      + " ".join(shlex.quote(a) for a in args).replace(out, "main.o") + ")\n```\n")
print(f"median of 3: **{median:.2f} s** (runs: {', '.join(f'{t:.2f} s' for t, _ in times)}; "
      f"load average at start {', '.join(f'{l:.2f}' for _, l in times)})\n")
print("| translation unit (same command) | median of 3 |\n|---|---:|")
for name, t in floors.items():
    print(f"| `#include <{name}>` and an empty main | {t:.2f} s |")
print(f"| examples/02_fashion_mnist_mlp/main.cpp | {median:.2f} s |\n")
for f in os.listdir(tmp):
    os.unlink(os.path.join(tmp, f))
os.rmdir(tmp)
EOF
fi

# --- breakdown ------------------------------------------------------------------------------
if [[ $do_breakdown = 1 ]]; then
  for coretype in $coretypes; do
    log "# $coretype: breakdown (load $(load1))"
    echo "## Where a training step's time goes (OPENBLAS_CORETYPE=$coretype, load $(load1))"
    echo
    echo '```'
    run_env "$coretype" "$bench/mlp_throughput" --batch "$batches" --what breakdown \
        --min-seconds "$min_seconds" --min-epochs "$min_epochs" | tee -a "$raw"
    echo '```'
    echo
  done
fi

# --- Google Benchmark -----------------------------------------------------------------------
if [[ $do_gbench = 1 ]]; then
  for coretype in $coretypes; do
    for b in layers_dense loss_softmax_cross_entropy optim_optimizers kernels_gemm; do
      log "# $coretype: loom_bench_$b (load $(load1))"
      run_env "$coretype" "$bench/loom_bench_$b" --benchmark_repetitions=3 \
          --benchmark_report_aggregates_only=true --benchmark_format=json \
          --benchmark_out="$results/$stamp.$coretype.$b.json" --benchmark_out_format=json \
          > /dev/null 2>> "$results/$stamp.gbench.log"
    done
  done
  # shellcheck disable=SC2086 # one argument per coretype
  "$python" "$root/benchmarks/summarize_results.py" gbench "$results" "$stamp" $coretypes
fi

log "# results: $report (raw lines: $raw)"
