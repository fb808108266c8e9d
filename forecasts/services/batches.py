"""Locked batches: the unit of work of every sweep step.

Each step selects rows by state, locks up to a batch of them with SELECT ... FOR UPDATE SKIP
LOCKED (PostgreSQL; SQLite's IMMEDIATE transactions serialize writers instead), writes the whole
batch with a constant number of queries and commits. A second sweep running at the same time
skips the rows the first one holds, a rerun finds nothing left to do, and a worker killed
mid-sweep loses only its open batch, which rolls back and is found again next time.
"""

from collections.abc import Callable

from django.db import connection, transaction
from django.db.models import QuerySet

MAX_BATCHES_PER_STEP = 100_000


def in_locked_batches(queryset: QuerySet, handle: Callable[[list], list], *, batch_size: int) -> list:
    """Lock up to `batch_size` rows at a time, skipping rows another sweep holds, and let `handle`
    write them in the same transaction; `handle` must make the rows no longer match the queryset."""
    return in_batches(
        lambda size: list(queryset.select_for_update(skip_locked=True, of=("self",))[:size]),
        handle,
        batch_size=batch_size,
    )


def in_batches(take: Callable[[int], list], handle: Callable[[list], list], *, batch_size: int) -> list:
    """Run `take(batch_size)` (which locks, and may already write, up to that many rows) and then
    `handle` on what it took, one transaction per batch, until a batch comes back short."""
    results = []
    for _ in range(MAX_BATCHES_PER_STEP):
        with transaction.atomic():
            jit_off_for_transaction()
            rows = take(batch_size)
            if rows:
                results.extend(handle(rows))
        if len(rows) < batch_size:
            break
    return results


def jit_off_for_transaction() -> None:
    """PostgreSQL: no JIT compilation until the transaction ends. A sweep's statements touch a
    batch of rows, but the visibility subqueries inflate their estimates past jit_above_cost, and
    compiling then takes longer than running (about 150 ms before a statement of a few ms)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
