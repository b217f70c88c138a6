"""Reading ``/metrics`` in tests: parsed by prometheus_client's own parser, so a malformed
exposition fails the test.

>>> s = Samples.parse('# TYPE a_total counter\\na_total{route="/x",status="200"} 2.0\\n'
...                   'a_total{route="/y",status="200"} 1.0\\n')
>>> s.total("a_total", status="200"), s.total("a_total", route="/y"), s.total("b")
(3.0, 1.0, 0.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Samples:
    """Every sample of one scrape: ``(name, labels, value)``, and the metric types."""

    rows: list[tuple[str, dict[str, str], float]]
    types: Mapping[str, str]

    @classmethod
    def parse(cls, text: str) -> Samples:
        rows: list[tuple[str, dict[str, str], float]] = []
        types: dict[str, str] = {}
        for family in text_string_to_metric_families(text):
            types[family.name] = family.type
            rows.extend((s.name, dict(s.labels), s.value) for s in family.samples)
        return cls(rows, types)

    def total(self, name: str, **labels: str) -> float:
        """The sum of the samples ``name`` whose labels include ``labels``."""
        return sum(
            value
            for n, have, value in self.rows
            if n == name and all(have.get(k) == v for k, v in labels.items())
        )

    def names(self) -> set[str]:
        return {n for n, _, _ in self.rows}
