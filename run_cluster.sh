#!/usr/bin/env bash
# Run mmer_tf under SLURM: one job, a sweep as one job array, or the same sweep here without SLURM.
#
#   sbatch run_cluster.sh [main.py flags]          one job (e.g. sbatch run_cluster.sh -f openface -l 2 -b 32)
#   ./run_cluster.sh [main.py flags]               the same job, here, without SLURM
#   ./run_cluster.sh --sweep FILE [--seeds 1,2,3] [--max-concurrent N] [sbatch options]
#                                                  one array task per run of FILE (see mmer_tf/sweep.py:
#                                                  a .yaml/.csv grid or lines of main.py flags), each line
#                                                  once per seed, minus the runs that already have a row
#   ./run_cluster.sh --sweep FILE [--seeds ...] --local N
#                                                  the same runs on this machine, N at a time
#   ./run_cluster.sh --search SPACE.yaml --trials N --array K [sbatch options] [-- search options, main.py flags]
#                                                  a hyper-parameter search (python -m mmer_tf search) as K array
#                                                  tasks sharing one study journal: N trials between them, then
#                                                  the chosen configuration's final seeds; --local K runs the K
#                                                  processes here instead
#   ./run_cluster.sh --featurize --array K [sbatch options] -- --corpus NAME IN OUT [featurize options]
#                                                  featurize one corpus as K array tasks (python -m mmer_tf featurize
#                                                  --shard i/K) into the one folder OUT, written by the task that
#                                                  finishes last; --local K runs the K processes here instead
#
# Preemption and time limits: the job asks to be requeued (--requeue) and to receive SIGUSR1 two minutes
# before its time limit (--signal=B:USR1@120). The signal is passed to the run, which finishes the
# current epoch, saves its state (models/<model>/.resume/<digest>/) and exits 75; this script then
# requeues the job, and the requeued job, running the identical command, resumes from that epoch. A job
# killed outright (node failure, scancel) resumes the same way from its last completed epoch when it is
# submitted again. Each run writes exactly one row per table.
#
# Data-parallel runs over several processes: sbatch --ntasks=N [--gpus-per-task=1] run_cluster.sh
# --distribution data_parallel ...; each task is started with srun and finds its rank and the
# coordinator (first host of SLURM_JOB_NODELIST) in SLURM's environment.
#
# Logs go to logs/ in the submit directory (one per job, or per array task); for a plain sbatch run,
# create logs/ first (SLURM opens the log before this script runs; a sweep submission creates it). Set MMER_PYTHON to choose the interpreter
# (default: .venv/bin/python when present, else python3).
#
#SBATCH --job-name=mmer_tf
#SBATCH --cpus-per-task=4
#SBATCH --mem=16G
#SBATCH --time=04:00:00
#SBATCH --output=logs/%x_%j.out
#SBATCH --open-mode=append
#SBATCH --requeue
#SBATCH --signal=B:USR1@120
set -euo pipefail

# Runs happen in the submit directory (relative -mf/-pf paths and logs/ are resolved there). Under
# sbatch the script runs from a spool copy, so the code folder travels in MMER_CODE_DIR.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
submitted_script() {  # the path sbatch was given, which SLURM remembers as the job's Command
  scontrol show job "$SLURM_JOB_ID" 2>/dev/null | sed -n 's/^[[:space:]]*Command=\([^[:space:]]*\).*/\1/p' | head -n 1
}
code=""
if [ -n "${MMER_CODE_DIR:-}" ]; then code="$MMER_CODE_DIR"
elif [ -f "$here/main.py" ]; then code="$here"
elif [ -n "${SLURM_JOB_ID:-}" ]; then
  submitted="$(submitted_script || true)"
  [ -n "$submitted" ] && [ -f "$(dirname "$submitted")/main.py" ] && code="$(cd "$(dirname "$submitted")" && pwd)"
fi
[ -n "$code" ] || code="${SLURM_SUBMIT_DIR:-$PWD}"
export MMER_CODE_DIR="$code"
cd "${SLURM_SUBMIT_DIR:-$PWD}"
mkdir -p logs
self="$code/run_cluster.sh"
export PYTHONPATH="$code${PYTHONPATH:+:$PYTHONPATH}"

python_bin="${MMER_PYTHON:-}"
if [ -z "$python_bin" ]; then
  if [ -x "$code/.venv/bin/python" ]; then python_bin="$code/.venv/bin/python"; else python_bin=python3; fi
fi

