"""README example: a tiny app that calls OpenAI, tested against the fake provider (keep in sync with README.md)."""

import itertools

import openai

FALLBACK = "Summary unavailable, please retry later."


def summarise(client: openai.OpenAI, text: str) -> str:
    """Summarise text in one line, or return a canned answer while the API is rate limiting us."""
    try:
        response = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": f"Summarise in one line: {text}"}],
            max_tokens=40,
        )
    except openai.RateLimitError:
        return FALLBACK
    return response.choices[0].message.content or ""


def test_summarise_falls_back_during_a_429_storm(fake_provider):
    with openai.OpenAI(base_url=fake_provider.openai_base_url, api_key=fake_provider.api_key) as client:
        # every request gets a 429 with "retry-after: 0.2"
        fake_provider.set_faults([{"kind": "http", "status": 429, "retry_after_s": 0.2, "always": True}])
        assert summarise(client, "The quarterly report is late.") == FALLBACK

        attempts = fake_provider.requests()  # the provider's log: one record per attempt
        assert [(a.attempt, a.status) for a in attempts] == [(0, 429), (1, 429), (2, 429)]  # SDK: 2 retries
        for earlier, later in itertools.pairwise(attempts):
            assert later.t - earlier.t >= earlier.retry_after_s  # each retry waited at least the hint

        fake_provider.set_faults([])  # the storm is over
        assert summarise(client, "The quarterly report is late.") != FALLBACK
        assert fake_provider.requests()[-1].status == 200
