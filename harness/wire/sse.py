"""Server-sent events: framing for the fake provider, an incremental parser for the client.

The framing is the subset the three providers use: an optional ``event:`` line, one ``data:`` line
per line of payload, and a blank line. The parser follows the WHATWG rules (``\\r\\n``, ``\\r`` or
``\\n`` line ends, ``:`` comments, one optional space after the colon, multi-line data joined by
``\\n``) and is fed arbitrary byte slices, so it can sit behind any transport.

>>> p = SSEParser()
>>> p.feed(b"event: ping\\ndata: {}\\n\\ndata: [DO") + p.feed(b"NE]\\n\\n")
[SSEMessage(event='ping', data='{}'), SSEMessage(event=None, data='[DONE]')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Generic, TypeVar

_E = TypeVar("_E")

__all__ = ["DataEventReader", "SSEMessage", "SSEParser", "encode_event", "truncate_event"]


_LINE_END = re.compile(r"\r\n|\r|\n")


def encode_event(data: str, event: str | None = None) -> bytes:
    """One event as bytes; ``data`` may contain newlines (each becomes its own ``data:`` line)."""
    if "\n" in data or "\r" in data:
        body = "".join(f"data: {line}\n" for line in _LINE_END.split(data))
    else:
        body = f"data: {data}\n"
    if event is not None:
        return f"event: {event}\n{body}\n".encode()
    return f"{body}\n".encode()


def truncate_event(event: bytes) -> bytes:
    """``event`` with each ``data:`` payload cut in half: still framed as SSE, no longer valid JSON.

    What a crashed writer or a broken proxy leaves; the official SDKs raise when they parse it.
    """
    lines = event.split(b"\n")
    for i, line in enumerate(lines):
        if line.startswith(b"data: ") and len(line) > 7:
            payload = line[6:]
            lines[i] = b"data: " + payload[: max(1, len(payload) // 2)]
    return b"\n".join(lines)


@dataclass(slots=True)  # not frozen: one per request/event on the hot path; treat as read-only
class SSEMessage:
    """One dispatched event."""

    event: str | None  # the ``event:`` field, None when absent
    data: str  # the data lines joined by "\n"


class SSEParser:
    """Incremental SSE parser: ``feed(bytes)`` returns the events completed by those bytes."""

    __slots__ = ("_buffer", "_data", "_event", "_pending_cr")

    def __init__(self) -> None:
        self._buffer = b""  # bytes of an incomplete line
        self._data: list[str] = []  # data lines of the event being built
        self._event: str | None = None  # its event name
        self._pending_cr = False  # the last byte fed was "\r": a following "\n" belongs to it

    def feed(self, chunk: bytes) -> list[SSEMessage]:
        if not chunk:
            return []
        if self._pending_cr:
            self._pending_cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        data = self._buffer + chunk
        if b"\r" not in data and not self._data and self._event is None:
            # the common cases: whole events of one "data: " line each (OpenAI, Gemini), or of an
            # "event: " line and one "data: " line (Anthropic: three lines through _line each, else);
            # anything else (comments, multi-line data, fields without their space, CRs) goes through
            # the line-by-line path below. tests/unit/test_sse_event_fast_paths.py holds them to it.
            blocks = data.split(b"\n\n")
            rest = blocks.pop()
            fast: list[SSEMessage] = []
            named = False
            for block in blocks:
                if block[:6] == b"data: ":
                    if b"\n" in block:
                        break
                    fast.append(SSEMessage(None, block[6:].decode("utf-8", "replace")))
                elif block[:7] == b"event: ":
                    end = block.find(b"\n")
                    if end < 0 or block[end + 1 : end + 7] != b"data: " or block.find(b"\n", end + 1) >= 0:
                        break
                    name = block[7:end].decode("utf-8", "replace")
                    fast.append(SSEMessage(name, block[end + 7 :].decode("utf-8", "replace")))
                    named = True
                else:
                    break
            else:
                if named and b"\n" in rest:  # as the line path (which a named event took) reads the rest
                    lines = rest.split(b"\n")
                    rest = lines.pop()
                    for raw in lines:
                        self._line(raw, fast)
                self._buffer = rest
                return fast
        if b"\r" in data:
            if data.endswith(b"\r"):
                self._pending_cr = True
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = data.split(b"\n")
        self._buffer = lines.pop()
        out: list[SSEMessage] = []
        for raw in lines:
            self._line(raw, out)
        return out

    def take_events(self, chunk: bytes) -> bytes | list[SSEMessage]:
        """``feed`` for a reader that reads the events' bytes itself: when the parser stands between
        two events and the read has no CR, the bytes of the events it completes as they stand (up to
        their last blank line; ``b""`` when none is complete), else the :class:`SSEMessage` list
        :meth:`feed` returns. Nothing is checked, split or decoded here: the reader reads the events it
        knows the shape of and hands the rest back to :meth:`feed_events` (the parser of record).
        """
        if self._pending_cr or self._data or self._event is not None or not chunk:
            return self.feed(chunk)
        data = self._buffer + chunk if self._buffer else chunk
        if b"\r" in data:
            return self.feed(chunk)
        end = data.rfind(b"\n\n")  # the complete events end there; the rest waits for the next read
        if end < 0:
            self._buffer = data
            return b""
        self._buffer = data[end + 2 :]
        return data[: end + 2]

    def feed_events(self, events: bytes) -> list[SSEMessage]:
        """The messages in ``events``: the rest of what :meth:`take_events` returned (it starts where an
        event starts and ends with a blank line), read line by line."""
        out: list[SSEMessage] = []
        for raw in events.split(b"\n")[:-1]:  # it ends with a newline: the last piece is empty
            self._line(raw, out)
        return out

    def finish(self) -> list[SSEMessage]:
        """End of stream: an event whose blank line never came is dispatched (as Gemini's SDK does)."""
        out: list[SSEMessage] = []
        if self._buffer:
            self._line(self._buffer, out)
            self._buffer = b""
        if self._data:
            out.append(SSEMessage(self._event, "\n".join(self._data)))
        self._data = []
        self._event = None
        return out

    def _line(self, raw: bytes, out: list[SSEMessage]) -> None:
        if not raw:
            if self._data or self._event is not None:
                out.append(SSEMessage(self._event, "\n".join(self._data)))
            self._data = []
            self._event = None
            return
        line = raw.decode("utf-8", "replace")
        if line[0] == ":":
            return
        name, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        # "id" and "retry" are valid fields no provider uses here; unknown fields are ignored


class DataEventReader(Generic[_E]):
    """A stream reader whose every event is read from its ``data:`` payload alone (OpenAI, Gemini).

    Subclasses give ``_event(data)``; ``feed(bytes)`` returns the events those bytes complete.
    """

    __slots__ = ("_sse",)

    def __init__(self) -> None:
        self._sse = SSEParser()

    def feed(self, chunk: bytes) -> list[_E]:
        return [self._event(m.data) for m in self._sse.feed(chunk)]

    def finish(self) -> list[_E]:
        """The stream ended: events still buffered (an unterminated last one included)."""
        return [self._event(m.data) for m in self._sse.finish()]

    @staticmethod
    def _event(data: str) -> _E:
        raise NotImplementedError
