"""Small thread-safe caches for what never changes once committed.

>>> c: LRU[str, int] = LRU(2)
>>> c.put("a", 1); c.put("b", 2); c.put("c", 3)
>>> c.get("a") is None, c.get("c")
(True, 3)
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A bounded least-recently-used map, optionally with a time to live.

    :param size: the most entries kept.
    :param ttl: seconds an entry stays valid; ``None`` for ever.
    :param clock: the monotonic clock (tests pass their own).
    """

    def __init__(
        self, size: int, ttl: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.size = size
        self.ttl = ttl
        self._clock = clock
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value of ``key``, or ``None`` when absent or expired.

        :param key: the key.
        """
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            if self.ttl is not None and self._clock() - item[0] > self.ttl:
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return item[1]

    def put(self, key: K, value: V) -> None:
        """Store ``value`` under ``key``, evicting the least recently used entry if full.

        :param key: the key.
        :param value: the value (not ``None``: ``get`` uses it for "absent").
        """
        with self._lock:
            self._data[key] = (self._clock(), value)
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
