"""The models file: which models exist, how to reach them, what to show about them.

One YAML format for demo models, local GPU models and remote endpoints, validated
up front so a typo fails at start with the entry and field named, not at the first
battle.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from generators.protocol import ConfigError
from generators.registry import BACKENDS, known_backends

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,99}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Display(_Strict):
    """Public metadata shown on the leaderboard once names are revealed."""

    organisation: str | None = None
    license: str | None = None
    open_weights: bool | None = None
    parameters: str | None = None
    output_format: str | None = None  # 3D: "textured mesh", "untextured mesh", ...
    url: str | None = None
    description: str | None = None


class DemoOptions(_Strict):
    """Offline in-process models; `quality` 1 (crude) to 3 (best) sets how good they are."""

    quality: int = Field(default=2, ge=1, le=3)
    corpus: str | None = None  # text: a file under data/corpus, default the shipped one
    fail: bool = False  # always fail: lets operators and tests see a failed battle
    token_delay_ms: float = Field(default=0.0, ge=0, le=1000)  # text: pace the stream like a real model


class LocalOptions(_Strict):
    """transformers / diffusers models loaded with from_pretrained."""

    path: str  # a local directory, or a hub id already in the local cache
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    allow_download: bool = False
    max_batch_size: int = Field(8, ge=1, le=256)
    batch_wait_ms: float = Field(10.0, ge=0, le=5000)
    max_queue: int = Field(64, ge=1, le=100_000)  # requests waiting beyond the running batch; more get 429
    kv_cache_tokens: int | None = Field(None, ge=1)  # text: KV positions running rows may reserve (GPU: also memory)
    defaults: dict = Field(default_factory=dict)  # max_tokens, temperature, steps, guidance, width, height, max_faces

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", value):
            raise ValueError("must be auto, cpu, cuda or cuda:N")
        return value


class OpenAIOptions(_Strict):
    """An OpenAI-compatible endpoint (an author's server, vLLM, or an `arena worker`)."""

    base_url: str
    model: str | None = None  # the remote model id; defaults to the entry's name
    api_key_env: str | None = None  # the NAME of the environment variable holding the key
    connect_timeout_s: float = Field(5.0, gt=0, le=120)
    read_timeout_s: float = Field(60.0, gt=0, le=3600)
    max_retries: int = Field(2, ge=0, le=10)
    max_response_bytes: int = Field(32 * 1024 * 1024, gt=0)
    allow_private: bool = False  # operator-trusted hosts on private networks (workers)
    defaults: dict = Field(default_factory=dict)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError("must be the name of an environment variable, not the key itself")
        return value


class _Entry(_Strict):
    name: str
    modality: Literal["text", "image", "3d"]
    display: Display = Field(default_factory=Display)
    weight: float = Field(1.0, ge=0)  # relative sampling weight
    status: Literal["active", "disabled"] = "active"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError("must be 1-100 characters: letters, digits and . _ : / + -")
        return value


class DemoEntry(_Entry):
    backend: Literal["demo"]
    options: DemoOptions = Field(default_factory=DemoOptions)


class LocalEntry(_Entry):
    backend: Literal["hf-text", "hf-image", "hf-3d"]
    options: LocalOptions


class OpenAIEntry(_Entry):
    backend: Literal["openai"]
    options: OpenAIOptions


ModelEntry = Annotated[DemoEntry | LocalEntry | OpenAIEntry, Field(discriminator="backend")]


class ModelsFile(_Strict):
    models: list[ModelEntry]


def parse_models(data: object, source: str = "models file") -> list[ModelEntry]:
    """Validate parsed YAML; errors name the entry and field."""
    if not isinstance(data, dict) or "models" not in data:
        raise ConfigError(f"{source}: expected a mapping with a 'models' list")
    _check_backends(data["models"], source)
    try:
        entries = ModelsFile.model_validate(data).models
    except ValidationError as exc:
        raise ConfigError(_describe(exc, data, source)) from None
    _check_entries(entries, source)
    return entries


def load_models(path: str | Path) -> list[ModelEntry]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"models file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    return parse_models(data, str(path))


def _entry_label(index: int, raw: object) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    return f"entry {index + 1}" + (f" ({name!r})" if isinstance(name, str) and name else "")


def _check_backends(models: object, source: str) -> None:
    """Every entry names a backend of the registry's table (before the per-backend schemas run)."""
    if not isinstance(models, list):
        return  # the schema says what is wrong
    for index, raw in enumerate(models):
        if not isinstance(raw, dict):
            continue
        backend = raw.get("backend")
        if backend is None:
            raise ConfigError(
                f"{source}: {_entry_label(index, raw)}: backend: missing; known backends: {known_backends()}"
            )
        if not isinstance(backend, str) or backend not in BACKENDS:
            raise ConfigError(
                f"{source}: {_entry_label(index, raw)}: backend: unknown backend {backend!r}; "
                f"known backends: {known_backends()}"
            )


def _check_entries(entries: list[ModelEntry], source: str) -> None:
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        if entry.name in seen:
            raise ConfigError(f"{source}: entry {index + 1} ({entry.name!r}): name is used twice")
        seen.add(entry.name)
        served = BACKENDS[entry.backend].modalities
        if entry.modality not in served:
            raise ConfigError(
                f"{source}: entry {index + 1} ({entry.name!r}): modality: backend "
                f"{entry.backend} serves {', '.join(sorted(served))}, not {entry.modality}"
            )


def _describe(exc: ValidationError, data: dict[str, object], source: str) -> str:
    error = exc.errors()[0]
    loc = list(error["loc"])
    where = source
    if len(loc) >= 2 and loc[0] == "models" and isinstance(loc[1], int):
        index = loc[1]
        models = data.get("models")
        raw = models[index] if isinstance(models, list) else None
        where += f": {_entry_label(index, raw)}"
        # drop the discriminator tag pydantic inserts ("demo", "openai", ...)
        loc = [part for part in loc[2:] if part not in BACKENDS]
    field = ".".join(str(part) for part in loc) or "entry"
    message = error["msg"]
    if error["type"] == "union_tag_invalid" or error["type"] == "union_tag_not_found":
        field, message = "backend", f"must be one of {known_backends()}"
    return f"{where}: {field}: {message}"
