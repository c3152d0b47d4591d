"""A throw-away single-node SLURM (munged + slurmctld + slurmd) for the sweep integration test.

Everything lives in one temporary folder: a private munge key and socket, slurm.conf for this host
with its real CPU count, state and spool folders, logs, and ports picked free at start. Needs root
(slurmd launches jobs) and Debian's ``slurm-wlm`` + ``munge`` (``.ci/run`` installs them); when either is
missing, :func:`start` raises :class:`Unavailable` with the reason, which the test reports as its skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol")


class Unavailable(RuntimeError):
    """SLURM cannot run here (the message says why)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _host_resources() -> tuple[int, int]:
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, timeout=30).stdout
    fields = dict(item.split("=", 1) for item in out.split() if "=" in item)
    return int(fields.get("CPUs", os.cpu_count() or 1)), int(fields.get("RealMemory", 1024))


class Cluster:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.procs: list[subprocess.Popen] = []
        self.env = dict(os.environ)

    # ------------------------------------------------------------------ start / stop
    def start(self, timeout: float = 60.0) -> "Cluster":
        missing = [b for b in BINARIES if shutil.which(b) is None]
        if missing:
            raise Unavailable(f"SLURM not installed ({', '.join(missing)} missing; apt-get install slurm-wlm munge)")
        if os.geteuid() != 0:
            raise Unavailable("a private slurmd needs root to launch jobs")
        r = self.root
        for sub in ("munge", "state", "spool", "log"):
            (r / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(r / "munge", 0o700)
        key = r / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o600)
        sock = r / "munge" / "munge.socket"
        self._spawn(["munged", "--force", "--foreground", f"--socket={sock}", f"--key-file={key}",
                     f"--pid-file={r / 'munge' / 'munged.pid'}", f"--log-file={r / 'log' / 'munged.log'}",
                     f"--seed-file={r / 'munge' / 'seed'}"])
        self._wait(lambda: sock.exists(), timeout, "munged did not create its socket")
        cpus, memory = _host_resources()
        host = socket.gethostname().split(".")[0]
        conf = r / "slurm.conf"
        conf.write_text("\n".join([
            "ClusterName=mmertest",
            f"SlurmctldHost={host}(127.0.0.1)",
            f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={sock}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "MpiDefault=none",
            "SwitchType=switch/none",
            "SchedulerType=sched/builtin",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_CPU",
            "ReturnToService=2",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "MaxArraySize=1000",
            "SlurmctldTimeout=30",
            "SlurmdTimeout=30",
            "InactiveLimit=0",
            "KillWait=5",
            f"StateSaveLocation={r / 'state'}",
            f"SlurmdSpoolDir={r / 'spool'}",
            f"SlurmctldPidFile={r / 'slurmctld.pid'}",
            f"SlurmdPidFile={r / 'slurmd.pid'}",
            f"SlurmctldLogFile={r / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={r / 'log' / 'slurmd.log'}",
            f"NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN",
            "PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
            "",
        ]))
        self.env["SLURM_CONF"] = str(conf)
        self._spawn(["slurmctld", "-D", "-i", "-f", str(conf)])
        self._spawn(["slurmd", "-D", "-f", str(conf)])
        self._wait(self._node_idle, timeout, "the node never became idle")
        return self

    def _spawn(self, argv: list[str]) -> None:
        log = open(self.root / "log" / f"{Path(argv[0]).name}.stdout", "ab")
        self.procs.append(subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True))

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(p.poll() is not None for p in self.procs):
                break
            try:
                if ready():
                    return
            except (OSError, subprocess.SubprocessError):
                pass
            time.sleep(0.5)
        raise Unavailable(f"{what} (logs in {self.root / 'log'}): {self.log_tail()}")

    def _node_idle(self) -> bool:
        out = subprocess.run(["sinfo", "-h", "-o", "%t"], env=self.env, capture_output=True, text=True,
                             timeout=10).stdout
        return "idle" in out

    def log_tail(self, lines: int = 5) -> str:
        tails = []
        for name in ("slurmctld.log", "slurmd.log", "munged.log"):
            path = self.root / "log" / name
            if path.exists():
                tails.append(name + ": " + " | ".join(path.read_text(errors="replace").splitlines()[-lines:]))
        return " || ".join(tails)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)

    # ---------------------------------------------------------------------- queries
    def run(self, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(argv, env={**self.env, **kwargs.pop("env", {})}, capture_output=True,
                              text=True, **kwargs)

    def wait_idle_queue(self, timeout: float) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = self.run(["squeue", "-h", "-o", "%i %T"], timeout=10).stdout.strip()
            if not out:
                return
            time.sleep(1.0)
        raise TimeoutError(f"jobs still queued after {timeout:.0f} s: {out}; {self.log_tail()}")


def started_cluster(folder: Path):
    """A started single-node cluster in ``folder`` for a module-scoped fixture to yield and stop; the calling
    test module is skipped, with the reason, where SLURM cannot be started."""
    import pytest

    cluster = Cluster(folder)
    try:
        cluster.start()
    except (Unavailable, OSError, subprocess.SubprocessError) as exc:
        cluster.stop()
        pytest.skip(f"SLURM cannot be started here: {exc}")
    return cluster
