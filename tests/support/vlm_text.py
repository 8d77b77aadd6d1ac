"""Tiny randomly initialised image/text models (scorers and captioners), saved like the real ones.

Each builder makes a transformers model from a tiny config with a tokenizer built in memory,
writes model + processor with ``save_pretrained`` into a folder and returns the folder, to be
loaded through the package's own loading code (no network, no weights downloaded):

* scorers: :func:`build_tiny_clip`, :func:`build_tiny_siglip` (SentencePiece tokenizer trained
  in memory), :func:`build_tiny_siglip2` (NaFlex, ``model_type="siglip2"``);
* captioners: :func:`build_tiny_florence2`, :func:`build_tiny_blip` (captioning or VQA),
  :func:`build_tiny_blip2` (OPT), :func:`build_tiny_smolvlm`, :func:`build_tiny_qwen_vl`
  (Qwen2.5-VL or Qwen3-VL), each chat model with a chat template of its family's shape.

Random weights are re-drawn with a larger spread (:func:`_spread`) so generated text depends
on the image and the prompt: a test comparing batched and one-by-one outputs then means something.

Example:
    >>> from tests.support.vlm_text import build_tiny_clip  # doctest: +SKIP
    >>> folder = build_tiny_clip(tmp_path / "clip")  # doctest: +SKIP
    >>> ClipScorer(folder)  # doctest: +SKIP
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from annotator_widgets.backends._optional import require

__all__ = [
    "build_tiny_blip",
    "build_tiny_blip2",
    "build_tiny_clip",
    "build_tiny_florence2",
    "build_tiny_qwen_vl",
    "build_tiny_siglip",
    "build_tiny_siglip2",
    "build_tiny_smolvlm",
    "byte_level_vocab",
]

_LAYER = {"num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 37}
_VISION = {"hidden_size": 32, "image_size": 32, "patch_size": 8, **_LAYER}


def byte_level_vocab(specials: list[str], *, word_suffix: str = "") -> dict[str, int]:
    """Every byte-level character (GPT-2's alphabet) once, plus ``specials`` at the end.

    Args:
        specials: Tokens appended after the alphabet, in order.
        word_suffix: Also add each character with this suffix (CLIP's ``"</w>"``).
    """
    pre_tokenizers = require("tokenizers").pre_tokenizers
    vocab: dict[str, int] = {}
    for char in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[char] = len(vocab)
        if word_suffix:
            vocab[char + word_suffix] = len(vocab)
    for token in specials:
        vocab.setdefault(token, len(vocab))
    return vocab


def _seeded(seed: int) -> Any:
    torch = require("torch")
    torch.manual_seed(seed)
    return torch


def _spread(model: Any, std: float) -> Any:
    """Redraw every weight matrix with ``std`` (outputs of a 0.02-initialised tiny model barely depend on input)."""
    torch = require("torch")
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.ndim >= 2 and "norm" not in name:
                param.normal_(0.0, std)
    return model.eval()


def _save(model: Any, processor: Any, folder: str | os.PathLike[str]) -> Path:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


# -- scorers ------------------------------------------------------------------------------------
def _build_clip(
    folder: str | os.PathLike[str], *, seed: int, max_length: int, text: dict, vision: dict, projection: int, side: int
) -> Path:
    """A random ``CLIPModel`` + ``CLIPProcessor`` (byte-level tokenizer made here); ``side``: the image size."""
    transformers = require("transformers")
    vocab = byte_level_vocab(["<|startoftext|>", "<|endoftext|>"], word_suffix="</w>")
    tokenizer = transformers.CLIPTokenizer(vocab=vocab, merges=[], model_max_length=max_length)
    ids = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    config = transformers.CLIPConfig(
        text_config={"vocab_size": len(vocab), **text, **ids}, vision_config=vision, projection_dim=projection
    )
    _seeded(seed)
    model = transformers.CLIPModel(config).eval()
    crop = {"height": side, "width": side}
    images = transformers.CLIPImageProcessor(size={"shortest_edge": side}, crop_size=crop)
    return _save(model, transformers.CLIPProcessor(image_processor=images, tokenizer=tokenizer), folder)


def build_tiny_clip(folder: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """A ``CLIPModel`` (32-dim, 1 layer, 32 px images, 16-dim projection) + ``CLIPProcessor``."""
    text = {"hidden_size": 32, "max_position_embeddings": 64, **_LAYER}
    return _build_clip(folder, seed=seed, max_length=64, text=text, vision=_VISION, projection=16, side=32)


def build_base_clip(folder: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """A ``CLIPModel`` the size of OpenAI's ViT-B/32 (224 px, 12 + 12 layers, 512-dim projection) with RANDOM
    weights: its compute is the real model's, so timings through it are honest stand-ins (its scores are not)."""
    vision = {"image_size": 224, "patch_size": 32}  # the defaults: 768 wide, 12 layers
    # the text defaults: 512 wide, 12 layers, 77 tokens
    return _build_clip(folder, seed=seed, max_length=77, text={}, vision=vision, projection=512, side=224)


_SENTENCES = [
    "this is a photo of red shoes.",
    "a person riding a bike on the street",
    "the quick brown fox jumps over the lazy dog",
    "abcdefghijklmnopqrstuvwxyz 0123456789 ?!,.'",
]


def build_tiny_siglip(folder: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """A ``SiglipModel`` (32-dim, 1 layer, 32 px) + ``SiglipProcessor`` with a SentencePiece model trained here."""
    transformers = require("transformers")
    spm = require("sentencepiece", "vlm")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_SENTENCES),
        model_writer=buffer,
        vocab_size=60,
        model_type="unigram",
        character_coverage=1.0,
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    spiece = out / "spiece.model"
    spiece.write_bytes(buffer.getvalue())
    tokenizer = transformers.SiglipTokenizer(vocab_file=str(spiece), model_max_length=64)
    ids = {"pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id, "bos_token_id": None}
    config = transformers.SiglipConfig(
        text_config={
            "vocab_size": tokenizer.vocab_size,
            "hidden_size": 32,
            "max_position_embeddings": 64,
            **_LAYER,
            **ids,
        },
        vision_config=_VISION,
    )
    _seeded(seed)
    model = transformers.SiglipModel(config).eval()
    with require("torch").no_grad():  # the real model's calibration, not the init's zeros
        model.logit_scale.fill_(2.3)
        model.logit_bias.fill_(-1.0)
    images = transformers.SiglipImageProcessor(size={"height": 32, "width": 32})
    return _save(model, transformers.SiglipProcessor(image_processor=images, tokenizer=tokenizer), out)


def build_tiny_siglip2(folder: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """A NaFlex ``Siglip2Model`` (16 patches of 8 px) + ``Siglip2Processor`` with a byte-fallback BPE tokenizer."""
    transformers = require("transformers")
    vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<mask>": 4}
    for char in "▁abcdefghijklmnopqrstuvwxyz0123456789.,'?!":
        vocab.setdefault(char, len(vocab))
    for byte in range(256):
        vocab[f"<0x{byte:02X}>"] = len(vocab)
    tokenizer = transformers.Siglip2Tokenizer(vocab=vocab, merges=[], model_max_length=64)
    ids = {"pad_token_id": 0, "eos_token_id": 1, "bos_token_id": 2}
    config = transformers.Siglip2Config(
        text_config={"vocab_size": len(vocab), "hidden_size": 32, "max_position_embeddings": 64, **_LAYER, **ids},
        vision_config={"hidden_size": 32, "num_patches": 16, "patch_size": 8, **_LAYER},
    )
    _seeded(seed)
    model = transformers.Siglip2Model(config).eval()
    with require("torch").no_grad():
        model.logit_scale.fill_(2.3)
        model.logit_bias.fill_(-1.0)
    images = transformers.Siglip2ImageProcessor(max_num_patches=16, patch_size=8)
    return _save(model, transformers.Siglip2Processor(image_processor=images, tokenizer=tokenizer), folder)


# -- captioners ---------------------------------------------------------------------------------
#: Florence-2's task-parsing rules (``Florence2PostProcessor`` refuses a task without an entry)
FLORENCE2_POST_PROCESSOR: dict[str, Any] = {
    "pure_text": {},
    "description_with_bboxes": {},
    "bboxes": {},
    "phrase_grounding": {"banned_grounding_tokens": []},
}


def build_tiny_florence2(folder: str | os.PathLike[str], *, seed: int = 0, spread: float = 0.5) -> Path:
    """A native ``Florence2ForConditionalGeneration`` (one 16-dim DaViT stage, 32 px, BART 1+1 layers).

    The processor gets ``image_seq_length = (32 / 4) ** 2 + 1`` and a ``post_processor_config``;
    the ``BartTokenizer`` has ``<image>``, ``<loc_0..999>`` and the task tags.
    """
    transformers = require("transformers")
    vocab = byte_level_vocab([])
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, **{t: i + 4 for t, i in vocab.items()}}
    tokenizer = transformers.BartTokenizer(vocab=vocab, merges=[], image_token="<image>")
    tokenizer.add_tokens(
        [f"<loc_{i}>" for i in range(1000)] + ["<od>", "</od>", "<cap>", "</cap>", "<ncap>", "</ncap>"]
    )
    bart = {
        "model_type": "bart",
        "vocab_size": len(tokenizer),
        "d_model": 16,
        "encoder_layers": 1,
        "decoder_layers": 1,
        "encoder_attention_heads": 2,
        "decoder_attention_heads": 2,
        "encoder_ffn_dim": 32,
        "decoder_ffn_dim": 32,
        "max_position_embeddings": 256,
        "bos_token_id": 0,
        "pad_token_id": 1,
        "eos_token_id": 2,
        "decoder_start_token_id": 2,
        "forced_bos_token_id": 0,
    }
    davit = {
        "depths": [1],
        "patch_size": [7],
        "patch_stride": [4],
        "patch_padding": [3],
        "patch_prenorm": [False],
        "embed_dim": [16],
        "num_heads": [2],
        "num_groups": [2],
        "window_size": 4,
        "projection_dim": 16,
        "max_position_embeddings": 16,
        "max_temporal_embeddings": 4,
    }
    config = transformers.Florence2Config(
        vision_config=davit, text_config=bart, image_token_id=tokenizer.convert_tokens_to_ids("<image>")
    )
    _seeded(seed)
    model = _spread(transformers.Florence2ForConditionalGeneration(config), spread)
    images = transformers.CLIPImageProcessor(size={"height": 32, "width": 32}, do_center_crop=False)
    images.image_seq_length = (32 // 4) ** 2 + 1
    processor = transformers.Florence2Processor(
        image_processor=images, tokenizer=tokenizer, post_processor_config=FLORENCE2_POST_PROCESSOR
    )
    return _save(model, processor, folder)


def _bert_tokenizer() -> Any:
    transformers = require("transformers")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"]
    chars = "abcdefghijklmnopqrstuvwxyz0123456789"
    words += list(chars + "?.,'!") + ["##" + c for c in chars]
    return transformers.BertTokenizer(vocab={w: i for i, w in enumerate(words)}, bos_token="[DEC]", model_max_length=64)


def _bert_ids(tokenizer: Any) -> dict[str, int]:
    """The special-token ids a BLIP text config takes from the tokenizer."""
    return {
        "bos_token_id": tokenizer.bos_token_id,
        "sep_token_id": tokenizer.sep_token_id,
        "eos_token_id": tokenizer.sep_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }


def build_tiny_blip(folder: str | os.PathLike[str], *, vqa: bool = False, seed: int = 0, spread: float = 0.5) -> Path:
    """A BLIP captioning (``BlipForConditionalGeneration``) or VQA (``BlipForQuestionAnswering``) model, 32 px."""
    transformers = require("transformers")
    tokenizer = _bert_tokenizer()
    ids = _bert_ids(tokenizer)
    text = {"vocab_size": len(tokenizer), "hidden_size": 32, "encoder_hidden_size": 32, **_LAYER, **ids}
    config = transformers.BlipConfig(
        text_config={**text, "max_position_embeddings": 64}, vision_config=_VISION, projection_dim=16
    )
    _seeded(seed)
    cls = transformers.BlipForQuestionAnswering if vqa else transformers.BlipForConditionalGeneration
    model = _spread(cls(config), spread)
    images = transformers.BlipImageProcessor(size={"height": 32, "width": 32})
    return _save(model, transformers.BlipProcessor(image_processor=images, tokenizer=tokenizer), folder)


def build_base_blip(folder: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """A ``BlipForConditionalGeneration`` the size of Salesforce's blip-image-captioning-base (ViT-B/16 at 384 px,
    a 12-layer BERT-base decoder, its 30,524-token head) with RANDOM weights: the real model's compute for timings
    (its words are noise). The tokenizer is the small one made here; its ids fit in the larger vocabulary."""
    transformers = require("transformers")
    tokenizer = _bert_tokenizer()
    ids = _bert_ids(tokenizer)
    # the defaults are the base model's: vision 768 wide x 12 layers at 384 px, patch 16; text 768 x 12 layers
    config = transformers.BlipConfig(text_config={"vocab_size": 30524, **ids}, vision_config={"image_size": 384})
    _seeded(seed)
    model = transformers.BlipForConditionalGeneration(config).eval()
    images = transformers.BlipImageProcessor(size={"height": 384, "width": 384})
    return _save(model, transformers.BlipProcessor(image_processor=images, tokenizer=tokenizer), folder)


def build_tiny_blip2(folder: str | os.PathLike[str], *, seed: int = 0, spread: float = 0.5) -> Path:
    """A ``Blip2ForConditionalGeneration`` (ViT 32 px, Q-Former with 4 queries, 1-layer OPT), GPT-2-style tokenizer.

    The tokenizer is built without an ``image_token``: ``Blip2Processor`` adds ``<image>``
    itself and fails when the tokenizer already has one as a plain string.
    """
    transformers = require("transformers")
    vocab = byte_level_vocab(["<pad>", "</s>", "<unk>"])
    tokenizer = transformers.GPT2Tokenizer(
        vocab=vocab, merges=[], unk_token="<unk>", bos_token="</s>", eos_token="</s>", pad_token="<pad>"
    )
    tokenizer.add_bos_token = True
    images = transformers.BlipImageProcessor(size={"height": 32, "width": 32})
    processor = transformers.Blip2Processor(image_processor=images, tokenizer=tokenizer, num_query_tokens=4)
    tokenizer = processor.tokenizer
    size = len(tokenizer)
    opt = {
        "model_type": "opt",
        "vocab_size": size,
        "hidden_size": 32,
        "ffn_dim": 37,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "word_embed_proj_dim": 32,
        "max_position_embeddings": 512,
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    qformer = {
        "vocab_size": size,
        "hidden_size": 32,
        "encoder_hidden_size": 32,
        "max_position_embeddings": 64,
        **_LAYER,
    }
    config = transformers.Blip2Config(
        vision_config=_VISION,
        qformer_config=qformer,
        text_config=opt,
        num_query_tokens=4,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
    )
    _seeded(seed)
    model = _spread(transformers.Blip2ForConditionalGeneration(config), spread)
    return _save(model, processor, folder)


#: SmolVLM's chat template (as its processor ships it), without the video branch
SMOLVLM_CHAT_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)

#: the shape of Qwen-VL's chat template: image placeholders between vision start/end tokens
QWEN_VL_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}{% else %}{% for c in message['content'] %}{% if c['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _decoder(size: int, pad: int, eos: int, bos: int | None, **extra: Any) -> dict[str, Any]:
    return {
        "vocab_size": size,
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "max_position_embeddings": 512,
        "pad_token_id": pad,
        "eos_token_id": eos,
        "bos_token_id": bos,
        **extra,
    }


def build_tiny_smolvlm(folder: str | os.PathLike[str], *, seed: int = 0, spread: float = 0.5) -> Path:
    """A ``SmolVLMForConditionalGeneration`` (32 px, 4 image tokens, 1-layer Llama) with SmolVLM's chat template."""
    transformers = require("transformers")
    specials = ["<|endoftext|>", "<|im_start|>", "<end_of_utterance>", "<image>", "<fake_token_around_image>"]
    specials += ["<global-img>"] + [f"<row_{r}_col_{c}>" for r in range(1, 4) for c in range(1, 4)]
    tokenizer = transformers.GPT2Tokenizer(
        vocab=byte_level_vocab([]),
        merges=[],
        unk_token="<|endoftext|>",
        bos_token="<|im_start|>",
        eos_token="<end_of_utterance>",
        pad_token="<|endoftext|>",
    )
    tokenizer.add_special_tokens({"extra_special_tokens": specials}, replace_extra_special_tokens=False)
    image_id = tokenizer.convert_tokens_to_ids("<image>")
    ids = (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.bos_token_id)
    config = transformers.SmolVLMConfig(
        vision_config=_VISION,
        text_config={"model_type": "llama", **_decoder(len(tokenizer), *ids)},
        scale_factor=2,
        image_token_id=image_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    _seeded(seed)
    model = _spread(transformers.SmolVLMForConditionalGeneration(config), spread)
    size = {"longest_edge": 32}
    images = transformers.SmolVLMImageProcessor(do_image_splitting=False, size=size, max_image_size=size)
    processor = transformers.SmolVLMProcessor(
        image_processor=images,
        tokenizer=tokenizer,
        video_processor=transformers.SmolVLMVideoProcessor(),
        image_seq_len=(32 // 8) ** 2 // 4,
        chat_template=SMOLVLM_CHAT_TEMPLATE,
    )
    return _save(model, processor, folder)


def build_tiny_qwen_vl(
    folder: str | os.PathLike[str], *, version: str = "2.5", seed: int = 0, spread: float = 0.5
) -> Path:
    """A Qwen2.5-VL (``version="2.5"``) or Qwen3-VL (``"3"``) model: 8 px patches merged 2x2, a 1-layer
    decoder with multimodal RoPE (sections 2/3/3 of a 16-dim head), Qwen's chat-template shape."""
    transformers = require("transformers")
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>"]
    specials += ["<|image_pad|>", "<|video_pad|>"]
    tokenizer = transformers.Qwen2Tokenizer(
        vocab=byte_level_vocab([]),
        merges=[],
        unk_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        eos_token="<|im_end|>",
        bos_token=None,
    )
    tokenizer.add_special_tokens({"extra_special_tokens": specials}, replace_extra_special_tokens=False)
    tid = tokenizer.convert_tokens_to_ids
    tokens = {
        "image_token_id": tid("<|image_pad|>"),
        "video_token_id": tid("<|video_pad|>"),
        "vision_start_token_id": tid("<|vision_start|>"),
        "vision_end_token_id": tid("<|vision_end|>"),
    }
    rope = {"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 10000.0}
    vision = {"depth": 1, "hidden_size": 32, "intermediate_size": 37, "num_heads": 2, "patch_size": 8}
    vision |= {"spatial_merge_size": 2, "temporal_patch_size": 2, "out_hidden_size": 32}
    text = _decoder(len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id, None)
    if version == "2.5":
        config = transformers.Qwen2_5_VLConfig(
            text_config={**text, "rope_parameters": rope},
            vision_config={**vision, "window_size": 32, "fullatt_block_indexes": [0]},
            **tokens,
        )
        model_cls, processor_cls = transformers.Qwen2_5_VLForConditionalGeneration, transformers.Qwen2_5_VLProcessor
        videos = transformers.Qwen2VLVideoProcessor(patch_size=8, merge_size=2, temporal_patch_size=2)
    elif version == "3":
        config = transformers.Qwen3VLConfig(
            text_config={**text, "head_dim": 16, "rope_parameters": {**rope, "mrope_interleaved": True}},
            vision_config={**vision, "num_position_embeddings": 16, "deepstack_visual_indexes": [0]},
            **tokens,
        )
        model_cls, processor_cls = transformers.Qwen3VLForConditionalGeneration, transformers.Qwen3VLProcessor
        videos = transformers.Qwen3VLVideoProcessor(patch_size=8, merge_size=2, temporal_patch_size=2)
    else:
        raise ValueError(f"version must be '2.5' or '3', not {version!r}")
    _seeded(seed)
    model = _spread(model_cls(config), spread)
    images = transformers.Qwen2VLImageProcessor(
        patch_size=8, merge_size=2, temporal_patch_size=2, size={"shortest_edge": 16 * 16, "longest_edge": 32 * 32}
    )
    processor = processor_cls(
        image_processor=images, tokenizer=tokenizer, video_processor=videos, chat_template=QWEN_VL_CHAT_TEMPLATE
    )
    return _save(model, processor, folder)
