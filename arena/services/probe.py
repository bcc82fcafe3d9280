"""The probe: a few test prompts of the model's modality, sent to a submitted endpoint
through the same generator battles use (the pinned, size- and time-capped transport).

Each prompt's latency, time to first text, output format and error (the operator-side
detail, key scrubbed) is recorded; the probe passes when every prompt got a well-formed
answer: streamed text that is not empty, a PNG that decodes, a GLB mesh that parses.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from arena.vocabulary import Modality
from generators import Generator, GeneratorError
from generators.protocol import GenerationRequest, ImageOutput, MeshOutput, Message

PROMPTS: dict[Modality, tuple[str, ...]] = {
    Modality.TEXT: ("Say hello in five words.", "What is 7 times 6? Answer with the number."),
    Modality.IMAGE: ("a red apple on a wooden table",),
    Modality.THREE_D: ("a small wooden chair",),
}


async def probe(generator: Generator, modality: Modality, timeout_s: float) -> dict[str, Any]:
    """Results of every test prompt, and whether all passed; never raises for the endpoint's faults."""
    results = [await _one(generator, modality, prompt, timeout_s) for prompt in PROMPTS[modality]]
    return {"ok": all(result["ok"] for result in results), "at": datetime.now(UTC).isoformat(), "results": results}


async def _one(generator: Generator, modality: Modality, prompt: str, timeout_s: float) -> dict[str, Any]:
    request = GenerationRequest(
        modality=modality.value, messages=[Message("user", prompt)], seed=1, timeout_s=timeout_s
    )
    started = time.perf_counter()
    result: dict[str, Any] = {"prompt": prompt, "ok": False, "latency_ms": None, "error": None}
    try:
        if modality == Modality.TEXT:
            stream = generator.stream(request)
            async for _ in stream:
                result.setdefault("first_text_ms", _ms(started))
            text = stream.output.text if stream.output is not None else ""
            result["format"] = f"streamed text, {len(text)} characters"
            result["ok"] = bool(text.strip())
            if not result["ok"]:
                result["error"] = "the answer was empty"
        else:
            output = await generator.generate(request)
            if isinstance(output, ImageOutput):
                result["format"] = f"PNG {output.width}x{output.height}"
            elif isinstance(output, MeshOutput):
                result["format"] = f"GLB, {output.vertices} vertices, {output.faces} faces"
            result["ok"] = True
    except GeneratorError as exc:
        result["error"] = exc.detail or str(exc)
    result["latency_ms"] = _ms(started)
    return result


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
