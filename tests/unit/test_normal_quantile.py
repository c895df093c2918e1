"""The normal and lognormal quantiles :meth:`Distribution.at` computes are ``NormalDist.inv_cdf``'s, bit for bit,
for any mean, spread and ``u``, with the mean and spread applied as written (the fingerprint compares exact floats)."""

from __future__ import annotations

import math
from statistics import NormalDist

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.distributions import Distribution

_u = st.floats(min_value=0.0, max_value=1.0)
_finite = st.floats(min_value=-1e6, max_value=1e6)


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
