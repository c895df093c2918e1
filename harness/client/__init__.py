"""The reference client: limiter, breaker, backoff and retry budget, cost budgets, fallbacks."""
