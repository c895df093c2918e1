"""The two sources of truth, as data.

* :class:`ProviderRecord`: one line of the fake provider's request log, one per *attempt* that
  reached it (``GET /_fake/requests`` serves them as JSON lines).
* :class:`OutcomeRecord`: one line of a client's outcome log, exactly one per *logical request*, with
  every attempt inside (:class:`AttemptRecord`).

The judge reads only these (and the billing ledger), never client or provider internals, so it can
judge third-party clients too. Times are seconds on the run's monotonic clock (virtual or real);
money is a decimal string, never a float.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from itertools import repeat
from typing import IO, Any, TypeVar, overload

import orjson

from harness.packed_rows import PackedBlocks

__all__ = [
    "DEGRADATION_STEPS",
    "AttemptRecord",
    "ClientEvent",
    "OutcomeRecord",
    "PackedRecords",
    "ProviderRecord",
    "dump_jsonl",
    "load_jsonl",
    "write_jsonl",
]

#: every value of OutcomeRecord.degradation_step, best first (docs/degradation.md)
DEGRADATION_STEPS = ("primary", "cache", "cheaper", "static", "error")


@dataclass(frozen=True, slots=True)
class ProviderRecord:
    """One attempt as the provider saw it."""

    seq: int  # position in the log, from 1; the ``?since=`` cursor
    t: float  # arrival, monotonic seconds on the provider's clock
    wall: float  # arrival, Unix seconds
    client: str  # hash of the API key ("key:…", never the key) or "anonymous"
    client_id: str | None  # the x-client-id header, when sent
    request_id: str  # the id the provider returned (x-request-id / request-id / responseId)
    logical_id: str | None  # the client's logical request id (x-harness-request-id or idempotency-key)
    attempt: int  # 0 for a first attempt (x-stainless-retry-count or x-harness-attempt)
    api: str  # "openai.chat", "openai.embeddings", "openai.models", "anthropic.messages", "gemini.generate", …
    model: str | None  # the model asked for, when the request named one
    stream: bool  # a streamed response was asked for
    status: int  # HTTP status sent; 0 when the transport failed before a status (reset, silence)
    prompt_tokens: int = 0  # counted by the harness tokenizer
    max_tokens: int | None = None  # the output cap the request asked for (TPM accounting counts it)
    output_tokens: int = 0  # generated and sent (for a cut stream: what was sent before the cut)
    ttfb_s: float | None = None  # arrival → first body byte (first event for streams)
    duration_s: float = 0.0  # arrival → last byte or connection end
    fault: str | None = None  # the fault applied, e.g. "outage", "quota:tpm", "stream_cut_after=5"
    retry_after_s: float | None = None  # retry hint the response carried, in seconds
    error_type: str | None = None  # provider error type/code for error responses
    finish: str | None = None  # finish reason, or "cut", "stalled", "client_gone" for broken streams
    cost_usd: str = "0"  # billed for this attempt (Decimal as a string)


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One attempt inside a logical request, as the client saw it."""

    n: int  # 0 for the first attempt
    t_start: float  # when the attempt was sent
    t_end: float  # when it ended (response, error or deadline)
    model: str  # the model this attempt asked for
    status: int  # HTTP status; 0 for transport failures and deadlines
    error: str | None = None  # exception kind (e.g. "RateLimited"); None when the attempt succeeded
    request_id: str | None = None  # the provider's id for this attempt
    retry_after_s: float | None = None  # hint the provider gave with the failure
    wait_s: float | None = None  # how long the client waited before the next attempt
    cost_usd: str | None = None  # what the client's ledger charged for this attempt (None: not known)


@dataclass(frozen=True, slots=True)
class OutcomeRecord:
    """The one terminal outcome of a logical request."""

    id: str  # logical request id (sent as x-harness-request-id)
    ok: bool  # a complete answer was returned to the caller
    status: str  # "ok", or the error kind that ended it (e.g. "CircuitOpen", "StreamBroken")
    t_start: float  # when the caller asked
    t_end: float  # when the caller got the answer or the error
    model_requested: str
    model: str | None = None  # the model that answered (a fallback's, after fail-over)
    provider: str | None = None  # "openai", "anthropic", "gemini"
    user: str | None = None
    feature: str | None = None
    client_id: str | None = None
    stream: bool = False
    ttft_s: float | None = None  # time to the first token seen by the caller
    finish_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cost_usd: str = "0"  # what the client's ledger charged for the answer (Decimal as a string)
    error: str | None = None  # message of the final error (never a key)
    attempts: tuple[AttemptRecord, ...] = field(default_factory=tuple)
    #: where the answer came from: "provider", "cache" (exact match), "coalesced" (another caller's
    #: call), "semantic-cache" (an answer cached for a similar question) or "static" (the degradation
    #: ladder's fixed answer)
    source: str = "provider"
    similarity: float | None = None  # semantic-cache hits: the cosine between the two questions
    cached_from: str | None = None  # cache hits: the logical id whose answer was served
    embedding_cost_usd: str = "0"  # what the semantic cache's embedding call cost (not in cost_usd)
    prompt: str | None = None  # the prompt version the request used ("support@v2"), when it named one
    #: with a degradation ladder: the step that served the request ("primary", "cache", "cheaper",
    #: "static" or "error"); None without a ladder
    degradation_step: str | None = None

    @property
    def latency_s(self) -> float:
        return self.t_end - self.t_start


