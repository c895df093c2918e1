"""Wire formats: a base module per provider (``openai``, ``anthropic``, ``gemini``) and siblings, used by both sides.

The fake provider emits these formats and the reference client reads them, so a format fix is made
once. Shared pieces: :mod:`harness.wire.sse` (framing and an incremental parser),
:mod:`harness.wire.formats` (durations, timestamps, retry hints), :mod:`harness.wire.neutral`
(provider-neutral shapes) and :mod:`harness.wire.checks` (typed reads of untrusted bodies).
"""

from harness.wire.neutral import (
    ChatCall,
    ChatResult,
    EmbeddingCall,
    ErrorInfo,
    Message,
    RateLimits,
    RequestInvalid,
    StreamEvent,
)

__all__ = [
    "ChatCall",
    "ChatResult",
    "EmbeddingCall",
    "ErrorInfo",
    "Message",
    "RateLimits",
    "RequestInvalid",
    "StreamEvent",
]
