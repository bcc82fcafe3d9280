"""hf-text, hf-image and hf-3d loading tiny saved models through their real loading code."""

from __future__ import annotations

import asyncio
import io
import json
import struct

import pytest
import torch
import trimesh
from PIL import Image

from generators.config import parse_models
from generators.devices import check_fits, choose_device, choose_dtype, resolve_model_dir, weights_bytes
from generators.hf_3d import EmptyMeshError, mesh_to_glb
from generators.protocol import ConfigError, GenerationRequest, GeneratorError, Message
from generators.registry import build_generator

from .conftest import load, local_entries


@pytest.fixture(scope="module")
def entries(tiny_models):
    return {entry["name"]: entry for entry in local_entries(tiny_models)}


def png_bytes(size=(40, 40), colour=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_text_streams_chunks_and_counts_tokens(entries):
    lm = await load(entries["tiny-lm"])
    try:
        stream = lm.stream(GenerationRequest.from_prompt("text", "hello world", seed=1, max_tokens=12))
        chunks = [chunk async for chunk in stream]
        assert all(isinstance(chunk, str) and chunk for chunk in chunks)
        output = stream.output
        assert output.text == "".join(chunks)
        assert output.completion_tokens == 12  # random weights rarely say EOS; max_tokens stops it
        assert output.prompt_tokens > 0
    finally:
        await lm.close()


async def test_text_uses_the_chat_template_and_seeds_sampling(entries):
    lm = await load(entries["tiny-lm"])
    try:
        conversation = [Message("system", "be brief"), Message("user", "a red cube")]
        ids = lm._encode(GenerationRequest("text", conversation))
        assert lm.tokenizer.decode(ids) == "<|system|>be brief\n<|user|>a red cube\n<|assistant|>"

        def ask(seed):
            return lm.generate(
                GenerationRequest(
                    "text", conversation, seed=seed, max_tokens=16, options={"temperature": 1.0, "top_p": 0.9}
                )
            )

        first, again, other = await ask(7), await ask(7), await ask(8)
        assert first.text == again.text
        assert first.text != other.text
    finally:
        await lm.close()


async def test_text_prompt_too_long_is_a_clear_error(entries):
    lm = await load(entries["tiny-lm"])
    try:
        with pytest.raises(GeneratorError, match="too long"):
            await lm.generate(GenerationRequest.from_prompt("text", "hello world " * 200, max_tokens=4))
    finally:
        await lm.close()


async def test_abandoned_stream_stops_its_generation(entries):
    lm = await load(entries["tiny-lm"])
    try:
        stream = lm.stream(GenerationRequest.from_prompt("text", "hello", seed=1, max_tokens=200))
        await stream.__anext__()
        await stream.aclose()
        # the next request gets the model's thread only once the abandoned row stopped
        await lm.generate(GenerationRequest.from_prompt("text", "hi", seed=1, max_tokens=2))
        assert lm.health()["forward_passes"] < 200
    finally:
        await lm.close()


async def test_text_time_limit(entries):
    lm = await load(entries["tiny-lm"])
    try:
        with pytest.raises(GeneratorError, match="timed out"):
            await lm.generate(GenerationRequest.from_prompt("text", "hello", max_tokens=200, timeout_s=0.0))
    finally:
        await lm.close()


async def test_image_is_a_png_of_the_asked_size(entries):
    sd = await load(entries["tiny-sd"])
    try:
        output = await sd.generate(GenerationRequest.from_prompt("image", "a red cube", seed=3))
        image = Image.open(io.BytesIO(output.png))
        assert image.format == "PNG" and image.size == (64, 64) == (output.width, output.height)
        same = await sd.generate(GenerationRequest.from_prompt("image", "a red cube", seed=3))
        assert same.png == output.png
        wide = await sd.generate(
            GenerationRequest.from_prompt(
                "image", "a red cube", seed=3, options={"width": 96, "height": 64, "steps": 1}
            )
        )
        assert (wide.width, wide.height) == (96, 64)
        with pytest.raises(GeneratorError, match="multiples of 8"):
            await sd.generate(GenerationRequest.from_prompt("image", "x", options={"width": 65, "height": 64}))
    finally:
        await sd.close()


async def test_text_to_3d_writes_a_glb_that_trimesh_loads(entries):
    shap_e = await load(entries["tiny-shap-e"])
    try:
        output = await shap_e.generate(GenerationRequest.from_prompt("3d", "a red cube", seed=3))
        scene = trimesh.load(io.BytesIO(output.glb), file_type="glb", force="scene")
        mesh = next(iter(scene.geometry.values()))
        assert output.vertices == len(mesh.vertices) > 0 and output.faces == len(mesh.faces) > 0
        assert mesh.visual.kind == "vertex"  # the renderer's colours survive
        with pytest.raises(GeneratorError, match="does not take an input image"):
            await shap_e.generate(GenerationRequest.from_prompt("3d", "x", image=png_bytes()))
    finally:
        await shap_e.close()


async def test_image_to_3d(entries):
    shap_e = await load(entries["tiny-shap-e-img"])
    try:
        output = await shap_e.generate(GenerationRequest.from_prompt("3d", "", seed=1, image=png_bytes()))
        assert output.glb[:4] == b"glTF" and output.faces > 0
        with pytest.raises(GeneratorError, match="needs an input image"):
            await shap_e.generate(GenerationRequest.from_prompt("3d", "a cube"))
        with pytest.raises(GeneratorError, match="could not be read"):
            await shap_e.generate(GenerationRequest.from_prompt("3d", "", image=b"not an image"))
    finally:
        await shap_e.close()


async def test_field_without_surface_is_a_clear_empty_mesh_error(entries):
    shap_e = await load(entries["tiny-shap-e-empty"])
    try:
        with pytest.raises(EmptyMeshError, match="empty mesh"):
            await shap_e.generate(GenerationRequest.from_prompt("3d", "a red cube", seed=3))
    finally:
        await shap_e.close()


def test_mesh_to_glb_round_trip():
    verts = torch.tensor([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=torch.float32)
    faces = torch.tensor([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    colours = {key: torch.rand(4) for key in "RGB"}
    output = mesh_to_glb(verts, faces, colours)
    mesh = trimesh.load(io.BytesIO(output.glb), file_type="glb", force="mesh")
    assert (output.vertices, output.faces) == (4, 4) and len(mesh.faces) == 4
    with pytest.raises(EmptyMeshError):
        mesh_to_glb(verts[:0], faces[:0])


# ---- configuration errors at start ------------------------------------------------------


def _entry(backend: str, path: str, **options):
    modality = {"hf-text": "text", "hf-image": "image", "hf-3d": "3d"}[backend]
    return parse_models(
        {"models": [{"name": "m", "modality": modality, "backend": backend, "options": {"path": path, **options}}]}
    )[0]


@pytest.mark.parametrize("backend", ["hf-text", "hf-image", "hf-3d"])
async def test_missing_model_is_a_config_error_not_a_download(backend, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match="does not exist"):
        await build_generator(_entry(backend, str(tmp_path / "nowhere"))).load()
    with pytest.raises(ConfigError, match="allow_download"):
        await build_generator(_entry(backend, "no-such-org/no-such-model")).load()


async def test_wrong_kind_of_model_is_a_config_error(tiny_models):
    with pytest.raises(ConfigError, match="could not be loaded|not a Shap-E"):
        await build_generator(_entry("hf-3d", str(tiny_models["image"]))).load()
    with pytest.raises(ConfigError, match="could not be loaded"):
        await build_generator(_entry("hf-text", str(tiny_models["image"]))).load()


def test_resolve_model_dir_uses_the_local_cache_only(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_model_dir("m", str(tmp_path), allow_download=False) == tmp_path
    with pytest.raises(ConfigError, match="neither a local directory nor in the Hugging Face cache"):
        resolve_model_dir("m", "org/model", allow_download=False)


def test_memory_check_names_the_model_and_the_numbers(tmp_path):
    header = json.dumps({"w": {"dtype": "F32", "shape": [1024, 1024], "data_offsets": [0, 4 * 1024 * 1024]}})
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header.encode())
    assert weights_bytes(tmp_path, torch.float32) == 4 * 1024 * 1024
    assert weights_bytes(tmp_path, torch.bfloat16) == 2 * 1024 * 1024
    cuda = torch.device("cuda")
    check_fits("big", tmp_path, torch.float16, cuda, free_bytes=80 * 1024**3)
    with pytest.raises(ConfigError, match=r"model 'big' does not fit on cuda: it needs about 0\.5 GiB"):
        check_fits("big", tmp_path, torch.float16, cuda, free_bytes=100 * 1024**2)
    check_fits("big", tmp_path, torch.float16, torch.device("cpu"), free_bytes=0)  # no check on CPU


def test_device_and_dtype_choice():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert choose_device("auto").type == expected
    assert choose_dtype("auto", torch.device("cpu")) == torch.float32
    assert choose_dtype("float16", torch.device("cpu")) == torch.float16
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            choose_device("cuda")


async def test_concurrent_generators_share_nothing(entries):
    """Two models loaded side by side each keep their own thread and batcher."""
    lm, sd = await asyncio.gather(load(entries["tiny-lm"]), load(entries["tiny-sd"]))
    try:
        text, image = await asyncio.gather(
            lm.generate(GenerationRequest.from_prompt("text", "hi", seed=1, max_tokens=4)),
            sd.generate(GenerationRequest.from_prompt("image", "hi", seed=1)),
        )
        assert text.completion_tokens == 4 and image.png[:4] == b"\x89PNG"
    finally:
        await asyncio.gather(lm.close(), sd.close())
