#!/usr/bin/env bash
# Run mmer_tf under SLURM — one job, or a sweep as a job array.
#
#   sbatch run_cluster.sh [main.py flags]         one job (e.g. sbatch run_cluster.sh -f openface -l 2 -b 32)
#   ./run_cluster.sh [main.py flags]              the same job, here, without SLURM
#   ./run_cluster.sh --sweep SWEEP_FILE [sbatch options]
#                                                 submit one array task per non-empty, non-# line of
#                                                 SWEEP_FILE; each line holds main.py flags
#
# Every task appends its rows to the same CSV tables; mmer_tf locks them and reserves unique run ids,
# so concurrent array tasks lose no row. Logs go to logs/<job>_<task>.out. Set MMER_PYTHON to choose the
# interpreter (default: .venv/bin/python when present, else python3).
#
#SBATCH --job-name=mmer_tf
#SBATCH --cpus-per-task=4
#SBATCH --mem=16G
#SBATCH --time=04:00:00
#SBATCH --output=logs/%x_%j.out
set -euo pipefail

# Under sbatch the script runs from a spool copy: find the repository through the submit directory.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="${SLURM_SUBMIT_DIR:-$here}"
cd "$repo"
mkdir -p logs

python_bin="${MMER_PYTHON:-}"
if [ -z "$python_bin" ]; then
  if [ -x .venv/bin/python ]; then python_bin=.venv/bin/python; else python_bin=python3; fi
fi

# Use the CPUs SLURM gave the task, not every core of the node.
if [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then
  export OMP_NUM_THREADS="$SLURM_CPUS_PER_TASK" TF_NUM_INTRAOP_THREADS="$SLURM_CPUS_PER_TASK" \
         TF_NUM_INTEROP_THREADS=2
fi

sweep_lines() {  # the flag lines of a sweep file, comments and blank lines dropped
  grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$1"
}

if [ "${1:-}" = "--sweep" ]; then
  sweep="${2:?usage: run_cluster.sh --sweep SWEEP_FILE [sbatch options]}"
  [ -f "$sweep" ] || { echo "error: sweep file $sweep not found" >&2; exit 2; }
  shift 2
  count=$(sweep_lines "$sweep" | wc -l)
  [ "$count" -gt 0 ] || { echo "error: sweep file $sweep has no flag lines" >&2; exit 2; }
  command -v sbatch >/dev/null || { echo "error: sbatch not found: run on a SLURM login node" >&2; exit 2; }
  echo "submitting $count tasks from $sweep"
  exec sbatch --array="0-$((count - 1))" --output="logs/%x_%A_%a.out" "$@" "$here/$(basename "${BASH_SOURCE[0]}")" --sweep-task "$(cd "$(dirname "$sweep")" && pwd)/$(basename "$sweep")"
fi

if [ "${1:-}" = "--sweep-task" ]; then
  sweep="$2"
  task="${SLURM_ARRAY_TASK_ID:?--sweep-task runs inside a SLURM array task}"
  line=$(sweep_lines "$sweep" | sed -n "$((task + 1))p")
  [ -n "$line" ] || { echo "error: $sweep has no line for array task $task" >&2; exit 2; }
  echo "task $task: main.py $line"
  # The line is split into words like a shell command line (quotes respected), never executed as code.
  eval "set -- $(printf '%s' "$line" | "$python_bin" -c 'import shlex,sys; print(" ".join(shlex.quote(a) for a in shlex.split(sys.stdin.read())))')"
fi

exec "$python_bin" main.py "$@"
