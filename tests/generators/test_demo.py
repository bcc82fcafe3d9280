"""The shipped demo models: they load, answer correctly, deterministically, in order of quality."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
import trimesh
from PIL import Image

from generators import (
    ConfigError,
    GenerationRequest,
    GeneratorError,
    ImageOutput,
    MeshOutput,
    Message,
    TextOutput,
    build_generator,
    load_models,
    parse_models,
)
from generators.demo.corpus import load_ngrams, normalise, resolve_corpus
from generators.demo.vocabulary import keywords

ROOT = Path(__file__).resolve().parents[2]
MODELS = {entry.name: entry for entry in load_models(ROOT / "data" / "models.demo.yaml")}
PROMPTS = {
    m: (ROOT / "data" / "prompts" / f"{m}.txt").read_text(encoding="utf-8").splitlines()
    for m in ("text", "image", "3d")
}


def _fast(name: str):
    """The named model without its stream pacing, so tests do not wait on purpose."""
    entry = MODELS[name].model_copy(deep=True)
    entry.options.token_delay_ms = 0
    return build_generator(entry)


def _by_quality(modality: str) -> list[str]:
    return [e.name for e in sorted(MODELS.values(), key=lambda e: e.options.quality) if e.modality == modality]


async def _run(name: str, prompt: str, seed: int | None = 7, **kwargs):
    entry = MODELS[name]
    return await _fast(name).generate(GenerationRequest.from_prompt(entry.modality, prompt, seed=seed, **kwargs))


def _one_entry(**fields) -> object:
    return parse_models({"models": [{"name": "broken", "backend": "demo", **fields}]})[0]


def test_models_file_has_three_qualities_per_modality():
    for modality in ("text", "image", "3d"):
        entries = [e for e in MODELS.values() if e.modality == modality]
        assert sorted(e.options.quality for e in entries) == [1, 2, 3]
        assert not any(e.options.fail for e in entries)
        assert all(e.display.organisation and e.display.parameters for e in entries)


def test_prompt_sets_are_large_enough_and_clean():
    for prompts in PROMPTS.values():
        assert len(prompts) >= 60
        assert all(p.strip() == p and p for p in prompts)
        assert len(set(prompts)) == len(prompts)


@pytest.mark.parametrize("name", _by_quality("text"))
async def test_text_is_deterministic_and_follows_the_prompt(name):
    first = await _run(name, "Why do cats sleep so much?")
    again = await _run(name, "Why do cats sleep so much?")
    other = await _run(name, "How do I bake a loaf of bread?")
    other_seed = await _run(name, "Why do cats sleep so much?", seed=8)
    assert isinstance(first, TextOutput) and first.text.strip()
    assert first.text == again.text
    assert first.text != other.text and first.text != other_seed.text
    assert "cat" in first.text.lower() and "bake" in other.text.lower()  # the first keyword at least
    assert first.completion_tokens == len(first.text.split()) and first.prompt_tokens == 6


@pytest.mark.parametrize("name", _by_quality("text"))
async def test_unseeded_text_derives_its_seed_from_the_prompt(name):
    assert (await _run(name, "Tell me about the moon.", seed=None)).text == (
        await _run(name, "Tell me about the moon.", seed=None)
    ).text


async def test_text_answers_the_latest_user_message():
    conversation = [
        Message("user", "Tell me about cats."),
        Message("assistant", "Cats sleep a lot."),
        Message("user", "And what about volcanoes?"),
    ]
    output = await _fast("quill-pro").generate(GenerationRequest("text", conversation, seed=1))
    assert "volcano" in output.text.lower()


async def test_text_respects_max_tokens():
    output = await _run("quill-pro", "Describe the sea.", max_tokens=5)
    assert len(output.text.split()) == 5


def _corpus_trigram_share(text: str) -> float:
    """How much of a text reuses the corpus's word trigrams: a proxy for fluency."""
    ngrams = load_ngrams(resolve_corpus(None))
    known = {tuple(normalise(t) for t in s[i : i + 3]) for s in ngrams.sentences for i in range(len(s) - 2)}
    tokens = [normalise(t) for t in text.split()]
    triples = [tuple(tokens[i : i + 3]) for i in range(len(tokens) - 2)]
    return sum(t in known for t in triples) / len(triples)


async def test_text_quality_is_ordered():
    prompts = PROMPTS["text"][:12]
    fluency, on_topic = {}, {}
    for name in _by_quality("text"):
        outputs = [(await _run(name, p)).text for p in prompts]
        fluency[name] = sum(map(_corpus_trigram_share, outputs)) / len(outputs)
        on_topic[name] = sum(len(set(keywords(p)) & set(keywords(o))) for p, o in zip(prompts, outputs))
    mini, base, pro = _by_quality("text")
    assert fluency[mini] < fluency[base] < fluency[pro]
    assert fluency[pro] > 0.8 and fluency[mini] < 0.1
    assert on_topic[pro] > on_topic[mini]


