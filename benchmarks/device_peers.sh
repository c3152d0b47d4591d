#!/usr/bin/env bash
# One run on a lent GPU machine (JAX with CUDA, PyTorch with CUDA, no TensorFlow): our models against MMSA's
# on the GPU, and on two of that machine's otherwise idle CPU cores, plus Keras' LSTM against ProjectedLSTM on
# both. Every step has its own time limit and prints timestamped progress, and every result lands in $OUT as
# it is made, so a run cut short still says how far it got.
#
#   OUT=/tmp/out MMSA=/path/to/MMSA [WHEELS=.whl] bash benchmarks/device_peers.sh
#
# MMSA: a checkout of github.com/thuiar/MMSA (root or src/MMSA; read from there, never copied here).
# WHEELS: a folder of wheels installed first when keras is missing (keras 3.15.1 and what it needs there).
# The CPU part runs on cores 0-1 (2 threads per side) while the GPU part runs on the other cores, at the
# same time; the GPU part's host threads stay off those two cores.
set -u
OUT=${OUT:-/tmp/device_peers}
MMSA=${MMSA:-.mmsa}
WHEELS=${WHEELS:-.whl}
PY=${PY:-python3}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3 XLA_PYTHON_CLIENT_PREALLOCATE=false
log() { echo "$(date -u +%H:%M:%S) == $*"; }
pin() {  # pin CPUS COMMAND...: on those CPUs, where taskset exists
    local cpus=$1; shift
    if command -v taskset >/dev/null; then taskset -c "$cpus" "$@"; else "$@"; fi
}

if ! "$PY" -c "import keras" 2>/dev/null && [ -d "$WHEELS" ]; then
    log "installing $(ls "$WHEELS" | tr '\n' ' ')"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        "$WHEELS"/*.whl || exit 1
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
CORES=$(nproc)
log "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) x $CORES, load $(cut -d' ' -f1-3 /proc/loadavg)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -2

log "sanity: JAX and PyTorch see the GPU"
timeout 60 "$PY" - <<'EOF'
import time
import jax, jax.numpy as jnp, keras, torch
t = time.perf_counter()
x = jnp.ones((4096, 4096)); (x @ x).block_until_ready()
print(f"jax {jax.__version__} {jax.devices()[0].device_kind}: 4096^3 matmul incl. compile {time.perf_counter() - t:.2f} s")
t = time.perf_counter()
y = torch.ones((4096, 4096), device="cuda"); (y @ y).sum().item()
print(f"torch {torch.__version__} {torch.cuda.get_device_name(0)}: 4096^3 matmul {time.perf_counter() - t:.2f} s; keras {keras.__version__}")
EOF
echo "sanity rc=$?"

cpu_part() {
    log "CPU (cores 0-1): Keras LSTM vs ProjectedLSTM, JAX"
    JAX_PLATFORMS=cpu CUDA_VISIBLE_DEVICES= pin 0,1 timeout 150 "$PY" benchmarks/bench_recurrent.py \
        --threads 2 --window 1 --rounds 3
    echo "cpu recurrent rc=$?"
    log "CPU (cores 0-1): peers, JAX vs MMSA on PyTorch, 2 threads"
    pin 0,1 timeout 330 "$PY" benchmarks/bench_peers.py --mmsa "$MMSA" --sides jax,torch --device cpu \
        --threads 2 --models "${CPU_MODELS:-tfn,lmf,ef_lstm}" --window 1.5 --rounds 3 --setup-timeout 150 \
        --deadline 200 --log-dir "$OUT/cpu_logs" --json "$OUT/peers_cpu.json"
    echo "cpu peers rc=$?"
}

gpu_part() {
    log "GPU: Keras LSTM vs ProjectedLSTM, JAX"
    pin 2-$((CORES - 1)) timeout 150 "$PY" benchmarks/bench_recurrent.py --window 1 --rounds 3
    echo "gpu recurrent rc=$?"
    log "GPU: peers, JAX vs MMSA on CUDA PyTorch"
    pin 2-$((CORES - 1)) timeout 330 "$PY" benchmarks/bench_peers.py --mmsa "$MMSA" --sides jax,torch \
        --device gpu --threads $((CORES - 2)) --window 1 --rounds 3 --setup-timeout 150 --deadline 220 \
        --log-dir "$OUT/gpu_logs" --json "$OUT/peers_gpu.json"
    echo "gpu peers rc=$?"
}

cpu_part > "$OUT/cpu.log" 2>&1 &
CPU_PID=$!
gpu_part 2>&1 | tee "$OUT/gpu.log"
log "GPU part done; waiting for the CPU part"
wait $CPU_PID
cat "$OUT/cpu.log"
log "done, load $(cut -d' ' -f1-3 /proc/loadavg)"
