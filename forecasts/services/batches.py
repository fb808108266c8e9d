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
            batch_transaction_configure()
            rows = take(batch_size)
            if rows:
                results.extend(handle(rows))
        if len(rows) < batch_size:
            break
    return results


def batch_transaction_configure() -> None:
    """PostgreSQL: a commit that does not wait for its WAL flush, until the transaction ends (JIT is
    off for every Forewarn session: config/settings/base.py).

    Waiting for the flush was about a tenth of a close. A crash may lose the last batches
    committed before it, and that is safe: every step selects its rows by state and its writes are
    idempotent (dedupe keys, sent marks), so the next sweep finds a lost batch due again and
    redoes it. Nothing leaves the database on a lost batch's word: a digest or webhook is sent
    after a claim or lease of its own, whose ordinary commit flushes the WAL, and with it every
    batch committed before."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('synchronous_commit', 'off', true)")
