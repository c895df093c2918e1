"""The request path's economies keep their behaviour: constructors, deadlines, packed outcome rows,
remembered token counts, the limiter's and the budget's buckets, exact integer costs."""

from __future__ import annotations

import asyncio
import dataclasses
import math
from decimal import Decimal

import pytest

from harness import vtime
from harness.client import ChatRequest, ChatResponse, HttpRequest, Message, OutcomeLog, Permit
from harness.client.budget import ROLLING_BUCKETS, BudgetLedger, BudgetReservation, BudgetRule
from harness.client.cost import Attribution, CostTracker
from harness.client.fastinit import positional_maker
from harness.client.limiter import Demand, LimitConfig, RateLimiter
from harness.client.logical import LogicalRequest
from harness.client.retry import AdaptiveThrottle
from harness.client.streaming import DeadlineWatch
from harness.clock import ManualClock
from harness.errors import BudgetExceeded, ConfigError
from harness.packed_rows import PackedRows
from harness.pricing import ModelPrice, PriceTable, Usage
from harness.records import AttemptRecord, OutcomeRecord
from harness.tokenizer import count_messages


# ------------------------------------------------------------------------------------ constructors
def test_positional_makers_build_the_same_frozen_objects() -> None:
    usage = Usage(3, 4)
    args = (
        "t", "m", "openai", "stop", usage, Decimal("0.1"), "id", 1, ("x",), 0.5, None, Decimal("0.1"),
        "provider", (), "", None, None,
    )  # fmt: skip
    made = positional_maker(ChatResponse)(*args)
    assert made == ChatResponse(*args)
    assert hash(made) == hash(ChatResponse(*args))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.text = "changed"  # type: ignore[misc]
    assert positional_maker(Permit)(1, 2, False, 3.0) == Permit(1, 2, False, 3.0)
    assert positional_maker(HttpRequest)("POST", "u", {"a": "b"}, b"x") == HttpRequest("POST", "u", {"a": "b"}, b"x")
    held = positional_maker(BudgetReservation)("b1", Decimal(1), Attribution("m"), ((0, "global"),), "memory")
    assert held == BudgetReservation("b1", Decimal(1), Attribution("m"), ((0, "global"),))


def test_positional_makers_fall_back_to_the_class_where_init_does_more() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            if self.a < 0:
                raise ValueError("a")

    assert positional_maker(NoSlots) is NoSlots
    assert positional_maker(Checked) is Checked  # its validation is kept
    assert positional_maker(LimitConfig) is LimitConfig


# ------------------------------------------------------------------------------------ deadlines
def test_a_deadline_watch_cancels_each_task_at_its_own_time_on_one_timer() -> None:
    async def main() -> tuple[list[tuple[str, float]], DeadlineWatch]:
        loop = asyncio.get_running_loop()
        watch = DeadlineWatch()
        seen: list[tuple[str, float]] = []

        async def attempt(name: str, at: float, takes: float) -> None:
            timer = watch.deadline()
            timer.arm(at, "attempt")
            try:
                await asyncio.sleep(takes)
                seen.append((name, loop.time()))
            except asyncio.CancelledError:
                assert timer.expired()  # it was this deadline (the cancellation is withdrawn)
                seen.append((name + " timed out", loop.time()))
            finally:
                timer.disarm()

        await asyncio.gather(attempt("late", 3.0, 10), attempt("early", 1.0, 10), attempt("quick", 2.0, 0.5))
        return seen, watch

    seen, watch = vtime.run(main())
    assert seen == [("quick", 0.5), ("early timed out", 1.0), ("late timed out", 3.0)]
    assert len(watch) == 0
    assert "0 armed" in repr(watch)


def test_a_watch_with_nothing_armed_holds_no_loop_timer() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        watch = DeadlineWatch()
        timer = watch.deadline()
        timer.arm(loop.time() + 60, "attempt")
        assert len(loop._scheduled) == 1  # type: ignore[attr-defined]
        timer.disarm()
        # withdrawn, so a virtual-time loop never jumps to it while it waits for something else
        assert all(h.cancelled() for h in loop._scheduled)  # type: ignore[attr-defined]
        await asyncio.sleep(0)

    vtime.run(main())
    vtime.run(main())  # the same code on a second loop


