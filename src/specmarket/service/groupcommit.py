"""Group commit of sealed reports: concurrent ``PUT …/report`` requests of one worker process
share one database transaction.

Each request checks its report (no database), queues it and waits. Whenever reports are queued
and no batch is being written, the next batch takes every queued report (at most
:data:`MAX_BATCH`) and :meth:`MarketService.write_reports` stores them in one transaction; only
after its commit does each request get its answer, so a report answered 2xx is committed exactly
as with one transaction per report (it survives ``kill -9`` of the server). Reports that arrive
while a batch is being written form the next one: no timer, no added wait when the server is idle.

Why: a transaction costs its begin, its commit and a few round trips (on PostgreSQL also a WAL
flush) whatever it holds; one per batch instead of one per report is what lets one worker
acknowledge thousands of reports per second. On SQLite the batch runs on the event loop (one
writer at a time anyway, and a batch takes about a millisecond; if a longer write such as a close
holds this process's writer lock, the batch waits in a worker thread instead); on PostgreSQL it
runs in a worker thread, so the loop keeps reading requests meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.concurrency import run_in_threadpool

from specmarket.service.domain import MarketService, PendingReport, WouldBlock

log = logging.getLogger("specmarket.service")

#: Most reports in one transaction (bounds the statements' parameter lists).
MAX_BATCH = 256


class GroupCommit:
    """The queue of one worker process (see the module docstring)."""

    def __init__(self, service: MarketService) -> None:
        self.service = service
        self.on_loop = service.engine.dialect.name == "sqlite"
        self._queue: list[tuple[PendingReport, asyncio.Future[tuple[int, dict[str, Any]]]]] = []
        self._writing = False
        self._task: asyncio.Task[None] | None = None  # kept: a bare task may be collected

    async def submit(self, pending: PendingReport) -> tuple[int, dict[str, Any]]:
        """Queue a checked report; return its answer once its batch committed (or raise its
        refusal: 404, 409, 422 on ``Idempotency-Key``)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, dict[str, Any]]] = loop.create_future()
        self._queue.append((pending, future))
        if not self._writing:
            self._writing = True
            self._task = loop.create_task(self._drain())
        return await future

    async def _write(self, items: list[PendingReport]) -> None:
        if self.on_loop:
            try:
                self.service.write_reports(items, wait=False)
                return
            except WouldBlock:
                pass
        await run_in_threadpool(self.service.write_reports, items)

    async def _drain(self) -> None:
        batch: list[tuple[PendingReport, asyncio.Future[tuple[int, dict[str, Any]]]]] = []
        try:
            while self._queue:
                batch = self._queue[:MAX_BATCH]
                del self._queue[:MAX_BATCH]
                items = [p for p, _ in batch]
                try:
                    await self._write(items)
                except Exception:
                    if len(items) == 1:
                        raise
                    # one report's trouble must not sink the others: each alone
                    log.warning("batch of %d reports failed; writing each alone", len(items))
                    for p, _ in batch:
                        try:
                            await self._write([p])
                        except Exception as exc:  # that one alone fails: its request 500s
                            p.error = exc
                for p, future in batch:
                    if future.done():
                        continue
                    if p.error is not None:
                        future.set_exception(p.error)
                    elif p.result is None:
                        future.set_exception(RuntimeError("report not written"))
                    else:
                        future.set_result(p.result)
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
        finally:
            self._writing = False
            if self._queue:  # queued while the last batch failed: start again
                self._writing = True
                self._task = asyncio.get_running_loop().create_task(self._drain())