@dataclass(frozen=True, slots=True)
class ClientEvent:
    """Something the client did besides requests: a breaker state change, a budget warning …"""

    t: float  # on the logs' clock
    kind: str  # "breaker", "budget_soft", "budget_hard", "key_rotated", …
    name: str  # which breaker / budget / key (never the key itself)
    detail: str = ""  # e.g. "closed→open"


_R = TypeVar("_R", ProviderRecord, OutcomeRecord)
_Rec = TypeVar("_Rec", bound=ProviderRecord | OutcomeRecord)  # what a PackedRecords holds


_compact_dumps = json.JSONEncoder(separators=(",", ":")).encode  # what json.dumps(…, separators=) uses
_PROVIDER_FIELDS = tuple(f.name for f in fields(ProviderRecord))
_OUTCOME_FIELDS = tuple(f.name for f in fields(OutcomeRecord))
_ATTEMPT_FIELDS = tuple(f.name for f in fields(AttemptRecord))
_ATTEMPTS = _OUTCOME_FIELDS.index("attempts")


def _to_dict(record: ProviderRecord | OutcomeRecord) -> dict[str, Any]:
    """The record as :func:`dataclasses.asdict` gives it, without its deep copy of every value.

    Records hold plain values only (str, int, float, bool, None; attempts as records), so a shallow
    read is the same dict; at 200,000 records ``asdict`` took most of a report's writing time.
    """
    if type(record) is ProviderRecord:
        return {name: getattr(record, name) for name in _PROVIDER_FIELDS}
    if type(record) is OutcomeRecord:
        out = {name: getattr(record, name) for name in _OUTCOME_FIELDS}
        out["attempts"] = tuple([{name: getattr(a, name) for name in _ATTEMPT_FIELDS} for a in record.attempts])
        return out
    return asdict(record)  # a subclass: its own fields


def _from_dict(cls: type[_R], data: Mapping[str, Any]) -> _R:
    names = {f.name for f in fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in names}
    if cls is OutcomeRecord:
        kwargs["attempts"] = tuple(AttemptRecord(**a) for a in kwargs.get("attempts", ()))
    return cls(**kwargs)


def dump_jsonl(records: Iterable[ProviderRecord | OutcomeRecord]) -> str:
    """JSON lines, one record per line, keys in field order (the ``json`` module's text: the text of
    record that :func:`write_jsonl`'s faster path is held to)."""
    dumps = _compact_dumps
    return "".join([dumps(_to_dict(r)) + "\n" for r in records])


def write_jsonl(records: Iterable[ProviderRecord | OutcomeRecord], out: IO[str], lines_per_write: int = 1024) -> int:
    """:func:`dump_jsonl`'s text written to ``out`` a thousand lines at a time (the whole log is never
    one string: at 200,000 records that string, its lines and its encoding took 300 MB); returns the
    number of records written.

    Records in :class:`PackedRecords` are written from their packed rows, a block at a time, without
    rebuilding each record, through ``orjson`` where it gives the ``json`` module's bytes (see
    :func:`_json_block`): at 22,000 records a third of the time the ``json`` module takes."""
    chunk: list[str] = []
    lines = n = 0
    for text, count in _json_blocks(records):
        chunk.append(text)
        lines += count
        if lines >= lines_per_write:
            out.write("\n".join(chunk) + "\n")
            chunk.clear()
            n, lines = n + lines, 0
    if chunk:
        out.write("\n".join(chunk) + "\n")
    return n + lines


def _json_blocks(records: Iterable[ProviderRecord | OutcomeRecord]) -> Iterator[tuple[str, int]]:
    """The records' JSON lines as :func:`dump_jsonl` writes them, a block at a time: (the block's lines
    joined by newlines, no newline at the end; how many)."""
    dumps = _compact_dumps
    if not isinstance(records, PackedRecords):
        for record in records:
            yield dumps(_to_dict(record)), 1
        return
    row_dicts = _provider_dicts if records.cls is ProviderRecord else _outcome_dicts
    for encoded, values in records.blocks():
        if not values:
            continue
        if encoded:  # rows of plain values straight from marshal: no record is rebuilt
            yield _json_block(*row_dicts(values)), len(values)
        else:  # records kept as they are (a subclass, an unusual value): the json module
            yield "\n".join([dumps(_to_dict(record)) for record in values]), len(values)


