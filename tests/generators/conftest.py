"""Tiny randomly initialised models, built once per test session and saved to disk.

No weights can be downloaded in CI, so the tests build a tokenizer trained on a few
sentences, a causal LM, a Stable Diffusion pipeline and Shap-E pipelines (text- and
image-to-3D) from small configs, `save_pretrained` them, and every backend then
loads them through its real loading code.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("diffusers")

from generators.config import parse_models  # noqa: E402
from generators.registry import build_generator  # noqa: E402
from tests.generators.shap_e_tables import crude_marching_cubes  # noqa: E402

SENTENCES = [
    "a red cube on a wooden table",
    "the quick brown fox jumps over the lazy dog",
    "hello world, this is a small test of the arena",
    "write a short poem about the sea and the sky",
    "user: what is the capital of france? assistant: paris.",
]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def train_tokenizer(model_max_length: int):
    """A byte-level BPE tokenizer (any text encodes, decoding round-trips) with pad/bos/eos."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320, special_tokens=["<pad>", "<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(SENTENCES * 4, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        model_max_length=model_max_length,
    )


def build_text_model(path: Path) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = train_tokenizer(256)
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _clip_text_config(tokenizer, **extra):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        max_position_embeddings=16,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        **extra,
    )


def build_image_model(path: Path) -> Path:
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    tokenizer = train_tokenizer(16)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32),
        layers_per_block=1,
        sample_size=8,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        norm_num_groups=8,
        attention_head_dim=4,
    )
    vae = AutoencoderKL(
        block_out_channels=[8, 16],
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        down_block_types=["DownEncoderBlock2D"] * 2,
        up_block_types=["UpDecoderBlock2D"] * 2,
        norm_num_groups=8,
        sample_size=16,
    )
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=CLIPTextModel(_clip_text_config(tokenizer)),
        tokenizer=tokenizer,
        unet=unet,
        scheduler=DDIMScheduler(clip_sample=False),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(path)
    return path


def _shap_e_parts(surface: bool = True):
    from diffusers import HeunDiscreteScheduler, PriorTransformer
    from diffusers.pipelines.shap_e import ShapERenderer

    torch.manual_seed(0)
    prior = PriorTransformer(
        num_attention_heads=2,
        attention_head_dim=16,
        embedding_dim=32,
        num_embeddings=32,
        embedding_proj_dim=32,
        time_embed_dim=128,
        num_layers=1,
        clip_embed_dim=64,
        additional_embeddings=0,
        time_embed_act_fn="gelu",
        norm_in_type="layer",
        embedding_proj_norm_type="layer",
        encoder_hid_proj_type=None,
        added_emb_type=None,
    )
    renderer = ShapERenderer(
        param_shapes=((8, 93), (8, 8), (8, 8), (8, 8)), d_latent=32, d_hidden=8, n_output=12, background=(0.1, 0.1, 0.1)
    )
    crude_marching_cubes(renderer)
    if not surface:  # signed distance tanh(-50 + ...) < 0 everywhere: nothing to mesh
        with torch.no_grad():
            renderer.mlp.mlp[-1].bias[0] = -50.0
    scheduler = HeunDiscreteScheduler(
        beta_schedule="exp",
        num_train_timesteps=1024,
        prediction_type="sample",
        use_karras_sigmas=True,
        clip_sample=True,
        clip_sample_range=1.0,
    )
    return prior, renderer, scheduler


def build_shap_e(path: Path, surface: bool = True) -> Path:
    from diffusers import ShapEPipeline
    from transformers import CLIPTextModelWithProjection

    tokenizer = train_tokenizer(16)
    prior, renderer, scheduler = _shap_e_parts(surface)
    encoder = CLIPTextModelWithProjection(_clip_text_config(tokenizer, projection_dim=32))
    ShapEPipeline(
        prior=prior, text_encoder=encoder, tokenizer=tokenizer, shap_e_renderer=renderer, scheduler=scheduler
    ).save_pretrained(path)
    return path


