"""Streaming: text deltas out of a provider's stream, deadlines on every read, and an honest ending.

:class:`StreamAssembler` turns the wire module's stream events into text deltas and decides, at the
end, whether the stream really finished. A stream is complete when the provider's end marker arrived
(OpenAI ``[DONE]``, Anthropic ``message_stop``), or when a finish reason *and* the usage arrived (a
Gemini stream has no end marker; its last chunk carries both). Anything else — the connection closing
early, a malformed chunk, an error event — raises a typed error (:class:`~harness.errors.StreamBroken`,
or the error event's own class, e.g. ``Overloaded`` for Anthropic's mid-stream ``overloaded_error``):
a truncated answer is never reported as a success.

:class:`AttemptClock` holds one attempt's deadlines on the loop clock: the first text token must come
within ``first_token_s`` of the attempt's start, each later chunk within ``stall_s`` of the previous
one, and everything within the attempt's and the logical request's deadlines. Each read gets its own
deadline (a :class:`Deadline`: a timer on the loop clock that cancels the reading task; never one
held across a ``yield``), so a slow consumer cannot be mistaken for a stalled provider and the same
code runs in real and in virtual time.

:func:`consume_stream` reads a response to its end through both.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

from harness.client.adapters import Adapter
from harness.client.transport import HttpResponse
from harness.errors import DeadlineExceeded, FirstTokenTimeout, StreamBroken, StreamStalled
from harness.pricing import Usage
from harness.tokenizer import count_tokens
from harness.wire.neutral import StreamEvent, ToolCall

__all__ = [
    "LATE_TIMER_S",
    "AttemptClock",
    "Deadline",
    "DeadlineWatch",
    "StreamAssembler",
    "consume_stream",
    "deadline_error",
]

#: a deadline timer the loop runs more than this after its time ran late (see :class:`Deadline`); a
#: virtual-time loop runs timers at their time exactly (within float rounding, far below this)
LATE_TIMER_S = 1e-6


class StreamAssembler:
    """Accumulates one attempt's stream: text, finish reason, usage, ids; judges completeness."""

    __slots__ = (
        "_adapter", "_feed", "_reader", "_tools", "answer_model", "done", "finish", "model", "parts", "request_id",
        "thinking", "usage",
    )  # fmt: skip

    def __init__(self, adapter: Adapter, model: str, request_id: str | None = None) -> None:
        self._adapter = adapter
        self.model = model  # the model asked for (for error attribution)
        reader = adapter.stream_reader()
        self._reader = reader
        # a reader that batches plain text chunks (``StreamEvent.texts``) is read that way: fewer objects
        self._feed: Callable[[bytes], list[StreamEvent]] = getattr(reader, "feed_batch", reader.feed)
        self.parts: list[str] = []  # text deltas so far
        self.finish: str | None = None  # the provider's finish reason, once seen
        self.usage: Usage | None = None  # the latest usage the stream reported
        self.done = False  # the provider's end marker arrived
        self.request_id = request_id  # the provider's id for the attempt (header, else the stream's own)
        self.answer_model: str | None = None  # the model the stream says answered
        self._tools: dict[int, list[str]] = {}  # tool calls by index: [id, name, arguments so far]
        self.thinking = ""  # reasoning text deltas so far

    @property
    def provider(self) -> str:
        return self._adapter.provider

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def complete(self) -> bool:
        return self.done or (self.finish is not None and self.usage is not None)

    def feed(self, data: bytes) -> list[str]:
        """Text deltas in ``data``; raises the mapped error of an error event, StreamBroken if malformed."""
        if self.done:
            return []  # nothing after the end marker counts (nor is it parsed)
        return self._absorb(self._feed(data))

    def end(self) -> list[str]:
        """The connection ended: deltas still buffered; raises StreamBroken if the stream did not finish."""
        deltas = [] if self.done else self._absorb(self._reader.finish())
        if not self.complete:
            what = "a finish reason" if self.finish is None else "its usage"
            raise StreamBroken(
                f"stream ended without its end marker or {what}", code="incomplete_stream",
                provider=self._adapter.provider, model=self.model, request_id=self.request_id,
            )  # fmt: skip
        return deltas

    def _absorb(self, events: list[StreamEvent]) -> list[str]:
        out: list[str] = []
        for event in events:
            if self.done:
                break  # nothing after the end marker counts
            if event.error is not None:
                raise self._adapter.event_error(event.error, self.request_id, self.model)
            if event.texts:
                out += event.texts
                self.parts += event.texts
            if event.text:
                out.append(event.text)
                self.parts.append(event.text)
            if event.tools:
                for delta in event.tools:
                    index = delta.index if delta.index >= 0 else len(self._tools)  # -1: a whole new call
                    entry = self._tools.setdefault(index, ["", "", ""])
                    entry[0] = delta.id or entry[0]
                    entry[1] = delta.name or entry[1]
                    entry[2] += delta.arguments
            if event.thinking:
                self.thinking += event.thinking
            if event.finish_reason is not None:
                self.finish = event.finish_reason
            if event.usage is not None:
                self.usage = event.usage
            if event.request_id is not None and self.request_id is None:
                self.request_id = event.request_id
            if event.model is not None:
                self.answer_model = event.model
            if event.done:
                self.done = True
        return out

    def tool_calls(self) -> tuple[ToolCall, ...]:
        """The tool calls the stream assembled, in order."""
        return tuple(ToolCall(i, n, a) for _, (i, n, a) in sorted(self._tools.items()))

    def billed_usage(self, prompt_tokens: int) -> Usage:
        """What the provider bills for this stream if it broke now: the prompt and the output sent.

        The latest usage the stream reported, or the prompt estimate and the received text counted
        with the harness tokenizer (exact against the fake provider, an estimate against real ones).
        """
        counted = count_tokens(self.text)
        usage = self.usage
        if usage is None:
            return Usage(prompt_tokens, counted)
        return Usage(
            usage.input_tokens or prompt_tokens, max(usage.output_tokens, counted), usage.cached_input_tokens,
            usage.cache_write_tokens, usage.reasoning_tokens, usage.cache_write_1h_tokens,
        )  # fmt: skip