def _provider_dicts(rows: Sequence[tuple[Any, ...]]) -> tuple[list[dict[str, Any]], int]:
    """Packed provider rows as :func:`_to_dict` gives their records, and how many values are None."""
    dicts = list(map(dict, map(zip, repeat(_PROVIDER_FIELDS), rows)))
    return dicts, sum(map(tuple.count, rows, repeat(None)))


def _outcome_dicts(rows: Sequence[tuple[Any, ...]]) -> tuple[list[dict[str, Any]], int]:
    """Packed outcome rows as :func:`_to_dict` gives their records (attempts as dicts), and how many
    values (the attempts' included) are None."""
    dicts = list(map(dict, map(zip, repeat(_OUTCOME_FIELDS), rows)))
    nones = sum(map(tuple.count, rows, repeat(None)))
    for data in dicts:
        attempts = data["attempts"]
        if attempts:
            data["attempts"] = tuple(map(dict, map(zip, repeat(_ATTEMPT_FIELDS), attempts)))
            nones += sum(map(tuple.count, attempts, repeat(None)))
    return dicts, nones


def _json_block(dicts: list[dict[str, Any]], nones: int) -> str:
    """``dicts`` (records' dicts of plain values, ``nones`` values None in all) as the ``json`` module
    writes them, one a line.

    ``orjson`` writes them several times faster and, for these values, byte for byte the same, except:
    non-ASCII and DEL unescaped, NaN and infinities as ``null``, floats in [1e-5, 1e-4) without an
    exponent (``0.00001`` for ``1e-05``), single-digit negative exponents without their leading zero
    (``1e-7`` for ``1e-07``), and integers beyond 64 bits not at all. The block is written as one
    JSON array (one ``orjson`` call a record costs ten times more: a buffer each) split into lines
    where a record begins, and checked for those differences once; a block where one may be is
    written again a line at a time, each line by ``orjson`` when none can be in it and by the ``json``
    module otherwise (a string that merely looks like one of them costs only that line's speed).
    """
    try:
        text = orjson.dumps(dicts)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits somewhere in the block
        return "\n".join(map(_json_line, dicts))
    # a record begins where one ends and its first key follows: a JSON string cannot hold that
    # (its quotes are escaped), so the split is exact; it is counted all the same
    begins = b'},{"' + next(iter(dicts[0])).encode() + b'":'
    lines = text[1:-1].replace(begins, b"}\n" + begins[2:])
    if lines.count(b"\n") != len(dicts) - 1 or _orjson_may_differ(lines, nones):
        return "\n".join(map(_json_line, dicts))
    return lines.decode("ascii")


def _json_line(data: dict[str, Any]) -> str:
    """One record's dict as the ``json`` module writes it, by ``orjson`` when that gives the same bytes."""
    try:
        line = orjson.dumps(data)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits
        return _compact_dumps(data)
    nones = sum(v is None for v in data.values()) + sum(v is None for a in data.get("attempts", ()) for v in a.values())
    if _orjson_may_differ(line, nones):
        return _compact_dumps(data)
    return line.decode("ascii")


def _orjson_may_differ(text: bytes, nones: int) -> bool:
    """Whether ``orjson``'s ``text`` (lines of records' dicts holding ``nones`` None values) may differ
    from the ``json`` module's (see :func:`_json_block`). Every float of a record is a dict value, so
    its text follows a ``:``."""
    if not text.isascii() or b"\x7f" in text:  # json escapes both as \\uXXXX
        return True
    if text.count(b"null") != nones:  # a NaN or an infinity written as null
        return True
    if b":0.0000" in text or b":-0.0000" in text:  # a float in [1e-5, 1e-4), json writes 1e-05
        return True
    at = text.find(b"e-")
    while at != -1:  # a digit's negative exponent: json pads a single digit (1e-07)
        if 48 <= text[at - 1] <= 57:
            return True
        at = text.find(b"e-", at + 2)
    return False


def load_jsonl(cls: type[_R], text: str) -> Iterator[_R]:
    """Parse JSON lines written by :func:`dump_jsonl` (unknown keys are ignored, for forward compat)."""
    for line in text.splitlines():
        if line.strip():
            yield _from_dict(cls, json.loads(line))


def to_dict(record: ProviderRecord | OutcomeRecord) -> dict[str, Any]:
    return _to_dict(record)