def test_a_watch_follows_its_client_to_a_new_loop() -> None:
    watch = DeadlineWatch()

    async def main() -> float:
        loop = asyncio.get_running_loop()
        timer = watch.deadline()
        timer.arm(loop.time() + 1, "total")
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            assert timer.expired()
        return loop.time()

    assert vtime.run(main(), start=10) == 11
    assert vtime.run(main(), start=100) == 101


# ------------------------------------------------------------------------------------ outcome rows
def test_outcome_rows_are_packed_and_read_back_exactly() -> None:
    log = OutcomeLog()
    attempts = (AttemptRecord(0, 1.5, 2.5, "m", 429, "RateLimited", "req_1", math.inf, 0.25),)
    record = OutcomeRecord("r1", False, "RateLimited", -0.0, 2.75, "m", ttft_s=math.nan, attempts=attempts)
    log.write(record)
    for n in range(PackedRows.BLOCK - 1):
        log.write(dataclasses.replace(record, id=f"r1-{n}"))
    assert [type(b) for b in log._rows._blocks] == [bytes]  # sealed: the garbage collector never sees it
    back = log.records[0]
    assert back.attempts == attempts
    assert math.isnan(back.ttft_s or 0.0)
    assert str(back.t_start) == "-0.0"
    assert dataclasses.replace(back, ttft_s=None) == dataclasses.replace(record, ttft_s=None)


def test_a_row_marshal_cannot_pack_is_kept_as_it_is() -> None:
    class Label(str):
        pass

    log = OutcomeLog()
    record = OutcomeRecord("r2", True, "ok", 0.0, 1.0, "m", user=Label("ana"))
    others = [OutcomeRecord(f"r3-{n}", True, "ok", 0.0, 1.0, "m") for n in range(PackedRows.BLOCK)]
    for r in (record, *others):
        log.write(r)
    assert [type(b) for b in log._rows._blocks] == [tuple]  # the block with the odd value: its rows
    assert list(log) == [record, *others]
    assert type(log.records[0].user) is Label


# ------------------------------------------------------------------------------------ token counts
def test_remembered_token_counts_equal_the_tokenizer() -> None:
    prompts = [
        (Message("system", "Be brief."), Message("user", "Hello, world!")),
        (Message("user", "Hello, world!"),),
        (Message("user", "héllo wörld 12345 ... " * 50), Message("assistant", "")),
        (Message("user", "Hello, world!"),),
    ]
    for messages in prompts:
        lr = LogicalRequest(ChatRequest("m", messages), "id", 0.0, None, None)
        assert lr.prompt_tokens() == count_messages([(m.role, m.content) for m in messages])


# ------------------------------------------------------------------------------------ the limiter
def test_grants_by_the_fast_path_book_and_settle_like_reservations() -> None:
    clock = ManualClock()
    fast = RateLimiter(LimitConfig(rpm=10, tpm=1000, transit_margin_s=0), clock=clock)
    slow = RateLimiter(LimitConfig(rpm=10, tpm=1000, transit_margin_s=0), clock=clock)
    grant = fast.grant_now(100, 200)
    reservation = slow.reserve(Demand(100, 200))
    assert grant is not None
    assert reservation.granted
    assert fast.in_window() == slow.in_window() == (1.0, 300.0, 100.0, 200.0)
    fast.settle_grant(grant, 100, 200, Usage(100, 20))
    slow.settle_now(reservation, Usage(100, 20))
    assert fast.in_window() == slow.in_window() == (1.0, 120.0, 100.0, 20.0)
    second = fast.grant_now(5, 5)
    assert second is not None
    fast.cancel_grant(second, 5, 5)
    assert fast.in_window() == (1.0, 120.0, 100.0, 20.0)
    assert fast.grant_now(1, 1, "no-such-lane") is None  # reserve decides (and names the bad lane)
    assert fast.grant_now(900, 0) is None  # does not fit now: reserve queues it
    queued = fast.reserve(Demand(900, 0))
    assert not queued.granted
    assert fast.grant_now(1, 1) is None  # a queue is waiting: no jumping it
    clock.advance(61)
    assert fast.in_window() == (0.0, 0.0, 0.0, 0.0)
    fast.settle_grant(grant, 100, 200, Usage(100, 500))  # out of the window: nothing to correct
    assert fast.in_window() == (0.0, 0.0, 0.0, 0.0)


