"""Generators: one interface over demo, local GPU and remote OpenAI-compatible models."""

from generators.config import ModelEntry, load_models, parse_models
from generators.protocol import (
    MODALITIES,
    ConfigError,
    FinishReason,
    GenerationRequest,
    Generator,
    GeneratorError,
    ImageOutput,
    InvalidRequestError,
    MeshOutput,
    Message,
    Modality,
    Output,
    TextOutput,
    TextStream,
    Usage,
)
from generators.registry import build_generator

__all__ = [
    "MODALITIES",
    "ConfigError",
    "FinishReason",
    "GenerationRequest",
    "Generator",
    "GeneratorError",
    "ImageOutput",
    "InvalidRequestError",
    "MeshOutput",
    "Message",
    "Modality",
    "ModelEntry",
    "Output",
    "TextOutput",
    "TextStream",
    "Usage",
    "build_generator",
    "load_models",
    "parse_models",
]