# -- compact storage -----------------------------------------------------------------------------
_provider_row = operator.attrgetter(*_PROVIDER_FIELDS)
_outcome_head = operator.attrgetter(*_OUTCOME_FIELDS[:_ATTEMPTS])  # the fields before attempts
_outcome_tail = operator.attrgetter(*_OUTCOME_FIELDS[_ATTEMPTS + 1 :], "attempts")  # after, and attempts last
_attempt_row = operator.attrgetter(*_ATTEMPT_FIELDS)


def _row(record: ProviderRecord | OutcomeRecord) -> tuple[Any, ...]:
    """The record's values in field order (an outcome's attempts as tuples of theirs)."""
    if type(record) is ProviderRecord:
        return _provider_row(record)
    if type(record) is OutcomeRecord:
        *tail, attempts = _outcome_tail(record)
        return (*_outcome_head(record), tuple([_attempt_row(a) for a in attempts]), *tail)
    raise ValueError(f"not a plain record: {type(record).__name__}")


def _provider_of(row: tuple[Any, ...]) -> ProviderRecord:
    return ProviderRecord(*row)


def _outcome_of(row: tuple[Any, ...]) -> OutcomeRecord:
    attempts = tuple([AttemptRecord(*a) for a in row[_ATTEMPTS]])
    return OutcomeRecord(*row[:_ATTEMPTS], attempts, *row[_ATTEMPTS + 1 :])  # type: ignore[call-arg]


class PackedRecords(PackedBlocks[_Rec], Sequence[_Rec]):
    """Records of one kind kept compact: their values marshalled and compressed, a block at a time.

    A run of 200,000 requests holds 200,000 provider records and as many outcomes; as objects (each
    with its floats and strings) they took over 300 MB, and every full collection of the garbage
    collector walked them. Packed, a record costs about 40 bytes, in ``bytes`` objects the collector
    never looks at. The sequence reads like a list (index, slice, iterate, ``len``, ``==``); records
    are rebuilt on read, so iterate once and keep what you need rather than the records. The values
    round-trip exactly (``marshal``: floats to the bit). A block that ``marshal`` cannot pack (a
    subclass of a record, an exotic value) is kept as the records themselves.

    The blocks are :class:`~harness.packed_rows.PackedBlocks`'; this class only turns a block's
    records into rows of their values (an outcome's attempts as tuples of theirs) and back.
    """

    __slots__ = ("_make", "cls")

    def __init__(self, cls: type[_Rec], records: Iterable[_Rec] = ()) -> None:
        if cls is not ProviderRecord and cls is not OutcomeRecord:
            raise TypeError(f"PackedRecords holds ProviderRecord or OutcomeRecord, not {cls.__name__}")
        self.cls: type[_Rec] = cls
        self._make: Callable[[tuple[Any, ...]], _Rec] = _provider_of if cls is ProviderRecord else _outcome_of  # type: ignore[assignment]
        super().__init__(records)

    def extend(self, records: Iterable[_Rec]) -> None:
        for record in records:
            self.append(record)

    def packing(self, records: Iterable[_Rec]) -> Iterator[_Rec]:
        """``records``, each appended to this log before it is handed on: a reader that goes through them
        anyway (the judge) packs the log in the same pass, instead of packing it first and then reading
        every record rebuilt from its block. The log is whole once the iterator is exhausted."""
        append = self.append
        for record in records:
            append(record)
            yield record

    def adopt_rows(self, rows: PackedBlocks[tuple[Any, ...]]) -> None:
        """Hold the records whose rows ``rows`` holds, its sealed blocks shared (:meth:`PackedBlocks.adopt`):
        no record is built and no row encoded again. Each row must be exactly what this log packs for
        its record: the record's values in field order, every field present, an outcome's attempts as
        rows of every field of theirs (``_row(record_of(row)) == row``); the writer of JSON lines reads
        the rows as they are."""
        self.adopt(rows, self._make)

    def _encode(self, items: tuple[_Rec, ...]) -> Any:
        """The block's records as rows (``ValueError`` for a subclass: that block is kept as records)."""
        return tuple([_row(r) for r in items])

    def _decode(self, value: Any) -> list[_Rec]:
        make = self._make
        return [make(row) for row in value]

    @overload
    def __getitem__(self, index: int) -> _Rec: ...

    @overload
    def __getitem__(self, index: slice) -> list[_Rec]: ...

    def __getitem__(self, index: int | slice) -> _Rec | list[_Rec]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._len))]
        return super().__getitem__(index)

    def __iter__(self) -> Iterator[_Rec]:
        return self.rows()

    def __len__(self) -> int:
        return self._len

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PackedRecords | list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable (append), like a list

    def __repr__(self) -> str:
        return f"PackedRecords({self.cls.__name__}, {self._len} records)"