def test_the_window_holds_a_bounded_number_of_buckets() -> None:
    clock = ManualClock()
    lim = RateLimiter(LimitConfig(rpm=10**9, tpm=10**12, transit_margin_s=0), clock=clock)
    for _ in range(200_000):  # 2,000 requests/s for 100 s
        grant = lim.grant_now(10, 10)
        assert grant is not None
        lim.settle_grant(grant, 10, 10, Usage(10, 5))
        clock.advance(0.0005)
    assert len(lim._log) <= 60 / 0.1 + 1
    assert lim.in_window()[0] == pytest.approx(120_000, rel=0.002)
    assert "buckets=" in repr(lim)


def test_capacity_comes_back_one_window_after_the_last_admission_of_its_bucket() -> None:
    clock = ManualClock()
    lim = RateLimiter(LimitConfig(rpm=2, transit_margin_s=0), clock=clock)
    assert lim.reserve(Demand()).granted
    clock.advance(0.05)  # same 100 ms bucket
    assert lim.reserve(Demand()).granted
    queued = lim.reserve(Demand())
    assert queued.wait_s == pytest.approx(60)  # the bucket's last admission (t=0.05) + 60 s: never earlier
    clock.advance(59.96)
    assert not lim.reserve(Demand(), ticket=queued).granted  # the first admission's minute has passed, not the bucket's
    clock.advance(0.05)
    assert lim.reserve(Demand(), ticket=queued).granted


def test_bucket_length_is_validated_and_parsed() -> None:
    assert LimitConfig.parse({"rpm": 5, "bucket_s": 0.5}).bucket_s == 0.5
    with pytest.raises(ConfigError, match=r"limits\.bucket_s"):
        LimitConfig(rpm=5, window_s=1, bucket_s=2)
    with pytest.raises(ConfigError, match=r"limits\.bucket_s"):
        LimitConfig.parse({"bucket_s": 0})
    assert LimitConfig(rpm=8, bucket_s=0.2).scaled(0.5).bucket_s == 0.2


# ------------------------------------------------------------------------------------ budgets
def test_a_total_budget_counts_settled_spend_whatever_its_mode() -> None:
    clock = ManualClock(1000.0)
    for mode in ("rolling", "calendar"):
        ledger = BudgetLedger([BudgetRule("global", "*", "total", mode, hard_usd=Decimal(1))], clock=clock, wall=clock)
        for _ in range(2):
            ledger.settle(ledger.reserve(Decimal("0.5"), Attribution("m")), Decimal("0.5"))
        assert ledger.spent(0, "global") == Decimal(1)
        with pytest.raises(BudgetExceeded):
            ledger.reserve(Decimal("0.01"), Attribution("m"))
        clock.advance(10 * 86400)
        assert ledger.spent(0, "global") == Decimal(1)  # total never rolls