# Use the CPUs SLURM gave the task, not every core of the node.
if [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then
  export OMP_NUM_THREADS="$SLURM_CPUS_PER_TASK" TF_NUM_INTRAOP_THREADS="$SLURM_CPUS_PER_TASK" \
         TF_NUM_INTEROP_THREADS=2
fi

# --sweep and --search take their own options ("--NAME VALUE" or "--NAME=VALUE", NAME among the listed
# ones) into opt_<name> (dashes as underscores); "--" ends them, and what follows is kept in rest_args;
# every other word is an sbatch option.
take_options() {  # take_options "NAME ..." ARGS...
  local names=" $1 " arg name value
  shift
  sbatch_opts=() rest_args=()
  while [ $# -gt 0 ]; do
    arg="$1"
    case "$arg" in
      --) shift; rest_args=("$@"); return ;;
      --*=*) name="${arg%%=*}"; name="${name#--}"; value="${arg#*=}"; shift ;;
      --*) name="${arg#--}"
           if [[ "$names" == *" $name "* ]]; then
             [ $# -ge 2 ] || { echo "error: $arg needs a value" >&2; exit 2; }
             value="$2"; shift 2
           else shift; fi ;;
      *) name=""; shift ;;
    esac
    if [ -n "$name" ] && [[ "$names" == *" $name "* ]]; then
      printf -v "opt_${name//-/_}" '%s' "$value"
    else
      sbatch_opts+=("$arg")
    fi
  done
}
need_sbatch() {
  command -v sbatch >/dev/null || { echo "error: sbatch not found: run on a SLURM login node, or use --local N" >&2; exit 2; }
}
submit_array() {  # submit_array RANGE TASK_ARGS...: this script as one SLURM job array, a log per task
  local range="$1"
  shift
  exec sbatch --array="$range" --output="logs/%x_%A_%a.out" "${sbatch_opts[@]}" "$self" "$@"
}

