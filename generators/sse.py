"""Server-sent events, both ways: parsing an endpoint's stream and writing the worker's.

The parser works on raw byte chunks (not httpx's line iterator) so the caller can
count every byte against the response limit, and it bounds a single line so an
endpoint that never sends a newline cannot grow memory without end.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from generators.protocol import GeneratorError


async def iter_sse_data(chunks: AsyncIterator[bytes], max_line_bytes: int) -> AsyncIterator[str]:
    """Yield the `data` of each event (multi-line data joined with newlines)."""
    buffer = b""
    data_lines: list[str] = []
    async for chunk in chunks:
        buffer += chunk
        while True:
            newline = buffer.find(b"\n")
            if newline < 0:
                break
            line, buffer = buffer[:newline].rstrip(b"\r"), buffer[newline + 1 :]
            if not line:
                if data_lines:
                    yield "\n".join(data_lines)
                    data_lines = []
                continue
            if line.startswith(b":"):  # comment / keep-alive
                continue
            field, _, value = line.partition(b":")
            if field == b"data":
                data_lines.append(value.removeprefix(b" ").decode("utf-8", errors="replace"))
        if len(buffer) > max_line_bytes:
            raise GeneratorError("the stream sent an over-long line")
    if data_lines:
        yield "\n".join(data_lines)


def sse_event(payload: dict | str) -> bytes:
    """One `data:` event; a dict is sent as compact JSON."""
    text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {text}\n\n".encode()