def test_rolling_spend_leaves_with_the_last_spend_of_its_bucket_never_earlier() -> None:
    clock = ManualClock(0.0)
    ledger = BudgetLedger([BudgetRule("global", "*", "hour", "rolling", hard_usd=Decimal(10))], clock=clock, wall=clock)
    bucket_s = 3600 / ROLLING_BUCKETS
    ledger.settle(ledger.reserve(Decimal(1), Attribution("m")), Decimal(1))
    clock.advance(bucket_s / 2)
    ledger.settle(ledger.reserve(Decimal(2), Attribution("m")), Decimal(2))
    clock.set(3600.0)
    assert ledger.spent(0, "global") == Decimal(3)  # the first spend's hour is over; its bucket's is not
    clock.set(3600 + bucket_s / 2)
    assert ledger.spent(0, "global") == 0
    for i in range(20_000):  # a day-long stream of spends keeps ~ROLLING_BUCKETS entries, not 20,000
        clock.set(10_000 + i * 0.5)
        ledger.settle(ledger.reserve(Decimal("0.0001"), Attribution("m")), Decimal("0.0001"))
    assert len(ledger._accounts[(0, "global")].spends) <= ROLLING_BUCKETS + 1


def test_a_calendar_spend_settled_after_the_boundary_counts_in_the_new_period() -> None:
    clock = ManualClock(3599.5)
    ledger = BudgetLedger([BudgetRule("global", "*", "hour", "calendar", hard_usd=Decimal(5))], clock=clock, wall=clock)
    held = ledger.reserve(Decimal(1), Attribution("m"))
    clock.advance(1)  # the hour changes while the request is in flight
    ledger.settle(held, Decimal(1))
    assert ledger.spent(0, "global") == Decimal(1)


# ------------------------------------------------------------------------------------ costs
@pytest.mark.parametrize(
    ("price", "usage"),
    [
        (ModelPrice.per_million("0.15", "0.60", "0.075"), Usage(13, 16)),
        (ModelPrice.per_million("0.15", "0.60", "0.075"), Usage(1000, 0, 1000)),
        (ModelPrice.per_million("3.00", "15.00", "0.30", "3.75"), Usage(1200, 7, 100, 300)),
        (ModelPrice(Decimal("1E+1"), Decimal("2.5")), Usage(10, 10)),
        (ModelPrice(Decimal("0.000001"), Decimal("1000000")), Usage(0, 0)),
        (ModelPrice(Decimal("7"), Decimal("0")), Usage(1_000_000, 3)),
    ],
)
def test_integer_costs_equal_decimal_costs_to_the_representation(price: ModelPrice, usage: Usage) -> None:
    tracker = CostTracker(PriceTable({"m": price}))
    got = tracker.record_for(Attribution("m", "ana"), usage)
    want = price.cost(usage)
    assert (got, str(got)) == (want, str(want))
    assert str(tracker.total) == str(Decimal(0) + want)
    assert tracker.usage("user") == {"ana": usage}


def test_the_cost_tracker_follows_a_new_price_table_and_refuses_bad_usage() -> None:
    tracker = CostTracker(PriceTable({"m": ModelPrice.per_million("1", "1")}))
    assert tracker.record("m", Usage(1_000_000, 0)) == Decimal(1)
    tracker.prices = PriceTable({"m": ModelPrice.per_million("2", "1")})
    assert tracker.record("m", Usage(1_000_000, 0)) == Decimal(2)
    with pytest.raises(ValueError, match="cached"):
        tracker.record("m", Usage(1, 0, 2))
    with pytest.raises(ConfigError, match="no price"):
        tracker.record("unknown", Usage(1, 1))
    assert tracker.totals("model") == {"m": Decimal(3)}
    assert tracker.requests == 2


# ------------------------------------------------------------------------------------ throttling
def test_the_throttle_draws_a_random_number_only_when_it_may_reject() -> None:
    clock = ManualClock()

    class Draws:
        n = 0

        def random(self) -> float:
            self.n += 1
            return 0.5

    throttle, draws = AdaptiveThrottle(clock=clock), Draws()
    for _ in range(10):
        throttle.record(True)
    assert not throttle.should_reject(draws)  # type: ignore[arg-type]
    assert draws.n == 0
    for _ in range(90):
        throttle.record(False)
    p = throttle.reject_probability()
    assert p == pytest.approx((100 - 2 * 10) / 101)
    assert throttle.should_reject(draws) == (p > 0.5)  # type: ignore[arg-type]
    assert draws.n == 1
    clock.advance(121)
    assert throttle.reject_probability() == 0
