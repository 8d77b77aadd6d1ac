"""Captioners (Florence-2, BLIP, BLIP-2, SmolVLM, Qwen2.5-VL, Qwen3-VL) on tiny random models loaded through
the package's own code: one text per image, batches equal to one-by-one, the documented transformers call
reproduced, chat templates carrying the prompt and the image tokens, and the errors."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest
import torch
import transformers

from annotator_widgets import registry
from annotator_widgets.backends import Captioner
from annotator_widgets.backends.captioners_blip import Blip2Captioner, BlipCaptioner
from annotator_widgets.backends.captioners_chat import QwenVlCaptioner, SmolVlmCaptioner
from annotator_widgets.backends.captioners_florence2 import Florence2Captioner
from annotator_widgets.errors import BackendError, CheckpointError, MissingDependencyError, PromptError
from tests.support import vlm_text

TOKENS = 8
QUESTION = "What is the person doing with the cup?"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    made = tmp_path_factory.mktemp("captioners")
    return {
        "florence2": vlm_text.build_tiny_florence2(made / "florence2"),
        "blip": vlm_text.build_tiny_blip(made / "blip"),
        "blip-vqa": vlm_text.build_tiny_blip(made / "blip-vqa", vqa=True),
        "blip2": vlm_text.build_tiny_blip2(made / "blip2"),
        "smolvlm": vlm_text.build_tiny_smolvlm(made / "smolvlm"),
        "qwen2.5": vlm_text.build_tiny_qwen_vl(made / "qwen2.5", version="2.5"),
        "qwen3": vlm_text.build_tiny_qwen_vl(made / "qwen3", version="3"),
    }


def _make(name, folders, **kwargs):
    kwargs = {"device": "cpu", "max_new_tokens": TOKENS, **kwargs}
    if name == "florence2":
        return Florence2Captioner(folders["florence2"], **kwargs)
    if name == "blip":
        return BlipCaptioner(folders["blip"], vqa_model=kwargs.pop("vqa_model", folders["blip-vqa"]), **kwargs)
    if name == "blip2":
        return Blip2Captioner(folders["blip2"], **kwargs)
    if name == "smolvlm":
        return SmolVlmCaptioner(folders["smolvlm"], **kwargs)
    return QwenVlCaptioner(folders[name], **kwargs)


NAMES = ["florence2", "blip", "blip2", "smolvlm", "qwen2.5", "qwen3"]
CHAT = ["smolvlm", "qwen2.5", "qwen3"]


@pytest.fixture(scope="module")
def captioners(folders):
    made = {name: _make(name, folders) for name in NAMES}
    yield made
    for captioner in made.values():
        captioner.close()


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(11)
    sizes = [(40, 50), (20, 90), (33, 33), (64, 24)]
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in sizes]


def _prompts(name):
    # two questions of the same length (they may share a BLIP VQA batch) and one of another length
    questions = ["what is he doing?", "what is it doing?", "why?"]
    return [""] * 4 if name == "florence2" else ["", *questions]


@pytest.mark.parametrize("name", NAMES)
def test_one_text_per_image_and_batches_equal_one_by_one(captioners, images, name):
    captioner = captioners[name]
    prompts = _prompts(name)
    batched = captioner.describe(images, prompts)
    assert len(batched) == len(images) and all(isinstance(t, str) for t in batched)
    assert len(set(batched)) > 1, "the tiny model must depend on its input, or this comparison means nothing"
    single = [captioner.describe([image], [prompt])[0] for image, prompt in zip(images, prompts, strict=True)]
    assert batched == single
    captioner.batch_size = 2
    try:
        assert captioner.describe(images, prompts) == batched
    finally:
        captioner.batch_size = 8
    assert captioner.describe(images, prompts) == batched  # greedy: the same text every time


def _documented(name, folders, image, prompt):
    """The text the model card's plain transformers recipe gives (greedy, same token budget)."""
    greedy = {"max_new_tokens": TOKENS, "do_sample": False, "num_beams": 1}
    if name == "florence2":
        model = transformers.Florence2ForConditionalGeneration.from_pretrained(folders[name])
        processor = transformers.AutoProcessor.from_pretrained(folders[name])
        task = "<MORE_DETAILED_CAPTION>"
        inputs = processor(text=task, images=image, return_tensors="pt")
        with torch.inference_mode():
            ids = model.generate(**inputs, **greedy)
        text = processor.batch_decode(ids, skip_special_tokens=False)[0]
        return processor.post_process_generation(text, task=task, image_size=image.shape[1::-1])[task]
    if name == "blip":
        folder = folders["blip-vqa"] if prompt else folders["blip"]
        cls = transformers.BlipForQuestionAnswering if prompt else transformers.BlipForConditionalGeneration
        model, processor = cls.from_pretrained(folder), transformers.AutoProcessor.from_pretrained(folder)
        inputs = processor(images=image, text=prompt or None, return_tensors="pt")
        with torch.inference_mode():
            ids = model.generate(**inputs, **greedy)
        return processor.decode(ids[0], skip_special_tokens=True).strip()
    model = transformers.AutoModelForImageTextToText.from_pretrained(folders[name])
    processor = transformers.AutoProcessor.from_pretrained(folders[name])
    if name == "blip2":
        inputs = processor(images=image, text=f"Question: {prompt} Answer:", return_tensors="pt")
    else:
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
        text = processor.apply_chat_template(messages, add_generation_prompt=True)
        inputs = processor(text=[text], images=[[image]], return_tensors="pt")
    with torch.inference_mode():
        ids = model.generate(**inputs, **greedy)
    return processor.decode(ids[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True).strip()


@pytest.mark.parametrize("name", NAMES)
def test_the_text_is_what_the_documented_transformers_call_gives(captioners, folders, images, name):
    prompt = "" if name == "florence2" else QUESTION
    assert captioners[name].describe(images[:1], [prompt]) == [_documented(name, folders, images[0], prompt)]


@pytest.mark.parametrize("name", CHAT)
def test_the_chat_template_carries_the_prompt_and_the_image_tokens(captioners, name):
    captioner = captioners[name]
    image = np.zeros((32, 32, 3), np.uint8)
    processor = captioner._open().processor
    image_id = captioner._open().config.image_token_id
    for prompt, expected in [(QUESTION, QUESTION), ("", captioner.caption_prompt)]:
        ids = captioner.build_inputs([image], [prompt])["input_ids"][0]
        text = processor.tokenizer.decode(ids)
        assert expected in text
        assert text.endswith("Assistant:" if name == "smolvlm" else "<|im_start|>assistant\n")
        assert (ids == image_id).sum() == 4  # a 32 px image: 16 patches merged 2 x 2
        assert text.index(processor.image_token) < text.index(expected)  # the image, then the text


def test_blip2_asks_questions_after_its_query_tokens(captioners):
    captioner = captioners["blip2"]
    processor = captioner._open().processor
    ids = captioner.build_inputs([np.zeros((32, 32, 3), np.uint8)], [QUESTION])["input_ids"][0]
    image_id = captioner._open().config.image_token_index
    assert (ids[:4] == image_id).all() and (ids[4:] != image_id).all()
    assert processor.tokenizer.decode(ids[4:], skip_special_tokens=True) == f"Question: {QUESTION} Answer:"


def test_florence2_answers_questions_with_its_caption_and_says_so_once(folders, images, caplog):
    captioner = _make("florence2", folders)
    with caplog.at_level(logging.WARNING, logger="annotator_widgets.backends.captioners_florence2"):
        answers = captioner.describe(images[:2], [QUESTION, "why?"])
        captioner.describe(images[:1], ["and now?"])
    assert answers == captioner.describe(images[:2], ["", ""])
    assert sum("not a question-answering model" in r.getMessage() for r in caplog.records) == 1
    strict = _make("florence2", folders, questions="error")
    with pytest.raises(PromptError, match="does not answer questions"):
        strict.describe(images[:1], [QUESTION])
    ids = strict.build_inputs(images[:1], [""])["input_ids"][0]
    text = strict._open().processor.tokenizer.decode(ids)
    assert "Describe with a paragraph what is shown in the image." in text
    assert text.count("<image>") == (32 // 4) ** 2 + 1


def test_blip_without_a_vqa_model_refuses_questions(folders, images):
    captioner = _make("blip", folders, vqa_model=None)
    assert isinstance(captioner.describe(images[:1], [""])[0], str)
    with pytest.raises(PromptError, match="no question-answering model"):
        captioner.describe(images[:1], [QUESTION])


def test_blip_folder_never_falls_back_to_the_hubs_vqa_model(folders, images, captioners, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a hub load would be a CheckpointError, not the PromptError
    # a VQA folder as the model ("blip:<folder>") answers the question, as the same folder does as vqa_model=
    answerer = registry.resolve("captioner", f"blip:{folders['blip-vqa']}", device="cpu", max_new_tokens=TOKENS)
    assert answerer.answers_only and answerer.vqa_model == str(folders["blip-vqa"])
    assert answerer.describe(images[:2], QUESTION) == captioners["blip"].describe(images[:2], QUESTION)
    with pytest.raises(PromptError, match="does not caption") as err:
        answerer.describe(images[:1], [""])
    assert "vqa_model" in str(err.value)
    # a captioning folder without vqa_model= captions; a question names vqa_model= instead of going to the hub
    captioner = registry.resolve("captioner", f"blip:{folders['blip']}", device="cpu", max_new_tokens=TOKENS)
    assert captioner.describe(images[:1], [""]) == captioners["blip"].describe(images[:1], [""])
    with pytest.raises(PromptError, match="no question-answering model") as err:
        captioner.describe(images[:1], [QUESTION])
    assert "vqa_model=" in (err.value.hint or "") and "blip:<VQA folder>" in (err.value.hint or "")
    # a VQA folder given with another vqa_model is a contradiction: the old error, naming vqa_model
    with pytest.raises(BackendError, match="answers questions") as err:
        BlipCaptioner(folders["blip-vqa"], vqa_model=folders["blip-vqa"], device="cpu")
    assert "vqa_model" in str(err.value)


def test_blip_vqa_load_error_names_vqa_model(folders, images, tmp_path):
    captioner = _make("blip", folders, vqa_model=tmp_path / "missing")
    with pytest.raises(CheckpointError) as err:
        captioner.describe(images[:1], [QUESTION])
    assert "vqa_model=" in (err.value.hint or "") and str(tmp_path / "missing") in str(err.value)


@pytest.mark.parametrize(
    ("cls", "folder", "found"),
    [
        (SmolVlmCaptioner, "qwen2.5", "qwen2_5_vl"),
        (QwenVlCaptioner, "smolvlm", "smolvlm"),
        (Florence2Captioner, "blip", "blip"),
        (Blip2Captioner, "florence2", "florence2"),
        (BlipCaptioner, "blip2", "blip-2"),
    ],
)
def test_a_folder_of_another_architecture_names_its_model_type(folders, cls, folder, found):
    with pytest.raises(BackendError, match=f"model_type '{found}'"):
        cls(folders[folder], device="cpu")


def test_missing_folders_and_offline_hub_ids_are_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="folder not found"):
        SmolVlmCaptioner(tmp_path / "missing", device="cpu")
    with pytest.raises(CheckpointError, match="hf download nobody/no-such-vlm"):
        QwenVlCaptioner("nobody/no-such-vlm", device="cpu", local_files_only=True)


def test_a_chat_processor_without_a_template_is_refused(folders, tmp_path):
    folder = shutil.copytree(folders["qwen2.5"], tmp_path / "no-template")
    (folder / "chat_template.jinja").unlink()
    with pytest.raises(BackendError, match="no chat template"):
        QwenVlCaptioner(folder, device="cpu")


def test_smolvlm_without_num2words_names_the_extra(folders, monkeypatch):
    from transformers.models.smolvlm import processing_smolvlm

    monkeypatch.setattr(processing_smolvlm, "num2words", None)
    with pytest.raises(MissingDependencyError, match=r"annotator-widgets\[vlm\]"):
        SmolVlmCaptioner(folders["smolvlm"], device="cpu")


@pytest.mark.parametrize("name", ["blip", "smolvlm"])
def test_bad_images_and_prompts_are_prompt_errors(captioners, images, name):
    captioner = captioners[name]
    with pytest.raises(PromptError, match="RGB uint8"):
        captioner.describe([images[0], images[0][..., 0]], ["", ""])
    with pytest.raises(PromptError, match="RGB uint8"):
        captioner.describe([images[0].astype(np.float32)], [""])
    with pytest.raises(PromptError, match="one prompt per image"):
        captioner.describe(images[:2], [""])
    with pytest.raises(PromptError, match="not a string"):
        captioner.describe(images[:1], [None])
    assert captioner.describe([], []) == []
    # one string is every image's prompt; 3- and 4-pixel-high images are still (H, W, 3)
    tiny = [np.full((3, 5, 3), 9, np.uint8), np.full((4, 4, 3), 200, np.uint8)]
    assert captioner.describe(tiny, "") == captioner.describe(tiny, ["", ""])


def test_bfloat16_weights_caption_too(folders, images):
    captioner = _make("smolvlm", folders, dtype="bfloat16")
    assert captioner.dtype == torch.bfloat16
    inputs = captioner.build_inputs(images[:1], [""])
    assert inputs["pixel_values"].dtype == torch.bfloat16 and inputs["input_ids"].dtype == torch.long
    texts = captioner.describe(images[:2], ["", QUESTION])
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)


def test_registered_captioners_satisfy_the_protocol(folders, images):
    assert {"florence2", "blip", "blip2", "smolvlm", "qwen-vl"} <= set(registry.names("captioner"))
    specs = {
        "florence2": folders["florence2"],
        "blip2": folders["blip2"],
        "smolvlm": folders["smolvlm"],
        "qwen-vl": folders["qwen3"],
        "qwen": folders["qwen2.5"],
    }
    for name, folder in specs.items():
        captioner = registry.resolve("captioner", f"{name}:{folder}", device="cpu", max_new_tokens=2)
        canonical = "qwen-vl" if name == "qwen" else name  # "qwen" is an alias
        assert isinstance(captioner, Captioner) and captioner.name == f"{canonical}:{folder}"
        assert len(captioner.describe(images[:1], [""])) == 1
        captioner.close()
        with pytest.raises(BackendError, match="closed"):
            captioner.describe(images[:1], [""])
    blip = registry.resolve("captioner", f"blip:{folders['blip']}", vqa_model=folders["blip-vqa"], device="cpu")
    assert isinstance(blip, Captioner)
