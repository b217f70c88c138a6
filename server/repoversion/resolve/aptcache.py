"""libapt's caches of the scratch trees, kept per process, and the copy each resolution runs in.

apt's configuration (``apt_pkg.config``) is global to the process, and so is everything
that reads it: every use of ``apt_pkg`` here happens under :data:`APT_LOCK`, with the
tree's settings written first (:func:`configure`). The first use replaces whatever the
process had configured (``archive/debversion.py`` reads the host's apt configuration) by
apt's defaults without the host's ``apt.conf``/``apt.conf.d``: a resolution depends on
the version and the request only, never on the machine's pins or ``APT::Default-Release``.

:class:`Caches` keeps, per tree and Recommends setting, one ``apt_pkg.Cache`` (opening
it parses the lists and initialises its DepCache: most of a cold request, see
docs/lockfiles.md) with an
``ActionGroup`` held on its DepCache and never released: apt-get inhibits action groups
the same way (``InhibitActionGroups``), so no ``MarkAndSweep`` runs while packages are
marked.

That DepCache is never marked. Undoing marks cannot restore it: apt sets a *protected*
flag on the requested packages and propagates it along their single-solution
dependencies, and only ``DepCache.init()`` clears it, so after an undo a later request
that depends on an earlier one's packages fails (``git`` then ``git-gui``: "Unable to
correct problems"). :func:`in_copy` runs each resolution in a forked copy of the
process instead: the copy-on-write child marks its own pages and exits, and the parent's
DepCache stays as opening the cache left it; the fork costs far less than an ``init()``.
A crash or a runaway resolution in the child costs that request only.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from repoversion.errors import InvalidInput, NotFound, RepoversionError, Unavailable
from repoversion.resolve.tree import AptTree

#: held for every use of apt_pkg in this process (its configuration is global)
APT_LOCK = threading.RLock()
#: apt caches kept per process (a Debian main amd64 one is about 60 MB)
MAX_CACHES = 4
#: seconds a resolution may take before its child is killed
TIMEOUT = 120.0
_configured = False


def _apt_pkg() -> Any:
    import apt_pkg

    return apt_pkg


def _baseline() -> None:
    """apt's defaults, once per process, without the host's configuration files."""
    global _configured
    if _configured:
        return
    apt_pkg = _apt_pkg()
    cnf = apt_pkg.config
    for key in cnf.list():
        cnf.clear(key)
    # pkgInitConfig only sets what is unset, then reads these: point them at nothing
    cnf.set("Dir::Etc::main", "/dev/null")
    cnf.set("Dir::Etc::parts", "/dev/null")
    saved = os.environ.pop("APT_CONFIG", None)
    try:
        apt_pkg.init_config()
    finally:
        if saved is not None:
            os.environ["APT_CONFIG"] = saved
    apt_pkg.init_system()
    _configured = True


def configure(tree: AptTree, recommends: bool) -> None:
    """Point apt's (global) configuration at ``tree``; the caller holds :data:`APT_LOCK`."""
    _baseline()
    cnf = _apt_pkg().config
    root = str(tree.root)
    for key, value in {
        "Dir": root + "/",
        "Dir::State": "var/lib/apt/",
        "Dir::State::lists": "lists/",
        "Dir::State::status": root + "/var/lib/dpkg/status",
        "Dir::State::extended_states": root + "/var/lib/apt/extended_states",
        "Dir::Etc": root + "/etc/apt/",
        "Dir::Etc::sourcelist": "sources.list",
        "Dir::Etc::sourceparts": "sources.list.d",
        "Dir::Etc::preferences": "preferences",
        "Dir::Etc::preferencesparts": "preferences.d",
        "Dir::Etc::parts": "apt.conf.d",
        "Dir::Cache": root + "/var/cache/apt/",
        # built in memory: nothing written beside the lists
        "Dir::Cache::pkgcache": "",
        "Dir::Cache::srcpkgcache": "",
        "APT::Architecture": tree.arch,
        "APT::Install-Recommends": "true" if recommends else "false",
        "APT::Install-Suggests": "false",
        "Debug::NoLocking": "true",
        "Acquire::Languages": "none",
    }.items():
        cnf.set(key, value)
    cnf.clear("APT::Architectures")
    cnf.set("APT::Architectures::", tree.arch)


