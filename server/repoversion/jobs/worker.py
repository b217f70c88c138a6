"""A worker: takes jobs from the queue and runs them, one at a time, until told to stop.

The job runs in a thread; the worker's own thread is its heartbeat, once a second:
it writes the job's progress when it changed and renews the lease every third of
``job_lease``. When the job ends, its result or its error sentence is recorded (an
unexpected exception gets a generic sentence; its traceback goes to the log only).

SIGTERM or SIGINT (:meth:`Worker.signals`) stops the worker: between jobs at once; during
one, the job is released to the queue (:func:`.queue.release`) and the process must then
leave at once (:attr:`Worker.abandoned`, :func:`exit_now`), since the job's thread cannot
be stopped and a sync killed half-way commits nothing. The worker ``serve`` embeds also
stops when its parent, the server, is gone.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn, TypeVar

from repoversion.config import parse_duration
from repoversion.context import Context
from repoversion.db.session import transaction
from repoversion.errors import RepoversionError, from_exception
from repoversion.jobs import queue
from repoversion.jobs.kinds import RUNNERS, JobProgress, sync_params
from repoversion.jobs.queue import Claimed, wall_clock

log = logging.getLogger(__name__)
T = TypeVar("T")

#: seconds between two looks at an empty queue
POLL = 1.0
#: seconds between heartbeats: progress is written at most this often
TICK = 1.0
UNEXPECTED = "Job {id} failed unexpectedly; the worker's log has the details."


@dataclass
class Outcome:
    """How a job ended: ``result`` or the ``error`` sentence."""

    result: dict[str, Any] | None = None
    error: str | None = None


class Worker:
    """Runs the queue's jobs in this process.

    :param parent_pid: stop once process ``parent_pid`` is no longer this one's parent
        (the embedded worker, when the server died without stopping it).
    """

    def __init__(self, ctx: Context, *, parent_pid: int | None = None) -> None:
        self.ctx = ctx
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.lease = timedelta(seconds=ctx.settings.job_lease)
        every = ctx.settings.sync_every
        self.period = parse_duration(every) if every else None
        self.parent_pid = parent_pid
        self.stopping = threading.Event()
        #: a job's thread still runs (released): the process must leave through exit_now
        self.abandoned = False

    def stop(self, *_: object) -> None:
        """Stop taking jobs; release the running one (a signal handler)."""
        self.stopping.set()

    @contextmanager
    def signals(self) -> Iterator[None]:
        """SIGTERM and SIGINT stop the worker inside the block (main thread only)."""
        previous = {sig: signal.signal(sig, self.stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _should_stop(self) -> bool:
        if self.parent_pid is not None and os.getppid() != self.parent_pid:
            self.stopping.set()
        return self.stopping.is_set()

    def run(self, once: bool = False) -> list[tuple[Claimed, Outcome]]:
        """Run jobs until stopped; with ``once``, at most one (none when none is queued).

        :returns: the jobs run, with how each ended.
        :raises RepoversionError: the database's schema is missing or outdated.
        """
        self.ctx.sessions  # noqa: B018 - refuse a missing or outdated schema at once
        ran: list[tuple[Claimed, Outcome]] = []
        failures = 0
        while not self._should_stop():
            try:
                self._schedule()
                claimed = self._db(self._claim)
            except RepoversionError as exc:  # the database is out of reach: wait, retry
                failures += 1
                log.warning("%s", exc.message)
                self.stopping.wait(min(30.0, POLL * 2**failures))
                continue
            failures = 0
            if claimed is None:
                if once:
                    break
                self.stopping.wait(POLL)
                continue
            outcome = self._run(claimed)
            if outcome is None:
                break
            ran.append((claimed, outcome))
            if once:
                break
        return ran

    # -- the queue ------------------------------------------------------------------------

    def _db(self, action: Callable[[Any], T]) -> T:
        """``action(session)`` in a transaction; database failures as one sentence.

        :raises RepoversionError: the database is busy or out of reach.
        """
        try:
            with transaction(self.ctx.sessions) as session:
                return action(session)
        except RepoversionError:
            raise
        except Exception as exc:
            known = from_exception(exc)
            if known is None:
                raise
            raise known from exc

    def _claim(self, session: Any) -> Claimed | None:
        return queue.claim(session, self.name, wall_clock(), self.lease, RUNNERS)

    def _schedule(self) -> None:
        """With ``sync_every`` set, queue a sync when the last one started long enough ago."""
        if self.period is None:
            return
        period = self.period

        def enqueue(session: Any) -> int | None:
            at = wall_clock()
            if not queue.due(session, "sync", period, at):  # cheap: no lock
                return None
            try:
                job = queue.enqueue_if_due(session, "sync", sync_params({}), at, period)
            except queue.SyncQueued:  # another worker was quicker
                return None
            return job.id if job is not None else None

        job_id = self._db(enqueue)
        if job_id is not None:
            log.info("queued sync job %d (sync_every = %s)", job_id, self.ctx.settings.sync_every)

    # -- one job --------------------------------------------------------------------------

    def _run(self, claimed: Claimed) -> Outcome | None:
        """Run ``claimed`` to its end; None when the worker was stopped (job released)."""
        runner, make_progress = RUNNERS[claimed.kind]
        progress = make_progress()
        outcome = Outcome()
        done = threading.Event()

        def target() -> None:
            try:
                outcome.result = runner(self.ctx, claimed.params, progress)
            except BaseException as exc:
                outcome.error = self._sentence(claimed, exc)
            finally:
                done.set()

        log.info("job %d (%s) started, attempt %d", claimed.id, claimed.kind, claimed.attempts)
        threading.Thread(target=target, name=f"job-{claimed.id}", daemon=True).start()
        beat = _Heartbeat(self, claimed, progress)
        while not done.wait(TICK):
            if self._should_stop():
                self._release(claimed)
                return None
            beat()
        self._finish(claimed, outcome, progress)
        return outcome

    def _sentence(self, claimed: Claimed, exc: BaseException) -> str:
        known = from_exception(exc)
        if known is not None:
            return known.message
        log.error("job %d (%s) failed unexpectedly", claimed.id, claimed.kind, exc_info=exc)
        return UNEXPECTED.format(id=claimed.id)

    def _finish(self, claimed: Claimed, outcome: Outcome, progress: JobProgress) -> None:
        def finish(session: Any) -> bool:
            return queue.finish(
                session,
                claimed.id,
                self.name,
                wall_clock(),
                result=outcome.result,
                error=outcome.error,
                progress=progress.snapshot(),
            )

        for attempt in range(5):  # the database may be away for a moment
            try:
                mine = self._db(finish)
                break
            except RepoversionError as exc:
                log.warning("job %d: cannot record its end: %s", claimed.id, exc.message)
                time.sleep(2**attempt)
        else:
            return  # its lease will pass and another worker will run it again
        if not mine:
            log.warning("job %d ended here, but another worker had taken it over", claimed.id)
        elif outcome.error is not None:
            log.warning("job %d (%s) failed: %s", claimed.id, claimed.kind, outcome.error)
        else:
            log.info("job %d (%s) succeeded", claimed.id, claimed.kind)

    def _release(self, claimed: Claimed) -> None:
        self.abandoned = True
        try:
            self._db(lambda s: queue.release(s, claimed.id, self.name, wall_clock()))
        except RepoversionError as exc:  # its lease will pass instead
            log.warning("job %d: cannot release it: %s", claimed.id, exc.message)
            return
        log.info("job %d (%s) released: the worker was told to stop", claimed.id, claimed.kind)


class _Heartbeat:
    """Writes a running job's progress when it changed and renews its lease in time."""

    def __init__(self, worker: Worker, claimed: Claimed, progress: JobProgress) -> None:
        self.worker = worker
        self.claimed = claimed
        self.progress = progress
        self.written: dict[str, int] | None = None
        self.renewed = time.monotonic()
        self.lost = False

    def __call__(self) -> None:
        snapshot = self.progress.snapshot()
        renew_in = self.worker.lease.total_seconds() / 3
        if snapshot == self.written and time.monotonic() - self.renewed < renew_in:
            return
        w, claimed = self.worker, self.claimed
        try:
            mine = w._db(
                lambda s: queue.heartbeat(s, claimed.id, w.name, wall_clock(), w.lease, snapshot)
            )
        except RepoversionError as exc:
            log.warning("job %d: heartbeat failed: %s", claimed.id, exc.message)
            return
        self.written, self.renewed = snapshot, time.monotonic()
        if not mine and not self.lost:
            self.lost = True
            log.warning("job %d: its lease passed and another worker took it", claimed.id)


def configure_logging(level: str) -> None:
    """Log lines on stderr, as gunicorn's: a worker has no terminal to draw on."""
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
    )


def exit_now(code: int = 0) -> NoReturn:
    """Leave the process without waiting for a released job's threads."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
