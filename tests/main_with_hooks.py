"""``python tests/main_with_hooks.py MAIN_ARGS...``: run ``main.py`` with test hooks the production code
knows nothing about, chosen by environment variables that only this wrapper reads.

``MMER_HOOK_KILL_AFTER_EPOCH=k``  SIGKILL the process right after epoch ``k``'s resume state is saved (what a
                                  node failure or a job killed without notice does), to test resuming.
``MMER_HOOK_MIRRORED_CPUS=n``     ``--distribution mirrored`` mirrors over ``n`` logical CPU devices instead of
                                  the GPUs, so the whole mirrored path runs on a machine without a GPU.

The hooks are installed when the module they change is first imported (an import hook), so ``main.py``'s
own start-up order (backend chosen and native logs filtered before Keras is imported) is kept.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import runpy
import signal
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _kill_after_epoch(resume, epoch_count: int) -> None:
    save = resume.SaveState.on_epoch_end

    def on_epoch_end(self, epoch, logs=None):
        save(self, epoch, logs)
        if epoch + 1 == epoch_count:
            os.kill(os.getpid(), signal.SIGKILL)

    resume.SaveState.on_epoch_end = on_epoch_end


def _mirror_over_cpus(distributed, count: int) -> None:
    prepare = distributed.prepare_environment

    def prepare_environment(argv, environ=None):
        prepare(argv, environ)
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)

    def mirrored_devices():
        import tensorflow as tf

        return [device.name for device in tf.config.list_logical_devices("CPU")]

    distributed.prepare_environment = prepare_environment
    distributed.mirrored_devices = mirrored_devices


HOOKS = {}
if os.environ.get("MMER_HOOK_KILL_AFTER_EPOCH"):
    HOOKS["mmer_tf.resume"] = lambda m: _kill_after_epoch(m, int(os.environ["MMER_HOOK_KILL_AFTER_EPOCH"]))
if os.environ.get("MMER_HOOK_MIRRORED_CPUS"):
    HOOKS["mmer_tf.distributed"] = lambda m: _mirror_over_cpus(m, int(os.environ["MMER_HOOK_MIRRORED_CPUS"]))


class _PatchOnImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Loads a hooked module normally, then applies its hook."""

    def find_spec(self, name, path, target=None):
        if name not in HOOKS:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        self._loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        HOOKS[module.__name__](module)


if __name__ == "__main__":
    sys.meta_path.insert(0, _PatchOnImport())
    sys.path.insert(0, str(REPO))
    sys.argv = [str(REPO / "main.py"), *sys.argv[1:]]
    runpy.run_path(str(REPO / "main.py"), run_name="__main__")
