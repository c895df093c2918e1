"""The normal and lognormal quantiles :meth:`Distribution.at` computes without ``NormalDist.inv_cdf``'s own
frame are that method's, bit for bit, for any mean, spread and ``u`` (the fingerprint compares exact floats)."""

from __future__ import annotations

import math
from statistics import NormalDist

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.distributions import Distribution, _std_normal_inv_cdf

_u = st.floats(min_value=0.0, max_value=1.0)
_finite = st.floats(min_value=-1e6, max_value=1e6)


@given(u=st.floats(min_value=1e-12, max_value=1.0 - 1e-12))
@settings(max_examples=2000, deadline=None)
def test_the_standard_normal_quantile_is_normaldists(u: float) -> None:
    assert _std_normal_inv_cdf(u, 0.0, 1.0) == NormalDist().inv_cdf(u)


@given(u=_u, mean=_finite, stddev=st.floats(min_value=0.0, max_value=1e4), floor=_finite)
@settings(max_examples=1000, deadline=None)
def test_a_normal_at_u_is_the_mean_plus_stddev_times_normaldists_quantile(
    u: float, mean: float, stddev: float, floor: float
) -> None:
    q = NormalDist().inv_cdf(min(max(u, 1e-12), 1.0 - 1e-12))
    assert Distribution.normal(mean, stddev, minimum=floor).at(u) == max(floor, mean + stddev * q)


@given(u=_u, median=st.floats(min_value=1e-6, max_value=1e6), spread=st.floats(min_value=1.0, max_value=1e3))
@settings(max_examples=1000, deadline=None)
def test_a_lognormal_at_u_is_exp_of_mu_plus_sigma_times_normaldists_quantile(
    u: float, median: float, spread: float
) -> None:
    d = Distribution.lognormal(median, median * spread)
    q = NormalDist().inv_cdf(min(max(u, 1e-12), 1.0 - 1e-12))
    assert d.at(u) == max(0.0, math.exp(d.a + d.b * q))
