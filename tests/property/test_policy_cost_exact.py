"""The cost tracker's integer arithmetic gives exactly ModelPrice.cost's Decimals, representation included,
and its totals exactly what summing those Decimals gives (the provider's ledger sums the same way)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from harness.client.cost import Attribution, CostTracker
from harness.pricing import ModelPrice, PriceTable, Usage

# prices as written in tables: a few digits at exponents from 1E+1 down to 1E-9 (per million tokens)
prices = st.builds(
    lambda digits, exponent: Decimal(digits).scaleb(exponent), st.integers(0, 99_999), st.integers(-9, 1)
)
optional_prices = st.none() | prices


@st.composite
def usages(draw: st.DrawFn) -> Usage:
    cached = draw(st.integers(0, 50_000))
    written = draw(st.integers(0, 50_000))
    plain = draw(st.integers(0, 2_000_000))
    output = draw(st.integers(0, 100_000))
    return Usage(plain + cached + written, output, cached, written, draw(st.integers(0, output)))


@given(
    st.builds(ModelPrice, prices, prices, optional_prices, optional_prices),
    st.lists(st.tuples(usages(), st.sampled_from(["ana", "bo", None])), min_size=1, max_size=12),
)
def test_costs_and_totals_are_the_decimal_ones(price: ModelPrice, charges: list[tuple[Usage, str | None]]) -> None:
    tracker = CostTracker(PriceTable({"m": price}))
    total = Decimal(0)
    by_user: dict[str, Decimal] = {}
    for usage, user in charges:
        got = tracker.record_for(Attribution("m", user, "f"), usage)
        want = price.cost(usage)
        assert str(got) == str(want)
        total += want
        if user is not None:
            by_user[user] = by_user.get(user, Decimal(0)) + want
    assert str(tracker.total) == str(total)
    assert {k: str(v) for k, v in tracker.totals("user").items()} == {k: str(v) for k, v in by_user.items()}
    assert str(tracker.totals("feature")["f"]) == str(Decimal(0) + total)
