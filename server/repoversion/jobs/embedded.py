"""The worker ``serve`` and ``run`` start beside gunicorn, so one machine needs nothing else.

It is a process of its own, made by multiprocessing's ``spawn`` (a fresh interpreter: none
of the server's threads, sockets or database connections), started once gunicorn is
ready and stopped when it exits: SIGTERM, so it releases a running job, then SIGKILL if it
has not left within :data:`STOP_TIMEOUT`. Should the server die without stopping it, it
notices that its parent changed and stops by itself. ``embedded_worker = false`` turns it
off (server nodes of a cluster with ``repoversion worker`` elsewhere).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess

from repoversion.config import Settings
from repoversion.errors import RepoversionError

log = logging.getLogger(__name__)
#: seconds a stopping worker has to release its job and leave
STOP_TIMEOUT = 10.0


class EmbeddedWorker:
    """The handle a server keeps: :meth:`start` once ready, :meth:`stop` when leaving."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.process: BaseProcess | None = None

    def start(self) -> None:
        if self.process is not None:
            return
        spawn = multiprocessing.get_context("spawn")
        self.process = spawn.Process(
            target=main, args=(self.settings, os.getpid()), name="repoversion-worker"
        )
        self.process.start()
        # gunicorn's workers, forked from this process, inherit multiprocessing's set of
        # children, and its exit handler in each of them would SIGTERM and join this
        # process, which is not theirs. It is stopped by stop(), or by itself when the
        # server is gone.
        multiprocessing.process._children.discard(self.process)  # type: ignore[attr-defined]
        log.info("embedded job worker started (pid %s)", self.process.pid)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        # The sentinel, not is_alive(): gunicorn's master reaps every child it has, this
        # one included, and a reaped process would look alive forever.
        if wait([process.sentinel], 0):
            return
        process.terminate()
        if not wait([process.sentinel], STOP_TIMEOUT):
            log.warning("the embedded job worker did not stop in time; killing it")
            process.kill()
            wait([process.sentinel], STOP_TIMEOUT)


def main(settings: Settings, parent_pid: int) -> None:
    """The embedded worker process: run jobs until told to stop or orphaned."""
    from repoversion.context import Context
    from repoversion.jobs.worker import Worker, configure_logging, exit_now

    configure_logging(settings.log_level)
    ctx = Context(settings)
    worker = Worker(ctx, parent_pid=parent_pid)
    with worker.signals():
        try:
            worker.run()
        except RepoversionError as exc:
            log.error("the embedded job worker stopped: %s", exc.message)
    if worker.abandoned:
        exit_now(0)
    ctx.close()