class AttemptClock:
    """One attempt's deadlines (absolute, on the loop clock) and the error each one raises."""

    __slots__ = ("first_token_at", "hard_at", "hard_is_total", "stall_s", "time")

    def __init__(
        self,
        time: Callable[[], float],
        *,
        first_token_at: float | None,
        stall_s: float | None,
        attempt_at: float | None,
        total_at: float | None,
    ) -> None:
        self.time = time  # the loop's clock
        self.first_token_at = first_token_at  # the first text token must arrive before this
        self.stall_s = stall_s  # the longest silence between two chunks after the first token
        if attempt_at is None or (total_at is not None and total_at <= attempt_at):
            self.hard_at, self.hard_is_total = total_at, True
        else:
            self.hard_at, self.hard_is_total = attempt_at, False

    @property
    def hard_kind(self) -> str:
        """The kind of the hard deadline: "total" or "attempt"."""
        return "total" if self.hard_is_total else "attempt"

    def limit(self, got_token: bool) -> tuple[float | None, str]:
        """The deadline of the next read and its kind ("first_token", "stall", "attempt", "total")."""
        if got_token:
            at, kind = (None, "stall") if self.stall_s is None else (self.time() + self.stall_s, "stall")
        else:
            at, kind = self.first_token_at, "first_token"
        hard = self.hard_at
        if hard is not None and (at is None or hard <= at):
            return hard, self.hard_kind
        return at, kind

    def error(self, kind: str, provider: str, model: str) -> DeadlineExceeded:
        return deadline_error(kind, provider, model, self.stall_s)


