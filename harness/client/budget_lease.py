"""What one process knows of a shared budget account: its lease, and the spend it last saw (no I/O).

:class:`Lease` is this process's side of a lease (see :mod:`harness.client.budget_redis_lua`): the
amount Redis holds for it, how much of it local reservations hold or spent, and until when it may be
used without Redis. Amounts are integers of 10⁻¹² USD. ``spent`` and ``applied`` are cumulative, so a
write-back sends "spent in total" and Redis books the difference once, however often it is repeated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Lease", "Seen"]


@dataclass(slots=True)
class Lease:
    """This process's lease on one account."""

    amount: int = 0  # what Redis holds for this process (as of ``version``)
    version: int = -1  # Redis's version of the record (-1: none yet); older replies are ignored
    applied: int = 0  # spent from the lease, cumulative, that Redis has booked
    spent: int = 0  # spent from the lease, cumulative, by local reservations (≥ applied)
    held: int = 0  # local reservations outstanding against it
    valid_until: float = -math.inf  # local clock: not used at or after this (renewed while Redis answers)
    renew_at: float = -math.inf  # local clock: ask Redis to renew and top up the lease after this
    written_off: bool = False  # Redis wrote it off (not renewed in time): refund due, then a new one

    @property
    def locked(self) -> int:
        """Units of the lease that local reservations hold or spent without Redis knowing yet."""
        return self.held + self.spent - self.applied

    @property
    def dirty(self) -> bool:
        """Something to write back."""
        return self.spent > self.applied or self.written_off

    def available(self, now: float) -> int:
        """What a local reservation may still take now."""
        if now >= self.valid_until or self.written_off:
            return 0
        return max(0, self.amount - self.locked)

    def update(self, amount: int, version: int, state: str, *, sent: float, lease_s: float, renewed: bool) -> None:
        """Take Redis's answer about the lease (ignored when older than what is known)."""
        if state == "-" or version < 0:
            return
        if state == "R":
            self.written_off = True
            return
        if version <= self.version:
            return
        self.amount, self.version = amount, version
        if renewed:  # Redis set its expiry to (its time at the call) + lease_s: sent + lease_s is not later
            self.valid_until = sent + lease_s * 0.98 - 0.05
            self.renew_at = sent + lease_s / 3

    def booked(self, cumulative: int, amount: int, version: int, state: str) -> None:
        """A write-back succeeded: Redis booked spend up to ``cumulative``."""
        self.applied = max(self.applied, cumulative)
        if state == "-":  # released, or written off and refunded: a new lease comes with the next reservation
            self.amount, self.version, self.written_off = 0, -1, False
            self.valid_until = self.renew_at = -math.inf
        elif version > self.version:
            self.amount, self.version = amount, version


@dataclass(frozen=True, slots=True)
class Seen:
    """The spend of an account as of one answer from Redis (what a re-seed after a restart starts from)."""

    spend_key: str  # the key it was read from (a calendar bucket is re-seeded only while current)
    at: float  # Redis time of the answer
    spent: int  # settled spend then
