"""The backend table: the models file is checked against it at load, and builds go through it."""

from __future__ import annotations

import typing

import pytest

from generators import MODALITIES, ConfigError, build_generator, load_models, parse_models
from generators.config import DemoEntry, LocalEntry, ModelEntry, OpenAIEntry, _Entry
from generators.protocol import Modality
from generators.registry import BACKENDS


def test_modality_vocabulary():
    assert [m.value for m in Modality] == ["text", "image", "3d"] == list(MODALITIES)
    assert Modality.THREE_D == "3d" and f"{Modality.IMAGE}" == "image"
    # the models file accepts exactly the vocabulary
    assert typing.get_args(_Entry.model_fields["modality"].annotation) == MODALITIES


def test_every_backend_has_a_schema_and_every_schema_a_backend():
    tags = set()
    for entry_class in typing.get_args(typing.get_args(ModelEntry)[0]):
        tags |= set(typing.get_args(entry_class.model_fields["backend"].annotation))
    assert tags == set(BACKENDS)
    assert {DemoEntry, LocalEntry, OpenAIEntry} == set(typing.get_args(typing.get_args(ModelEntry)[0]))


@pytest.mark.parametrize("backend", ["hf-txt", "vllm", "", 3])
def test_an_unknown_backend_fails_at_load_naming_the_entry_and_the_known_ones(tmp_path, backend):
    path = tmp_path / "models.yaml"
    path.write_text(
        "models:\n"
        "  - {name: fine, modality: text, backend: demo}\n"
        f"  - {{name: typo-model, modality: 3d, backend: {backend!r}, options: {{path: /x}}}}\n"
    )
    with pytest.raises(ConfigError) as error:
        load_models(path)
    message = str(error.value)
    assert "entry 2 ('typo-model'): backend: unknown backend" in message
    assert "known backends: demo, openai, hf-text, hf-image, hf-3d" in message


def test_a_missing_backend_is_named_too():
    with pytest.raises(ConfigError, match=r"entry 1 \('nameless-backend'\): backend: missing; known backends: demo"):
        parse_models({"models": [{"name": "nameless-backend", "modality": "text"}]})


@pytest.mark.parametrize("backend, modality", [("hf-text", "image"), ("hf-image", "3d"), ("hf-3d", "text")])
def test_a_backend_serves_only_its_modalities(backend, modality):
    with pytest.raises(ConfigError, match=f"backend {backend} serves .*, not {modality}"):
        parse_models({"models": [{"name": "m", "modality": modality, "backend": backend, "options": {"path": "/x"}}]})


@pytest.mark.parametrize("modality", MODALITIES)
def test_demo_and_openai_serve_every_modality(modality):
    entries = parse_models(
        {
            "models": [
                {"name": "d", "modality": modality, "backend": "demo"},
                {
                    "name": "o",
                    "modality": modality,
                    "backend": "openai",
                    "options": {"base_url": "https://example.org"},
                },
            ]
        }
    )
    built = [build_generator(entry) for entry in entries]
    assert [g.modality for g in built] == [modality, modality]
    assert type(built[1]).__name__ == "OpenAIGenerator"


def test_build_refuses_an_entry_that_bypassed_validation():
    entry = parse_models({"models": [{"name": "d", "modality": "text", "backend": "demo"}]})[0]
    entry = entry.model_copy(update={"backend": "mystery"})
    with pytest.raises(ConfigError, match="unknown backend 'mystery'"):
        build_generator(entry)


def test_a_missing_gpu_extra_is_a_config_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'", name="torch")
        return real_import(name, *args, **kwargs)

    import sys

    for module in [name for name in sys.modules if name in ("generators.hf_text", "generators.local")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setattr(builtins, "__import__", no_torch)
    entry = parse_models(
        {"models": [{"name": "lm", "modality": "text", "backend": "hf-text", "options": {"path": "/x"}}]}
    )[0]
    with pytest.raises(ConfigError, match=r"backend hf-text needs the GPU extra .*open-arena\[gpu\].*torch"):
        build_generator(entry)