def build_shap_e_img2img(path: Path) -> Path:
    from diffusers import ShapEImg2ImgPipeline
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    prior, renderer, scheduler = _shap_e_parts()
    encoder = CLIPVisionModel(
        CLIPVisionConfig(
            hidden_size=32,
            image_size=32,
            patch_size=8,
            projection_dim=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
        )
    )
    processor = CLIPImageProcessor(crop_size=32, size=32, do_center_crop=True, do_normalize=True, do_resize=True)
    ShapEImg2ImgPipeline(
        prior=prior, image_encoder=encoder, image_processor=processor, shap_e_renderer=renderer, scheduler=scheduler
    ).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    return {
        "text": build_text_model(root / "text"),
        "image": build_image_model(root / "image"),
        "3d": build_shap_e(root / "shap-e"),
        "img3d": build_shap_e_img2img(root / "shap-e-img2img"),
        "3d-empty": build_shap_e(root / "shap-e-empty", surface=False),
    }


def local_entries(
    tiny_models: dict[str, Path], dtype: str = "auto", max_batch_size: int = 8, batch_wait_ms: float = 50.0
) -> list[dict]:
    """Models-file entries for the tiny models (small sizes and grids to stay fast on CPU).

    Tests comparing batched with lone answers ask for float32: on a GPU the default
    half precision rounds differently for different batch sizes.
    """
    common = {"dtype": dtype, "max_batch_size": max_batch_size, "batch_wait_ms": batch_wait_ms}
    return [
        {
            "name": "tiny-lm",
            "modality": "text",
            "backend": "hf-text",
            "options": {"path": str(tiny_models["text"]), **common, "defaults": {"temperature": 0.0}},
        },
        {
            "name": "tiny-sd",
            "modality": "image",
            "backend": "hf-image",
            "options": {
                "path": str(tiny_models["image"]),
                **common,
                "defaults": {"steps": 2, "guidance": 5.0, "width": 64, "height": 64},
            },
        },
        {
            "name": "tiny-shap-e",
            "modality": "3d",
            "backend": "hf-3d",
            "options": {"path": str(tiny_models["3d"]), **common, "defaults": {"steps": 2, "grid_size": 16}},
        },
        {
            "name": "tiny-shap-e-img",
            "modality": "3d",
            "backend": "hf-3d",
            "options": {"path": str(tiny_models["img3d"]), **common, "defaults": {"steps": 2, "grid_size": 16}},
        },
        {
            "name": "tiny-shap-e-empty",
            "modality": "3d",
            "backend": "hf-3d",
            "options": {"path": str(tiny_models["3d-empty"]), **common, "defaults": {"steps": 2, "grid_size": 16}},
        },
    ]


async def load(entry: dict):
    generator = build_generator(parse_models({"models": [entry]})[0])
    await generator.load()
    return generator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class WorkerThread:
    """A real worker (models loaded, uvicorn on a loopback port) in a thread with its own loop.

    `extra` generators (already built, not loaded) are served beside the file's models.
    """

    def __init__(
        self,
        entries: list[dict],
        extra: dict | None = None,
        api_key_env: str | None = None,
        max_body_bytes: int = 1024 * 1024,
    ):
        self.entries = parse_models({"models": entries})
        self.extra = extra or {}
        self.api_key_env = api_key_env
        self.max_body_bytes = max_body_bytes
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        from generators.worker import build_server, close_generators, create_app, load_generators

        try:
            generators = await load_generators(self.entries)
            for name, generator in self.extra.items():
                await generator.load()
                generators[name] = generator
            app = create_app(generators, self.api_key_env, 60.0, max_body_bytes=self.max_body_bytes)
            self.server = build_server(app, "127.0.0.1", self.port, log_level="warning")
            await self.server.serve()
            await close_generators(generators)
        except BaseException as exc:  # surfaced by __enter__
            self.error = exc

    def __enter__(self) -> WorkerThread:
        self.thread.start()
        deadline = time.monotonic() + 120
        while self.server is None or not self.server.started:
            if self.error is not None:
                raise self.error
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("worker did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