def deadline_error(kind: str, provider: str, model: str, stall_s: float | None = None) -> DeadlineExceeded:
    """The error a passed deadline of ``kind`` ("first_token", "stall", "attempt", "total") raises."""
    if kind == "first_token":
        return FirstTokenTimeout("no first token within the first-token deadline", code="first_token",
                                 provider=provider, model=model)  # fmt: skip
    if kind == "stall":
        return StreamStalled(f"no chunk for {stall_s or 0:g} s (stall deadline)", code="stall",
                             provider=provider, model=model)  # fmt: skip
    what = "logical request" if kind == "total" else "attempt"
    return DeadlineExceeded(f"the {what} deadline passed", code=kind, provider=provider, model=model)


class Deadline:
    """A cancel-at timer for the current task: what ``asyncio.timeout_at`` does, re-armed cheaply.

    ``arm(at, kind)`` (re)schedules the task's cancellation at loop time ``at``; when the awaited
    operation is cancelled, :meth:`expired` tells whether this timer did it (and withdraws the
    cancellation request, as ``asyncio.timeout`` does); ``disarm()`` must run before the task moves on.
    No context-manager objects: the request path stays lean. On its own a deadline holds one loop
    timer per arm; made by a :class:`DeadlineWatch` (``watch.deadline()``), it shares the watch's one
    timer with every other deadline of the client.

    **A late timer judges after the loop's reads.** When the loop runs the timer after its time (it was
    busy, or the process was paused: a garbage collection, a loaded machine), the bytes that reached
    the socket meanwhile are read in that same loop turn, before the timers, but the reading task only
    wakes on the next turn. Cancelling it then would call a stall what was the client's own pause,
    with the answer already received. So a late timer gives the task that one turn
    (:func:`_judge_late`): a task that re-arms or disarms its deadline in it got its bytes, and only one
    that did not is cancelled. A timer on time (always, in virtual time) cancels at once.
    """

    __slots__ = ("_cancelling", "_handle", "_late", "_loop", "_task", "_watch", "fired", "kind")

    def __init__(self, task: asyncio.Task[Any] | None = None, watch: DeadlineWatch | None = None) -> None:
        if task is None:
            task = asyncio.current_task()
            if task is None:
                raise RuntimeError("Deadline needs a running task")
        self._task = task  # the task to cancel
        self._watch = watch  # the shared timer, or None: a timer of its own
        self._loop = task.get_loop()
        self._cancelling = task.cancelling()  # cancellation requests already pending (not ours)
        self._handle: asyncio.TimerHandle | None = None
        self.fired = False  # the timer cancelled the task
        self.kind = ""  # which deadline the armed time is ("first_token", "stall", "attempt", "total")
        self._late = False  # the timer ran late; the verdict waits one loop turn (withdrawn by arm/disarm)

    def arm(self, at: float | None, kind: str) -> None:
        self.kind = kind
        self._late = False
        watch = self._watch
        if watch is not None:
            watch.arm(self, at)
            return
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None if at is None else self._loop.call_at(at, self._due, at)

    def _due(self, at: float) -> None:
        self._handle = None
        if self._loop.time() - at > LATE_TIMER_S:
            self._late = True
            self._loop.call_soon(self._judge_late)
        else:
            self._fire()

    def _judge_late(self) -> None:
        if self._late:  # not re-armed nor disarmed since: no bytes came for it either
            self._late = False
            self._fire()

    def _fire(self) -> None:
        self._handle = None
        self.fired = True
        self._task.cancel()

    def disarm(self) -> None:
        self._late = False
        if self._watch is not None:
            self._watch.arm(self, None)
        elif self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def expired(self) -> bool:
        """After a CancelledError: was it this timer's? (True: the cancellation is withdrawn)."""
        if not self.fired:
            return False
        self.fired = False
        return self._task.uncancel() <= self._cancelling


