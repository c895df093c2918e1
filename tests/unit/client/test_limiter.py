"""The in-memory rate limiter: window, settle, lanes, fairness, learning, and the wait helper."""

from __future__ import annotations

import asyncio

import pytest

from harness import vtime
from harness.client.limiter import Demand, LimitConfig, Limiter, RateLimiter, Reservation, wait_for_capacity
from harness.clock import ManualClock
from harness.errors import BadRequest, ConfigError, DeadlineExceeded
from harness.pricing import Usage


def test_admits_up_to_the_limit_then_waits_for_the_window() -> None:
    clock = ManualClock()
    lim = RateLimiter(LimitConfig(rpm=3, transit_margin_s=0), clock=clock)
    assert isinstance(lim, Limiter)
    grants = [lim.reserve(Demand()) for _ in range(3)]
    assert all(r.granted for r in grants)
    clock.advance(10)
    queued = lim.reserve(Demand())
    assert not queued.granted
    assert queued.wait_s == pytest.approx(50)  # the first admission leaves the window at t=60
    clock.advance(50)
    assert lim.reserve(Demand(), ticket=queued).granted


def test_no_burst_over_the_window_unlike_a_refilled_bucket() -> None:
    clock = ManualClock()
    lim = RateLimiter(LimitConfig(rpm=60, transit_margin_s=0), clock=clock)
    admitted = []
    for _ in range(6000):  # hammer every 0.1 s for 10 minutes
        r = lim.reserve(Demand())
        if r.granted:
            admitted.append(clock())
        else:
            lim.cancel_now(r)
        clock.advance(0.1)
    for i, t in enumerate(admitted):
        in_window = sum(1 for u in admitted[i:] if u < t + 60)
        assert in_window <= 60
    assert len(admitted) == 600  # and it uses the whole quota


def test_tokens_are_reserved_and_settled() -> None:
    clock = ManualClock()
    lim = RateLimiter(LimitConfig(tpm=1000, transit_margin_s=0), clock=clock)
    r1 = lim.reserve(Demand(input_tokens=100, max_output_tokens=500))
    assert r1.granted
    assert not lim.reserve(Demand(input_tokens=100, max_output_tokens=500)).granted  # 1200 > 1000
    lim.settle_now(r1, Usage(input_tokens=100, output_tokens=50))  # refund 450
    r2 = lim.reserve(Demand(input_tokens=100, max_output_tokens=500), key="other")
    assert not r2.granted  # the earlier ticket is ahead in line
    lim.cancel_now(r2)
    lim2 = RateLimiter(LimitConfig(tpm=1000, transit_margin_s=0), clock=clock)
    r = lim2.reserve(Demand(100, 500))
    lim2.settle_now(r, Usage(input_tokens=100, output_tokens=50))
    assert lim2.reserve(Demand(100, 500)).granted


def test_no_refund_mode_only_charges_extra() -> None:
    clock = ManualClock()
    lim = RateLimiter(LimitConfig(tpm=1000, refund_unused=False, transit_margin_s=0), clock=clock)
    r = lim.reserve(Demand(100, 500))
    lim.settle_now(r, Usage(input_tokens=100, output_tokens=50))
    assert not lim.reserve(Demand(100, 500)).granted


def test_input_and_output_limited_separately() -> None:
    clock = ManualClock()
    lim = RateLimiter(LimitConfig(itpm=1000, otpm=100, transit_margin_s=0), clock=clock)
    assert lim.reserve(Demand(900, 50)).granted
    assert not lim.reserve(Demand(10, 60)).granted  # output would pass 100


def test_too_large_and_unknown_lane() -> None:
    lim = RateLimiter(LimitConfig(tpm=100, transit_margin_s=0), clock=ManualClock())
    assert lim.reserve(Demand(50, 100)).reason == "too_large"
    with pytest.raises(ConfigError, match="lane"):
        lim.reserve(Demand(), lane="vip")


def test_interactive_goes_before_batch_and_batch_does_not_starve() -> None:
    clock = ManualClock()
    lim = RateLimiter(LimitConfig(rpm=1, max_queue_wait_s=100, transit_margin_s=0), clock=clock)
    assert lim.reserve(Demand()).granted
    batch = lim.reserve(Demand(), lane="batch")
    clock.advance(1)
    inter = lim.reserve(Demand(), lane="interactive")
    clock.advance(59)
    assert not lim.reserve(Demand(), lane="batch", ticket=batch).granted
    assert lim.reserve(Demand(), ticket=inter).granted
    # a stream of interactive requests keeps coming; after max_queue_wait_s the batch ticket goes first
    for _ in range(3):
        clock.advance(60)
        fresh = lim.reserve(Demand())
        batch = lim.reserve(Demand(), lane="batch", ticket=batch)
        if batch.granted:
            break
        lim.cancel_now(fresh)
    assert batch.granted
    assert clock() - 0 <= 100 + 120


