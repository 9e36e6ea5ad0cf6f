"""Which shard owns a key: rendezvous (highest-random-weight) hashing.

Every shard computes, for a key (an RT camera uid, a direct camera's id, a Perforce server's name, an
analytics platform's name), a weight per shard index and the highest weight wins. All shards agree
without talking to each other, and going from N to N+1 shards moves only the keys the new shard wins
(about 1/(N+1) of them); nothing moves between the old shards.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


def _weight(index: int, key: str) -> int:
    digest = hashlib.blake2b(f"{index}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass(frozen=True)
class Shard:
    """This exporter's place among `count` shards (index 0..count-1)."""

    index: int = 0
    count: int = 1
    _owners: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index}/{self.count}: need 0 <= index < count")

    @property
    def sharded(self) -> bool:
        return self.count > 1

    def owner(self, key: str) -> int:
        """The index of the shard that owns `key`."""
        if self.count == 1:
            return 0
        found = self._owners.get(key)
        if found is None:
            found = max(range(self.count), key=lambda i: _weight(i, key))
            if len(self._owners) > 1_000_000:  # a bound, not a cache policy: keys are few
                self._owners.clear()
            self._owners[key] = found
        return found

    def owns(self, key: str) -> bool:
        return self.owner(key) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """`I/N` as given to `vigil run --shard`."""
    index, sep, count = text.partition("/")
    if not sep or not index.strip().isdigit() or not count.strip().isdigit():
        raise ValueError(f"bad shard {text!r} (write INDEX/COUNT, e.g. 0/4)")
    return Shard(int(index), int(count))
