"""Jobs: slow work queued in the database and run by workers (docs/jobs.md).

A job is a row of the ``job`` table (:class:`~repoversion.db.models.Job`). Anyone enqueues
one (:func:`.queue.enqueue`, behind ``actions.enqueue_sync`` and ``POST /api/v1/syncs``);
a worker (:class:`.worker.Worker`: ``repoversion worker``, or the one ``serve`` and ``run``
start, :mod:`.embedded`) claims it, runs it (:mod:`.kinds`) and records its result or its
error sentence. Any number of workers on any number of machines share one queue:

- **claim**: PostgreSQL takes the oldest claimable row with ``FOR UPDATE SKIP LOCKED``,
  so workers never wait for each other; SQLite, whose writers share one machine, claims
  with an ``UPDATE … WHERE state = 'queued'`` whose row count says who won.
- **lease**: a running job is its worker's until ``lease_until`` (the ``job_lease``
  setting), renewed by the worker's heartbeat; once it passes, the worker is taken for
  dead and another worker claims the job again (a sync killed half-way commits nothing,
  so running it again is safe). After :data:`.queue.MAX_ATTEMPTS` takes it is given up.
- **one sync at a time**: enqueueing a sync while one is queued or running raises
  :class:`.queue.SyncQueued` naming that job; the check and the insert happen in one
  transaction under a lock, so two requests cannot both pass.
- **schedule**: with ``sync_every`` set, every worker queues a sync once the last one
  started longer ago than that; the one-sync rule makes that safe with many workers.
"""
