"""The Ray engine of library mode: the same `run_episode` / `match_season` functions as the local
engine, scheduled as Ray tasks on an existing cluster (`address="auto"` or an address) or on a
local Ray instance started here. Ray is an optional extra (requirements-ray.txt); nothing else in
vpos imports it.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import VposError
from .library import EngineCrash, LibraryOptions, Log, _noop

RAY_HINT = "pip install -r requirements-ray.txt  (or: pip install 'ray[default]')"


def import_ray():
    try:
        import ray
    except ImportError:
        raise VposError(f"--engine ray needs the optional Ray package, which is not installed: {RAY_HINT}") from None
    return ray


# Settings a worker must see as the driver does: every vpos setting (cache folder, the weights of
# each model: VPOS_OPED_WEIGHTS, VPOS_TAGS_WEIGHTS, ...) and where the Hub is and whether to use it.
FORWARDED_ENV = ("HF_HUB_OFFLINE", "HF_HOME", "HF_ENDPOINT")


def worker_env(threads_per_worker: int, environ=None) -> dict[str, str]:
    """The environment of Ray workers: vpos importable from this checkout, the thread count, and
    the driver's vpos and Hub settings."""
    environ = os.environ if environ is None else environ
    # Workers import vpos by name: on a local instance from this checkout, on a cluster from
    # the same path (a shared mount) or from an installed vpos on every node.
    package_root = str(Path(__file__).resolve().parent.parent)
    pythonpath = os.pathsep.join(p for p in (package_root, environ.get("PYTHONPATH", "")) if p)
    env = {"PYTHONPATH": pythonpath, "OMP_NUM_THREADS": str(threads_per_worker)}
    for name, value in environ.items():
        if value and (name.startswith("VPOS_") or name in FORWARDED_ENV):
            env[name] = value
    return env


class RayEngine:
    name = "ray"

    def __init__(self, options: LibraryOptions, log: Log = _noop):
        ray = import_ray()
        self.ray = ray
        self.started_here = False
        env = worker_env(options.threads_per_worker)
        if not ray.is_initialized():
            kwargs = dict(runtime_env={"env_vars": env}, include_dashboard=False, log_to_driver=False, configure_logging=False)
            try:
                if options.address:
                    ray.init(address=options.address, **kwargs)
                else:
                    ray.init(num_cpus=options.workers or None, **kwargs)
                    self.started_here = True
            except ConnectionError as e:
                raise VposError(f"cannot reach the Ray cluster at {options.address!r}: {e}") from None
        resources = ray.cluster_resources()
        cpus, gpus = float(resources.get("CPU", 1)), float(resources.get("GPU", 0))
        threads = options.threads_per_worker
        self.num_gpus = options.num_gpus if gpus > 0 else 0.0
        cpu_slots = max(1, int(cpus // threads))
        gpu_slots = int(gpus // self.num_gpus) if self.num_gpus else 0
        self.workers = max(cpu_slots, gpu_slots) if gpu_slots else cpu_slots
        # Enough queued work to keep every slot busy; the rest waits in the driver so that season
        # matching can jump ahead of episodes not yet started.
        self.capacity = self.workers + max(2, self.workers // 4)
        self._episode = ray.remote(num_cpus=threads, num_gpus=self.num_gpus, max_retries=0)(_run_episode)
        self._season = ray.remote(num_cpus=1, max_retries=0)(_match_season)
        log(f"ray: {cpus:g} CPUs, {gpus:g} GPUs; {self.workers} episode task(s) at once"
            + (f", {self.num_gpus:g} GPU each" if self.num_gpus else ""))

    def submit(self, fn, job, gpu: bool = False):
        from .library import match_season

        remote = self._season if fn is match_season else self._episode
        return remote.remote(job)

    def wait(self, handles, timeout: float):
        ready, _ = self.ray.wait(handles, num_returns=1, timeout=timeout)
        return ready

    def result(self, handle):
        from ray import exceptions as rex

        try:
            return self.ray.get(handle)
        except rex.RayTaskError:
            raise  # the work functions catch their own errors: this is a bug, show it
        except rex.RayError as e:
            raise EngineCrash(f"Ray lost the task ({e.__class__.__name__}: {str(e)[:200]})") from None

    def close(self, cancel: bool = False) -> None:
        if self.started_here and self.ray.is_initialized():
            self.ray.shutdown()


def _run_episode(job):
    from .library import run_episode

    return run_episode(job)


def _match_season(job):
    from .library import match_season

    return match_season(job)