def test_keys_share_fairly_within_a_lane() -> None:
    clock = ManualClock()
    lim = RateLimiter(LimitConfig(rpm=1, transit_margin_s=0), clock=clock)
    assert lim.reserve(Demand()).granted
    busy = [lim.reserve(Demand(), key="busy") for _ in range(5)]
    quiet = lim.reserve(Demand(), key="quiet")
    order = []
    pending = {r.id: ("busy", r) for r in busy} | {quiet.id: ("quiet", quiet)}
    while pending and len(order) < 3:
        clock.advance(60)
        for rid, (key, r) in list(pending.items()):
            again = lim.reserve(Demand(), key=key, ticket=r)
            if again.granted:
                order.append(key)
                del pending[rid]
            else:
                pending[rid] = (key, again)
    assert order[:2] == ["busy", "quiet"]  # the quiet user gets the second slot, not the sixth


def test_abandoned_tickets_are_forgotten() -> None:
    clock = ManualClock()
    lim = RateLimiter(LimitConfig(rpm=1, ticket_grace_s=1, transit_margin_s=0), clock=clock)
    lim.reserve(Demand())
    lim.reserve(Demand())  # queued, never asked about again
    clock.advance(62)
    assert lim.reserve(Demand()).granted


def test_learns_limits_from_headers() -> None:
    clock = ManualClock()
    lim = RateLimiter(clock=clock)
    assert lim.reserve(Demand()).granted  # nothing known: unlimited
    lim.observe_now(limit_requests=100, remaining_requests=99, reset_requests_s=0.6)
    assert lim.effective_limit(0) == 95  # just under the provider's limit
    lim.observe_now(remaining_tokens=0, reset_tokens_s=5)  # no limit header: hold until the reset
    r = lim.reserve(Demand(10, 10))
    assert not r.granted
    assert r.wait_s == pytest.approx(5)
    clock.advance(5)
    assert lim.reserve(Demand(10, 10), ticket=r).granted


def test_learning_books_usage_seen_by_the_provider_only() -> None:
    clock = ManualClock()
    lim = RateLimiter(LimitConfig(rpm=10, transit_margin_s=0), clock=clock)
    lim.observe_now(limit_requests=10, remaining_requests=2, reset_requests_s=30)  # another process used 8
    assert lim.reserve(Demand()).granted
    assert lim.reserve(Demand()).granted
    r = lim.reserve(Demand())
    assert not r.granted
    assert r.wait_s == pytest.approx(30)


def test_observe_rejects_unknown_names() -> None:
    with pytest.raises(ConfigError, match=r"observe\.remaining_tokns"):
        RateLimiter(clock=ManualClock()).observe_now(remaining_tokns=3)


def test_wait_helper_under_virtual_time() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        lim = RateLimiter(LimitConfig(rpm=2, window_s=10, transit_margin_s=0), clock=loop.time)
        times: list[float] = []

        async def one() -> None:
            await wait_for_capacity(lim, Demand(), sleep=asyncio.sleep)
            times.append(loop.time())

        await asyncio.gather(*(one() for _ in range(6)))
        return times

    times = vtime.run(main())
    assert times == pytest.approx([0, 0, 10, 10, 20, 20], abs=0.05)


def test_wait_helper_deadline_and_too_large() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        lim = RateLimiter(LimitConfig(rpm=1, tpm=100, transit_margin_s=0), clock=loop.time)
        await wait_for_capacity(lim, Demand(), sleep=asyncio.sleep)
        with pytest.raises(DeadlineExceeded):
            await wait_for_capacity(lim, Demand(), sleep=asyncio.sleep, clock=loop.time, deadline=5)
        with pytest.raises(BadRequest):
            await wait_for_capacity(lim, Demand(500), sleep=asyncio.sleep)
        assert not lim._tickets  # the abandoned ticket was cancelled

    vtime.run(main())


def test_config_parse_and_validation() -> None:
    cfg = LimitConfig.parse({"rpm": 500, "tpm": 30000, "lanes": ["a", "b", "c"]})
    assert cfg.limits == (500, 30000, None, None)
    with pytest.raises(ConfigError, match=r"limits\.rpm"):
        LimitConfig.parse({"rpm": "many"})
    with pytest.raises(ConfigError, match=r"limits\.tmp"):
        LimitConfig.parse({"tmp": 3})
    assert LimitConfig(rpm=100, tpm=10).scaled(0.25).limits == (25, 2, None, None)
    assert "RateLimiter" in repr(RateLimiter(LimitConfig(rpm=1, transit_margin_s=0), clock=ManualClock()))
    assert Reservation("x", True, 0, Demand()).backend == "memory"


