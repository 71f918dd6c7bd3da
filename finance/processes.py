"""Work split over forked processes, each on its own database connection — the one way
every app does it (the ledger's verify, audit's sealing, the city-year's workers).

Only on PostgreSQL and outside a transaction: a forked process opens its own
connection and sees only what is committed, and SQLite has one writer. The parent's
connections are closed before the fork (a connection is never shared across it), and
each task's connection is closed when the task ends (the server sees a clean exit).
Not from a daemon process (a Celery worker's prefork child cannot have children)."""
from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from django.db import connection, connections

T = TypeVar("T")
R = TypeVar("R")


def forkable(workers: int, tasks: int = 2) -> bool:
    """Whether `tasks` tasks may be run in `workers` forked processes here."""
    return workers > 1 and tasks > 1 and connection.vendor == "postgresql" \
        and not connection.in_atomic_block


def in_processes(fn: Callable[[T], R], tasks: Iterable[T], workers: int, *,
                 ordered: bool = True) -> Iterator[R]:
    """`fn(task)` for every task, in a pool of at most `workers` forked processes; the
    results in the tasks' order (`ordered`) or as they finish. `fn` is a module-level
    function (the pool sends it by name). The caller checks `forkable` first."""
    todo = list(tasks)
    if not todo:
        return
    connections.close_all()  # never share a connection across fork
    with multiprocessing.get_context("fork").Pool(min(workers, len(todo))) as pool:
        work = [(fn, task) for task in todo]
        run = pool.imap if ordered else pool.imap_unordered
        yield from run(_closing, work, chunksize=1)
        pool.close()
        pool.join()


def _closing(work: tuple[Callable[[Any], Any], Any]) -> Any:
    """In a forked process: one task, then its connection closed."""
    fn, task = work
    try:
        return fn(task)
    finally:
        connections.close_all()
