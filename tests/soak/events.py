"""What happens to the set-up while the load runs, each step timed and judged:

1. upstream changes and a sync is asked through nginx; the worker running it is killed
   (SIGKILL) while it downloads a new pool file that upstream trickles; a second worker
   takes the job over once its lease has passed and commits the version;
2. the tag ``stable`` moves to that version (``PUT /api/v1/tags/stable``);
3. PostgreSQL restarts (:mod:`tests.soak.postgres`);
4. ``repoversion gc --keep 1 --grace 0`` runs (the oldest version is neither the newest
   nor tagged, so it is dropped and its blobs freed), when the command exists.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.deploy.stack import Stack
from tests.soak.checks import Memory
from tests.soak.postgres import Cluster
from tests.soak.upstream import Upstream

#: the worker's job lease in the soak (seconds): how long a killed worker's job waits
LEASE = "5"
#: bytes a second upstream sends the pool file the killed worker is downloading
TRICKLE = 32_000


@dataclass
class Step:
    """One event: when it began (seconds into the load), how long it took, how it went."""

    name: str
    began: float
    took: float
    outcome: str
    ok: bool


class Api:
    """The JSON API through nginx, with an admin token."""

    def __init__(self, stack: Stack, token: str) -> None:
        self.base = stack.front + "/api/v1"
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """:raises RuntimeError: not a 2xx answer."""
        r = self.http.request(method, self.base + path, timeout=30, **kwargs)
        if r.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:200]}")
        return r.json()


def _until(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.1)


#: what every step returns: whether it went well, how (one line), and its data
Outcome = tuple[bool, str, Any]


def sync_with_a_killed_worker(stack: Stack, upstream: Upstream, api: Api) -> Outcome:
    """Step 1; its data is the version committed.

    :raises RuntimeError: the job failed or did not end in time.
    """
    upstream.add_fresh()
    churn = upstream.set_churn("3.0-1", 2_000_000)  # published: 60 s at TRICKLE
    upstream.trickle(churn, TRICKLE)
    job_id = api.call("POST", "/syncs", json={})["id"]
    _until("the worker downloading the new pool file", lambda: upstream.asked_for(churn), 60)
    time.sleep(1.0)  # part of it written to the store's temporary file
    doomed = stack.workers[-1]
    running = api.call("GET", f"/syncs/{job_id}")["state"]
    doomed.kill()
    killed = time.monotonic()
    stack.start_worker("worker-2", REPOVERSION_JOB_LEASE=LEASE)

    def finished() -> dict[str, Any] | None:
        job: dict[str, Any] = api.call("GET", f"/syncs/{job_id}")
        return job if job["state"] in ("succeeded", "failed") else None

    job = _until(f"sync job {job_id}", finished, 120)
    if job["state"] != "succeeded":
        raise RuntimeError(f"sync job {job_id} failed: {job['error']}")
    version = str(job["result"]["repoversion"])
    text = (
        f"job {job_id} was {running} when its worker was killed; taken over, {version} "
        f"committed {time.monotonic() - killed:.1f} s after the kill (lease {LEASE} s); "
        f"the pool file was asked of upstream {upstream.asked_for(churn)} times"
    )
    return running == "running", text, version


def move_tag(api: Api, version: str) -> Outcome:
    moved = api.call("PUT", "/tags/stable", json={"repoversion": version})
    ok = moved["repoversion"] == version and moved["changed"]
    return ok, f"stable: {moved['previous']} -> {moved['repoversion']}", None


def restart_postgres(cluster: Cluster) -> Outcome:
    """Step 3; its data is the wall-clock (began, accepting connections again)."""
    began, back = cluster.restart()
    return True, f"down and back in {back - began:.2f} s (pg_ctl restart -m fast)", (began, back)


def run_gc(stack: Stack) -> Outcome:
    """Step 4; its data says whether it ran. Without the command: "gc: not available"."""
    if stack.cli("gc", "--help", check=False).returncode != 0:
        print("gc: not available", flush=True)
        return False, "gc: not available (`repoversion gc --help` fails)", False
    done = stack.cli("gc", "--keep", "1", "--grace", "0", check=False)
    said = (done.stdout.strip() or done.stderr.strip()).splitlines()
    text = f"exit {done.returncode}: {said[-1] if said else '(nothing printed)'}"
    return done.returncode == 0, text, True


def timed(name: str, load_began: float, action: Any) -> tuple[Step, Any]:
    """Run ``action()`` (an :data:`Outcome`); the Step for the table and the data (None
    when it raised)."""
    t0 = time.monotonic()
    try:
        ok, text, data = action()
    except Exception as exc:  # a failed event is a result of the soak, not a crash
        return Step(name, t0 - load_began, time.monotonic() - t0, f"{exc}"[:300], False), None
    return Step(name, t0 - load_began, time.monotonic() - t0, text, ok), data


@dataclass
class Actors:
    """Who takes part: the set-up, upstream, the API, PostgreSQL, the RSS sampler."""

    stack: Stack
    upstream: Upstream
    api: Api
    cluster: Cluster
    memory: Memory


@dataclass
class Happened:
    """The steps; the restart's window (wall clock); the version GC dropped; whether the
    events ran past the last RSS sample (then the load did not cover them all)."""

    steps: list[Step] = field(default_factory=list)
    window: tuple[float, float] | None = None
    dropped: str | None = None
    late: bool = False


def _at(t0: float, seconds: float) -> None:
    time.sleep(max(0.0, t0 + seconds - time.monotonic()))


def timeline(who: Actors, oldest: str, seconds: int) -> Happened:
    """The events, from the start of a load of ``seconds``: RSS at 5 s, the sync (then
    the tag), PostgreSQL's restart at 45 %, RSS at 55 %, GC at 65 % (it should drop
    ``oldest``), RSS 3 s before the end."""
    t0, out = time.monotonic(), Happened()
    _at(t0, 5)
    who.memory.sample("start", time.monotonic() - t0)
    step, newest = timed(
        "sync with its worker killed",
        t0,
        lambda: sync_with_a_killed_worker(who.stack, who.upstream, who.api),
    )
    out.steps.append(step)
    if newest is not None:
        out.steps.append(timed("tag moves", t0, lambda: move_tag(who.api, newest))[0])
    _at(t0, 0.45 * seconds)
    step, out.window = timed("PostgreSQL restart", t0, lambda: restart_postgres(who.cluster))
    out.steps.append(step)
    _at(t0, 0.55 * seconds)
    who.memory.sample("middle", time.monotonic() - t0)
    _at(t0, 0.65 * seconds)
    step, ran = timed("gc --keep 1 --grace 0", t0, lambda: run_gc(who.stack))
    out.steps.append(step)
    out.dropped = oldest if ran and step.ok else None
    out.late = time.monotonic() - t0 > seconds - 3
    _at(t0, seconds - 3)
    who.memory.sample("end", time.monotonic() - t0)
    return out
