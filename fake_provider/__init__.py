"""A wire-faithful, seeded, misbehaving fake of the OpenAI, Anthropic and Gemini APIs."""