if [ "${1:-}" = "--sweep" ]; then
  sweep="${2:?usage: run_cluster.sh --sweep FILE [--seeds 1,2,3] [--max-concurrent N] [--local N] [sbatch options]}"
  [ -f "$sweep" ] || { echo "error: sweep file $sweep not found" >&2; exit 2; }
  shift 2
  opt_seeds="" opt_max_concurrent="" opt_local=""
  take_options "seeds max-concurrent local" "$@"
  [ ${#rest_args[@]} -eq 0 ] || { echo "error: --sweep takes no '--' arguments (the runs' flags are in $sweep)" >&2; exit 2; }
  seed_args=()
  [ -n "$opt_seeds" ] && seed_args=(--seeds "$opt_seeds")
  if [ -n "$opt_local" ]; then
    exec "$python_bin" -m mmer_tf sweep "$sweep" "${seed_args[@]}" --local "$opt_local" --logs logs
  fi
  need_sbatch
  lines="logs/sweep_$(date +%Y%m%d-%H%M%S)_$$.lines"
  "$python_bin" -m mmer_tf sweep "$sweep" "${seed_args[@]}" --pending --out "$lines"
  count=$(grep -c . "$lines" || true)
  if [ "$count" -eq 0 ]; then
    echo "nothing to submit: every run of $sweep already has a row"
    rm -f "$lines"
    exit 0
  fi
  array="0-$((count - 1))"
  [ -n "$opt_max_concurrent" ] && array="$array%$opt_max_concurrent"
  echo "submitting $count tasks from $sweep (lines in $lines)"
  submit_array "$array" --sweep-task "$PWD/$lines"
fi

entry=("$code/main.py")
if [ "${1:-}" = "--search" ]; then
  usage="usage: run_cluster.sh --search SPACE.yaml --trials N [--array K | --local K] [sbatch options] [-- search options and main.py flags]"
  space="${2:?$usage}"
  [ -f "$space" ] || { echo "error: space file $space not found" >&2; exit 2; }
  shift 2
  opt_trials="" opt_array="" opt_local=""
  take_options "trials array local" "$@"
  [ -n "$opt_trials" ] || { echo "error: --search needs --trials N ($usage)" >&2; exit 2; }
  for n in "$opt_trials" "${opt_array:-1}" "${opt_local:-1}"; do
    case "$n" in ''|*[!0-9]*|0) echo "error: --trials, --array and --local take a positive number, got '$n'" >&2; exit 2 ;; esac
  done
  search_args=(--space "$space" --trials "$opt_trials" "${rest_args[@]}")
  if [ -n "$opt_local" ]; then  # K processes here sharing the study's journal, as K array tasks would
    stamp="$(date +%Y%m%d-%H%M%S)" pids=()
    for i in $(seq 0 $((opt_local - 1))); do
      "$python_bin" -m mmer_tf search "${search_args[@]}" > "logs/search_${stamp}_$i.out" 2>&1 &
      pids+=($!)
    done
    rc=0
    for pid in "${pids[@]}"; do wait "$pid" || rc=$?; done
    echo "search: $opt_local process(es) done (exit $rc); logs in logs/search_${stamp}_*.out"
    exit "$rc"
  fi
  need_sbatch
  echo "submitting ${opt_array:-1} search task(s) for $opt_trials trials of $space"
  submit_array "0-$(( ${opt_array:-1} - 1 ))" --search-task "${search_args[@]}"
fi

if [ "${1:-}" = "--featurize" ]; then
  usage="usage: run_cluster.sh --featurize (--array K | --local K) [sbatch options] -- --corpus NAME IN OUT [featurize options]"
  shift
  opt_array="" opt_local=""
  take_options "array local" "$@"
  [ ${#rest_args[@]} -gt 0 ] || { echo "error: --featurize needs the featurize arguments after -- ($usage)" >&2; exit 2; }
  [ -n "$opt_array$opt_local" ] || { echo "error: --featurize needs --array K or --local K ($usage)" >&2; exit 2; }
  for n in "${opt_array:-1}" "${opt_local:-1}"; do
    case "$n" in ''|*[!0-9]*|0) echo "error: --array and --local take a positive number, got '$n'" >&2; exit 2 ;; esac
  done
  if [ -n "$opt_local" ]; then  # K shard processes here, as K array tasks would run
    stamp="$(date +%Y%m%d-%H%M%S)" pids=()
    for i in $(seq 0 $((opt_local - 1))); do
      "$python_bin" -m mmer_tf featurize "${rest_args[@]}" --quiet --shard "$i/$opt_local" \
        > "logs/featurize_${stamp}_$i.out" 2>&1 &
      pids+=($!)
    done
    rc=0
    for pid in "${pids[@]}"; do wait "$pid" || rc=$?; done
    cat "logs/featurize_${stamp}_"*.out
    echo "featurize: $opt_local shard process(es) done (exit $rc); logs in logs/featurize_${stamp}_*.out"
    exit "$rc"
  fi
  need_sbatch
  echo "submitting $opt_array featurize shard task(s): python -m mmer_tf featurize ${rest_args[*]}"
  submit_array "0-$((opt_array - 1))" --featurize-task "$opt_array" "${rest_args[@]}"
fi

if [ "${1:-}" = "--featurize-task" ]; then  # one array task: one shard; the task finishing last writes the folder
  count="$2"
  shift 2
  entry=(-m mmer_tf featurize)
  set -- "$@" --quiet --shard "${SLURM_ARRAY_TASK_ID:?--featurize-task runs inside a SLURM array task}/$count"
  echo "featurize task: python -m mmer_tf featurize $*"
fi

if [ "${1:-}" = "--search-task" ]; then  # one array task: one search process; the study's journal joins them
  shift
  entry=(-m mmer_tf search)
  echo "search task ${SLURM_ARRAY_TASK_ID:-0}: python -m mmer_tf search $*"
fi

if [ "${1:-}" = "--sweep-task" ]; then
  lines="$2"
  task="${SLURM_ARRAY_TASK_ID:?--sweep-task runs inside a SLURM array task}"
  line=$(sed -n "$((task + 1))p" "$lines")
  [ -n "$line" ] || { echo "error: $lines has no line for array task $task" >&2; exit 2; }
  echo "task $task: main.py $line"
  # The line is split into words like a shell command line (quotes respected), never executed as code.
  eval "set -- $(printf '%s' "$line" | "$python_bin" -c 'import shlex,sys; print(" ".join(shlex.quote(a) for a in shlex.split(sys.stdin.read())))')"
fi

launcher=()
if [ "${SLURM_NTASKS:-1}" -gt 1 ] && [ -n "${SLURM_JOB_ID:-}" ]; then
  launcher=(srun --kill-on-bad-exit=1)  # one process per task: data_parallel ranks
fi

# Run in the background so the USR1 trap fires while it trains; forward the signal to it.
child=""
trap 'echo "$(date +%T) SIGUSR1: asking the run to stop after this epoch"; [ -z "$child" ] || kill -USR1 "$child" 2>/dev/null || true' USR1
"${launcher[@]}" "$python_bin" "${entry[@]}" "$@" &
child=$!
set +e
while true; do
  wait "$child"
  rc=$?
  kill -0 "$child" 2>/dev/null || break  # wait returned because of the trap: keep waiting
done
set -e
if [ "$rc" -eq 75 ] && [ -n "${SLURM_JOB_ID:-}" ]; then
  job="$SLURM_JOB_ID"
  [ -n "${SLURM_ARRAY_JOB_ID:-}" ] && job="${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
  echo "$(date +%T) state saved; requeueing $job to resume"
  scontrol requeue "$job"
  exit 0
fi
exit "$rc"