class DeadlineWatch:
    """The deadlines of many tasks on one loop timer, due at the earliest of them.

    A loop timer per attempt costs a ``TimerHandle``, a heap push and, since the answer nearly always
    comes first, a cancellation (about 3.5 µs together); a watch keeps each armed deadline in a dict
    and one timer at the earliest. The timer is moved only when a deadline earlier than it is armed,
    and withdrawn when no deadline is armed (so a virtual-time loop never jumps to it needlessly);
    when it fires it cancels every task whose deadline has come and re-arms at the earliest left.

    Finding the current task is also cheaper here: ``asyncio.current_task()`` asks for the running
    loop, which on Python 3.11 makes a ``getpid`` system call (several µs in a sandbox); the watch
    remembers its loop and reads the task from it. A client belongs to one event loop at a time (as
    its aiohttp session does); under a new loop the lookup misses and the watch starts afresh.
    """

    __slots__ = ("_active", "_due", "_handle", "_loop")

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop of the deadlines below
        self._active: dict[Deadline, float] = {}  # armed deadline → when (loop time)
        self._handle: asyncio.TimerHandle | None = None  # the one loop timer, due at ``_due``
        self._due = math.inf

    def deadline(self) -> Deadline:
        """A deadline (disarmed) for the current task."""
        loop = self._loop
        task = None if loop is None else asyncio.current_task(loop)
        if task is None:
            loop = asyncio.get_running_loop()
            task = asyncio.current_task(loop)
            if task is None:
                raise RuntimeError("Deadline needs a running task")
            if loop is not self._loop:  # a new loop: the old one's timer and deadlines went with it
                self._loop, self._active, self._handle, self._due = loop, {}, None, math.inf
        return Deadline(task, self)

    def arm(self, deadline: Deadline, at: float | None) -> None:
        """Arm ``deadline`` at loop time ``at`` (None: disarm it)."""
        active = self._active
        if at is None:
            if active.pop(deadline, None) is not None and not active and self._handle is not None:
                self._handle.cancel()
                self._handle, self._due = None, math.inf
            return
        active[deadline] = at
        if at < self._due:
            self._schedule(at)

    def _schedule(self, at: float) -> None:
        assert self._loop is not None
        if self._handle is not None:
            self._handle.cancel()
        self._due = at
        self._handle = self._loop.call_at(at, self._fire)

    def _fire(self) -> None:
        loop = self._loop
        assert loop is not None
        now = loop.time()
        late = now - self._due > LATE_TIMER_S  # see Deadline: the verdict waits for this turn's reads
        due = max(self._due, now)  # the loop judged this time come
        self._handle, self._due = None, math.inf
        active = self._active
        come = [d for d, at in active.items() if at <= due]
        for deadline in come:
            del active[deadline]
            if late:
                deadline._late = True
            else:
                deadline._fire()
        if late:
            loop.call_soon(_judge_late, come)
        if active:
            self._schedule(min(active.values()))

    def __len__(self) -> int:
        return len(self._active)

    def __repr__(self) -> str:
        return f"DeadlineWatch({len(self._active)} armed, due={self._due:g})"


def _judge_late(deadlines: list[Deadline]) -> None:
    """Cancel the tasks of late deadlines that were neither re-armed nor disarmed in the turn they were given."""
    for deadline in deadlines:
        deadline._judge_late()


async def consume_stream(
    response: HttpResponse,
    assembler: StreamAssembler,
    deadlines: AttemptClock,
    timer: Deadline | None,
    on_delta: Callable[[str], None] | None,
) -> float | None:
    """Read ``response`` to its end; returns when the first text token arrived (loop clock), if any.

    Raises FirstTokenTimeout / StreamStalled / DeadlineExceeded when a deadline passes (``timer`` is
    None when there are none), StreamBroken (or the error event's class) when the stream breaks, and
    whatever the transport raises (ConnectionReset).
    """
    chunks = response.iter_chunks().__aiter__()
    first_token: float | None = None
    while True:
        ended = False
        if timer is not None:
            at, kind = deadlines.limit(first_token is not None)
            timer.arm(at, kind)
        try:
            data = await chunks.__anext__()
        except StopAsyncIteration:
            ended = True
            deltas = assembler.end()
        except asyncio.CancelledError:
            if timer is not None and timer.expired():
                raise deadlines.error(timer.kind, assembler.provider, assembler.model) from None
            raise
        else:
            deltas = assembler.feed(data)
        if deltas:
            if first_token is None:
                first_token = deadlines.time()
            if on_delta is not None:
                for delta in deltas:
                    on_delta(delta)
        if ended:
            return first_token