def test_capacity_comes_back_the_transit_margin_after_the_window() -> None:
    # the provider counts arrivals: a request admitted at 0 that takes 0.2 s to arrive must not share the
    # provider's window with one admitted at 60 that arrives at once
    clock = ManualClock()
    lim = RateLimiter(LimitConfig(rpm=1), clock=clock)
    assert LimitConfig().transit_margin_s == 0.25
    assert lim.reserve(Demand()).granted
    clock.advance(60)
    queued = lim.reserve(Demand())
    assert not queued.granted
    assert queued.wait_s == pytest.approx(0.25)
    clock.advance(0.25)
    assert lim.reserve(Demand(), ticket=queued).granted


@pytest.mark.parametrize("bad", [-0.1, float("inf"), "x", True])
def test_transit_margin_is_validated(bad: object) -> None:
    with pytest.raises(ConfigError, match="transit_margin_s"):
        LimitConfig(transit_margin_s=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="transit_margin_s"):
        LimitConfig.parse({"transit_margin_s": bad})


def _shared_key_limiter(clock: ManualClock) -> RateLimiter:
    """A limiter that learned that others used 8 of the key's 10 requests per 10 s, until t = 10."""
    lim = RateLimiter(LimitConfig(window_s=10, transit_margin_s=0), clock=clock)
    lim.observe_now(limit_requests=10, remaining_requests=2, reset_requests_s=10)
    assert lim.in_window()[0] == 8
    return lim


def test_when_others_usage_leaves_the_window_one_request_goes_alone_until_an_answer() -> None:
    # what the others sent since is unknown: a queue released all at once would meet a full window
    clock = ManualClock()
    lim = _shared_key_limiter(clock)
    clock.advance(10)
    probe = lim.grant_now(10, 10)
    assert probe is not None
    assert lim.grant_now(10, 10) is None  # the hot path defers to reserve while the probe is out
    queued = lim.reserve(Demand())
    assert not queued.granted
    assert queued.wait_s == pytest.approx(lim.config.poll_s)
    lim.observe_now(limit_requests=10, remaining_requests=5, reset_requests_s=10)  # the probe's answer
    clock.advance(lim.config.poll_s)
    assert lim.reserve(Demand(), ticket=queued).granted
    assert lim.reserve(Demand()).granted  # no probe any more: as many as fit


def test_others_usage_far_below_the_limit_leaves_without_a_probe() -> None:
    # a busy process alone on its key sees "others" usage too (the provider counts in ways the limiter
    # does not mirror); far below the limit, holding the queue for a probe would only slow it down
    clock = ManualClock()
    lim = RateLimiter(LimitConfig(window_s=10, transit_margin_s=0), clock=clock)
    lim.observe_now(limit_requests=1000, remaining_requests=990, reset_requests_s=10)
    assert lim.in_window()[0] == 10
    clock.advance(10)
    assert lim.grant_now(10, 10) is not None
    assert lim.grant_now(10, 10) is not None  # no probe out: the next one goes too
    assert lim.reserve(Demand()).granted


def test_others_usage_near_the_limit_still_starts_a_probe() -> None:
    clock = ManualClock()
    lim = RateLimiter(LimitConfig(window_s=10, transit_margin_s=0), clock=clock)
    lim.observe_now(limit_requests=1000, remaining_requests=500, reset_requests_s=10)  # 500 of 950
    clock.advance(10)
    assert lim.grant_now(10, 10) is not None
    assert lim.grant_now(10, 10) is None  # the probe is out


def test_a_probe_without_an_answer_is_given_up_after_the_ticket_grace() -> None:
    clock = ManualClock()
    lim = _shared_key_limiter(clock)
    clock.advance(10)
    assert lim.reserve(Demand()).granted  # the probe (its answer never comes)
    queued = lim.reserve(Demand())
    assert not queued.granted
    clock.advance(lim.config.ticket_grace_s + 0.01)
    assert lim.reserve(Demand(), ticket=queued).granted


def test_an_answer_settled_without_headers_ends_the_probe_too() -> None:
    clock = ManualClock()
    lim = _shared_key_limiter(clock)
    clock.advance(10)
    probe = lim.reserve(Demand())
    assert probe.granted
    queued = lim.reserve(Demand(), key="b")
    assert not queued.granted
    lim.settle_now(probe, Usage(0, 0))
    assert lim.reserve(Demand(), key="b", ticket=queued).granted
