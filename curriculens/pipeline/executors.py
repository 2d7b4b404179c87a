"""Executors: where a sweep's per-checkpoint work runs, in this process or as Ray tasks.

An executor maps a function over items and yields ``(index, result)`` as each finishes. Only the
caller (the sweep driver) writes the store, so a remote worker never touches SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from curriculens.errors import ConfigError

EXECUTORS = ("local", "ray")


def check_executor(name: str) -> str:
    """Validate an executor name.

    >>> check_executor("ray")
    'ray'
    """
    if name not in EXECUTORS:
        raise ConfigError(f"executor={name!r}; expected one of {', '.join(EXECUTORS)}.")
    return name


def map_unordered(
    fn: Callable[..., Any],
    items: Sequence[Any],
    *,
    executor: str = "local",
    args: tuple = (),
    num_cpus: float = 1,
    num_gpus: float = 0,
) -> Iterator[tuple[int, Any]]:
    """Yield ``(i, fn(items[i], *args))`` for every item, in the order they finish.

    Args:
        fn: A module-level function (Ray ships it to workers by reference).
        items: One task per item.
        executor: ``"local"`` runs them one after another in this process; ``"ray"`` submits one
            Ray task per item and streams results back with ``ray.wait``.
        args: Extra positional arguments for every call (put in the Ray object store once).
        num_cpus, num_gpus: Resources each Ray task asks for.

    >>> list(map_unordered(pow, [2, 3], args=(2,)))
    [(0, 4), (1, 9)]
    """
    check_executor(executor)
    if executor == "local":
        for i, item in enumerate(items):
            yield i, fn(item, *args)
        return
    yield from _ray_map(fn, items, args=args, num_cpus=num_cpus, num_gpus=num_gpus)


def _ray_map(fn, items, *, args, num_cpus, num_gpus) -> Iterator[tuple[int, Any]]:
    try:
        import ray
    except ImportError as e:
        raise ConfigError(
            "executor='ray' needs Ray, which is not installed; pip install 'curriculens[ray]' "
            "(or 'ray>=2.30'), or use executor='local'."
        ) from e
    started = not ray.is_initialized()
    if started:
        ray.init()  # joins RAY_ADDRESS when set, else starts a local cluster
    try:
        remote = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus)(fn)
        shared = [ray.put(a) for a in args]
        pending = {remote.remote(item, *shared): i for i, item in enumerate(items)}
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    yield pending.pop(ref), ray.get(ref)
        finally:
            for ref in pending:  # an error or an abandoned generator: stop the rest
                ray.cancel(ref, force=True)
    finally:
        if started:
            ray.shutdown()