class AptCache:
    """One tree's ``apt_pkg.Cache`` for one Recommends setting, and its DepCache.

    apt reads ``APT::Install-Recommends`` once, when the cache file (and with it the one
    DepCache every ``apt_pkg.DepCache`` object of it wraps) is opened: a request with
    Recommends needs a cache of its own. Opening initialises the DepCache; the action
    group taken then is never released here (see the module's docstring), and nothing
    marks this DepCache outside :func:`in_copy`.

    :raises RepoversionError: apt did not read every list of the tree (it was removed
        while being read: the caller builds it again).
    """

    def __init__(self, tree: AptTree, recommends: bool) -> None:
        apt_pkg = _apt_pkg()
        self.tree = tree
        self.recommends = recommends
        configure(tree, recommends)
        self.cache = apt_pkg.Cache(None)
        read = {os.path.basename(f.filename) for f in self.cache.file_list}
        missing = sorted(set(tree.origins) - read)
        if missing:
            raise RepoversionError(f"apt did not read {missing[0]} in {tree.root}.")
        self.depcache = apt_pkg.DepCache(self.cache)
        self._group = apt_pkg.ActionGroup(self.depcache)
        self._released = False

    def sweep(self) -> None:
        """Release the action group, so apt runs ``MarkAndSweep`` (the autoremover's
        garbage flags); only ever in a copy (:func:`in_copy`)."""
        self.close()

    def close(self) -> None:
        if not self._released:
            self._released = True
            self._group.release()


class Caches:
    """The most recently used :class:`AptCache` objects, at most ``size`` of them."""

    def __init__(self, size: int = MAX_CACHES) -> None:
        self.size = size
        self._lru: OrderedDict[tuple[str, str, bool], AptCache] = OrderedDict()

    def get(self, tree: AptTree, recommends: bool) -> AptCache:
        """The cache of ``tree``, built if needed; the caller holds :data:`APT_LOCK`."""
        key = (str(tree.root), tree.arch, recommends)
        found = self._lru.get(key)
        if found is not None:
            self._lru.move_to_end(key)
            return found
        made = AptCache(tree, recommends)
        self._lru[key] = made
        while len(self._lru) > self.size:
            _, old = self._lru.popitem(last=False)
            old.close()
        return made


#: the process's caches (process-wide, as apt's configuration is)
CACHES = Caches()
#: domain errors a child may report, by name
_ERRORS: dict[str, type[RepoversionError]] = {}


def reported(*classes: type[RepoversionError]) -> None:
    """Let children report these errors (rebuilt in the parent with their message)."""
    for cls in classes:
        _ERRORS[cls.__name__] = cls


reported(RepoversionError, InvalidInput, NotFound)


def in_copy(work: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    """``work()`` run in a forked copy of this process: its JSON-able result.

    The caller holds :data:`APT_LOCK`, so no other thread uses apt while the copy is made.

    :raises RepoversionError: what ``work`` raised, if it is one of the :func:`reported`
        errors; or the child crashed or ran longer than ``timeout`` seconds.
    :raises RuntimeError: ``work`` raised anything else (a bug: the child's message).
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _child(work, write_end)
    os.close(write_end)
    status = 0
    try:
        data = _read_all(read_end, pid, timeout)
    finally:
        os.close(read_end)
        # a SIGCHLD handler elsewhere in the process may have reaped it already
        with contextlib.suppress(ChildProcessError):
            status = os.waitpid(pid, 0)[1]
    return _outcome(data, status)


def _child(work: Callable[[], Any], fd: int) -> None:
    code = 0
    try:
        try:
            payload: dict[str, Any] = {"ok": work()}
        except RepoversionError as exc:
            payload = {"error": type(exc).__name__, "message": exc.message}
        except BaseException as exc:
            payload = {"crash": f"{type(exc).__name__}: {exc}"}
        view = memoryview(json.dumps(payload).encode())
        while view:
            view = view[os.write(fd, view) :]
    except BaseException:
        code = 70
    finally:
        # no atexit handlers, no flushing of the parent's buffers, no finalizers
        os._exit(code)


def _read_all(fd: int, pid: int, timeout: float) -> bytes:
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            os.kill(pid, signal.SIGKILL)
            raise Unavailable(f"Resolving took longer than {timeout:.0f} s and was stopped.")
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _outcome(data: bytes, status: int) -> Any:
    if not data:
        raise RepoversionError(
            f"apt's resolver stopped without an answer ({_describe_status(status)})."
        )
    payload = json.loads(data)
    if "ok" in payload:
        return payload["ok"]
    if "error" in payload:
        raise _ERRORS.get(payload["error"], RepoversionError)(payload["message"])
    raise RuntimeError(f"resolving failed in the child process: {payload['crash']}")


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
