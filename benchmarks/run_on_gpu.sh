#!/usr/bin/env bash
# The compiled-loop benchmarks (minimize, CMA-ES Part B, batched populations, training) on a
# machine with a GPU, in one command. JAX picks the GPU by itself; each script then writes
# benchmarks/results/<name>_gpu.{json,md} beside the CPU figures.
#
#   bash benchmarks/run_on_gpu.sh [DEST]      # DEST: where to copy a tar of the results
#
# Each benchmark has its own time limit, so one slow script cannot take the others' time.
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
dest="${1:-}"
repeats="${REPEATS:-5}"

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
python3 -c "import jax; print('jax', jax.__version__, jax.devices())" || exit 1

run() {  # run SECONDS SCRIPT ARGS...
    local limit=$1
    shift
    echo "=== $* (limit ${limit} s) $(date +%T)"
    timeout "$limit" python3 "benchmarks/$@" --repeats "$repeats" || echo "=== $1 stopped: exit $?"
    if [ -n "$dest" ]; then
        tar -cf "$dest/results_gpu.tar" benchmarks/results/*_gpu*.* 2>/dev/null || true
    fi
}

run "${LIMIT_MINIMIZE:-160}" bench_minimize.py  # with Rosenbrock at 10⁴ steps
run "${LIMIT_CMAES:-140}" bench_cmaes.py --part b
run "${LIMIT_BATCHED:-80}" bench_batched_population.py
run "${LIMIT_TRAIN:-80}" bench_train.py
echo "=== done $(date +%T)"
