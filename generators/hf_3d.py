"""`hf-3d`: diffusers Shap-E, text-to-3D (ShapEPipeline) or image-to-3D (ShapEImg2ImgPipeline).

The pipeline denoises a latent; the renderer turns it into a signed distance field,
runs marching cubes and colours the vertices; the mesh is simplified to the model's face
budget (`defaults.max_faces`, 100k unless set; see `generators.mesh_budget`) and trimesh
writes it as GLB. Requests run one at a time on the model's thread: a 3D decode already
fills the GPU.
"""

from __future__ import annotations

import asyncio
import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from generators.config import LocalEntry
from generators.local import LocalGenerator
from generators.mesh_budget import DEFAULT_MAX_FACES, simplify
from generators.protocol import ConfigError, GenerationRequest, GeneratorError, InvalidRequestError, MeshOutput


class EmptyMeshError(GeneratorError):
    """The decoded field has no surface, so there is nothing to show."""


class HF3DGenerator(LocalGenerator):
    thread_prefix = "hf-3d"

    def __init__(self, entry: LocalEntry):
        super().__init__(entry)
        self.pipe: Any = None  # a diffusers pipeline once loaded
        self.device: torch.device | None = None
        self.takes_image = False

    def _load_sync(self, model_dir: Path, device: torch.device, dtype: torch.dtype) -> None:
        from diffusers import DiffusionPipeline

        with self._load_errors():
            pipe = DiffusionPipeline.from_pretrained(model_dir, dtype=dtype).to(device)
        if not hasattr(pipe, "shap_e_renderer"):
            raise ConfigError(f"model {self.name!r}: {type(pipe).__name__} is not a Shap-E pipeline")
        pipe.set_progress_bar_config(disable=True)
        pipe.shap_e_renderer.mesh_decoder.register_forward_hook(_refuse_empty_mesh)
        self.pipe, self.device = pipe, device
        self.takes_image = hasattr(pipe, "image_encoder")

    def _unload(self) -> None:
        self.pipe = None

    async def _generate(self, request: GenerationRequest) -> MeshOutput:
        self._require_loaded()
        if self.takes_image and request.image is None:
            raise InvalidRequestError(f"{self.name} is an image-to-3D model and needs an input image", param="image")
        if not self.takes_image and request.image is not None:
            raise InvalidRequestError(
                f"{self.name} is a text-to-3D model and does not take an input image", param="image"
            )
        if not self.takes_image and not request.prompt.strip():
            raise InvalidRequestError("the prompt is empty", param="prompt")
        self.stats["requests"] += 1
        loop = asyncio.get_running_loop()
        verts, faces, channels, max_faces = await loop.run_in_executor(self._executor, self._generate_sync, request)
        # simplifying and encoding (seconds of CPU for a 2M-vertex mesh) run here, beside the
        # next request's decode, instead of holding the model's thread
        return await asyncio.to_thread(mesh_to_glb, verts, faces, channels, max_faces)

    @torch.inference_mode()
    def _generate_sync(
        self, request: GenerationRequest
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor], int]:
        """The decoded mesh on the CPU (vertices, faces, colour channels) and its face budget."""
        options = {**self.entry.options.defaults, **request.options}
        seed = request.seed if request.seed is not None else random.getrandbits(63)
        steps = int(options.get("steps", 64))
        if self.takes_image:
            assert request.image is not None  # checked in _generate
            condition: dict[str, Any] = {"image": _open_image(request.image)}
        else:
            condition = {"prompt": request.prompt}
        latents = self.pipe(
            **condition,
            num_inference_steps=steps,
            guidance_scale=float(options.get("guidance", 15.0 if not self.takes_image else 3.0)),
            generator=torch.Generator().manual_seed(seed),
            output_type="latent",
        ).images
        self.stats["batches"] += 1
        self.stats["forward_passes"] += steps
        mesh = self.pipe.shap_e_renderer.decode_to_mesh(
            latents[0][None], self.device, grid_size=int(options.get("grid_size", 128))
        )
        channels = {key: value.cpu() for key, value in (mesh.vertex_channels or {}).items()}
        return mesh.verts.cpu(), mesh.faces.cpu(), channels, int(options.get("max_faces", DEFAULT_MAX_FACES))


def _refuse_empty_mesh(module, inputs, raw_mesh) -> None:
    """Forward hook on the marching-cubes decoder: an empty surface fails clearly, early.

    Without it diffusers goes on to colour zero vertices and dies in torch.cat.
    """
    if len(raw_mesh.verts) == 0 or len(raw_mesh.faces) == 0:
        raise EmptyMeshError("the model produced an empty mesh (its field has no surface)")


def _open_image(png: bytes):
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(png))
        image.load()
    except Exception:
        raise InvalidRequestError("the input image could not be read", param="image") from None
    return image.convert("RGB")


def mesh_to_glb(
    verts: torch.Tensor, faces: torch.Tensor, channels: dict | None = None, max_faces: int = DEFAULT_MAX_FACES
) -> MeshOutput:
    """A vertex-coloured triangle mesh as GLB bytes (colours from R, G, B channels in 0..1),
    with at most `max_faces` faces."""
    import trimesh

    vertices = verts.detach().float().cpu().numpy()
    triangles = faces.detach().cpu().numpy().astype(np.int64)
    if len(vertices) == 0 or len(triangles) == 0:
        raise EmptyMeshError("the model produced an empty mesh (its field has no surface)")
    colors = None
    if channels and all(key in channels for key in "RGB"):
        rgb = torch.stack([channels[key].detach().float().cpu() for key in "RGB"], dim=1).numpy()
        colors = (np.clip(rgb, 0.0, 1.0) * 255).round().astype(np.uint8)
    vertices, triangles, colors = simplify(vertices, triangles, colors, max_faces)
    mesh = trimesh.Trimesh(vertices=vertices, faces=triangles, vertex_colors=colors, process=False)
    glb = mesh.export(file_type="glb")
    assert isinstance(glb, bytes)
    return MeshOutput(glb, len(vertices), len(triangles))