async def test_stream_chunks_add_up_to_the_final_text():
    entry = MODELS["quill-base"]
    stream = build_generator(entry).stream(GenerationRequest.from_prompt("text", "Why is the sky blue?", seed=3))
    chunks = [chunk async for chunk in stream]
    assert len(chunks) > 10
    assert "".join(chunks) == stream.output.text


async def test_two_streams_interleave():
    order: list[str] = []

    async def consume(name: str) -> None:
        async for _ in _fast(name).stream(GenerationRequest.from_prompt("text", "Tell me about rivers.", seed=1)):
            order.append(name)

    await asyncio.gather(consume("quill-mini"), consume("quill-pro"))
    assert order[:4] != [order[0]] * 4


@pytest.mark.parametrize("name", _by_quality("image"))
async def test_image_is_a_png_of_the_stated_size(name):
    output = await _run(name, "a red house with a green tree under a yellow sun")
    assert isinstance(output, ImageOutput) and output.png.startswith(b"\x89PNG")
    image = Image.open(io.BytesIO(output.png))
    assert image.format == "PNG" and image.size == (output.width, output.height)
    again = await _run(name, "a red house with a green tree under a yellow sun")
    other = await _run(name, "a black cat under a full moon at night")
    assert again.png == output.png and other.png != output.png


async def test_image_quality_is_ordered_and_uses_the_prompt_colours():
    prompt = "a red car next to a blue house"
    sizes = [(await _run(name, prompt)).width for name in _by_quality("image")]
    assert sizes == sorted(sizes) and len(set(sizes)) == 3
    best = Image.open(io.BytesIO((await _run("easel-studio", prompt)).png)).convert("RGB")
    colours = {colour for _, colour in best.getcolors(1 << 20)}
    assert (206, 42, 42) in colours and (45, 95, 200) in colours  # the vocabulary's red and blue


@pytest.mark.parametrize("name", _by_quality("3d"))
async def test_mesh_is_a_glb_with_the_stated_counts(name):
    output = await _run(name, "a red chair next to a snowman")
    assert isinstance(output, MeshOutput) and output.glb[:4] == b"glTF"
    mesh = trimesh.load(io.BytesIO(output.glb), file_type="glb", force="mesh", process=False)
    assert (len(mesh.vertices), len(mesh.faces)) == (output.vertices, output.faces)
    assert (await _run(name, "a red chair next to a snowman")).glb == output.glb


async def test_mesh_quality_is_ordered():
    for prompt in ("a red chair", "a snowman", "a blue table with a red chair", "a mysterious object"):
        faces = [(await _run(name, prompt)).faces for name in _by_quality("3d")]
        assert faces == sorted(faces) and faces[0] < faces[2], prompt
    best = trimesh.load(io.BytesIO((await _run("kiln-forge", "a red chair")).glb), file_type="glb", force="mesh")
    assert tuple(best.visual.vertex_colors[0][:3]) == (206, 42, 42)


async def test_mesh_follows_the_prompt():
    chair, snowman = await _run("kiln-forge", "a chair"), await _run("kiln-forge", "a snowman")
    unknown, other_unknown = await _run("kiln-forge", "a quasar"), await _run("kiln-forge", "a zeppelin")
    assert chair.faces != snowman.faces
    assert unknown.glb != other_unknown.glb  # the default object is coloured by the prompt


@pytest.mark.parametrize("modality", ["text", "image", "3d"])
async def test_configured_failure_raises_generator_error(modality):
    generator = build_generator(_one_entry(modality=modality, options={"fail": True}))
    with pytest.raises(GeneratorError, match="demo model broken is configured to fail"):
        await generator.generate(GenerationRequest.from_prompt(modality, "anything", seed=1))


async def test_slow_stream_times_out():
    generator = build_generator(_one_entry(modality="text", options={"token_delay_ms": 500}))
    with pytest.raises(GeneratorError, match="timed out"):
        await generator.generate(GenerationRequest.from_prompt("text", "Tell me a story.", timeout_s=0.05))


def test_unknown_corpus_is_a_config_error():
    for corpus in ("missing.txt", "../models.demo.yaml"):
        with pytest.raises(ConfigError, match="corpus"):
            build_generator(_one_entry(modality="text", options={"corpus": corpus}))


@pytest.mark.parametrize("modality", ["text", "image", "3d"])
async def test_every_model_answers_every_shipped_prompt(modality):
    names = _by_quality(modality)
    for prompt in PROMPTS[modality]:
        for name in names:
            output = await _run(name, prompt)
            assert output.text if modality == "text" else (output.png if modality == "image" else output.faces)
