"""Find by text: coarse-to-fine scan, candidates, the embedding cache, track_from, bad input.

The clip is generated (:func:`annotator_widgets.data.synthetic_clip`) with its true masks; object 2
is painted pure red from frame ``RED_FROM`` on (before, pure blue), so "red" first appears there.
The scripted scorer double (:class:`RedScorer`, registered as a ``scorer`` part in the test)
embeds a crop as its share of pure-red pixels, so it scores by the true red mask; the real tiny
CLIP and SigLIP models are used for the plumbing (crops, background, score ranges, cache).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from annotator_widgets import AnnotationSession, open_video, registry
from annotator_widgets.backends.classic import ClassicSegmenter
from annotator_widgets.backends.scorers import ClipScorer, SiglipScorer
from annotator_widgets.crops import MEAN_RGB, masked_crop, masked_crops, tight_box
from annotator_widgets.data import synthetic_clip
from annotator_widgets.errors import NotFoundError, PromptError
from annotator_widgets.rle import RLE
from annotator_widgets.workflows.candidates import dedupe, dedupe_with_boxes, mask_key
from annotator_widgets.workflows.find import FindCancelled, FindResult, find_text, track_from
from tests.support.vlm_text import build_tiny_clip, build_tiny_siglip

NUM_FRAMES, RED_FROM, TARGET = 120, 57, 2
RED, BLUE = (255, 0, 0), (0, 0, 255)


def red_clip(num_frames: int = NUM_FRAMES, red_from: int = RED_FROM, size=(96, 72)):
    clip = synthetic_clip(num_frames=num_frames, size=size, num_objects=2, seed=3)
    frames = clip.frames.copy()
    for t in range(num_frames):
        frames[t][clip.masks[TARGET][t]] = RED if t >= red_from else BLUE
    return frames, clip.masks


class RedScorer:
    """Test double: a crop's embedding is (red share, rest); "red ..." phrases score the red share."""

    def __init__(self, arg: str | None = None) -> None:
        self.name = "red-test"
        self.image_calls = 0
        self.crops_seen: list[np.ndarray] = []
        self.closed = False

    def embed_images(self, crops):
        self.image_calls += 1
        self.crops_seen += list(crops)
        rows = []
        for c in crops:
            red = float(np.mean((c[..., 0] > 200) & (c[..., 1] < 60) & (c[..., 2] < 60)))
            rows.append([red, 1.0 - red])
        return np.asarray(rows, np.float32)

    def embed_text(self, phrases):
        return np.asarray([[1.0, 0.0] if "red" in p else [0.0, 0.0] for p in phrases], np.float32)

    def score(self, image_embeddings, text_embeddings):
        return np.clip(np.asarray(image_embeddings) @ np.asarray(text_embeddings).T, 0.0, 1.0)

    def close(self) -> None:
        self.closed = True


@pytest.fixture(scope="module")
def clip():
    return red_clip()


@pytest.fixture
def session(clip, tmp_path):
    frames, _ = clip
    s = AnnotationSession(open_video(frames, fps=30.0), project=tmp_path / "p.awp", segmenter="classic")
    yield s
    s.close()


@pytest.fixture
def truth(clip):
    _, masks = clip
    return {t: [masks[1][t], masks[2][t]] for t in range(NUM_FRAMES)}


@pytest.fixture
def red_part():
    made: list[RedScorer] = []

    def factory(arg=None, **kw):
        made.append(RedScorer(arg))
        return made[-1]

    registry.register("scorer", "red-test", factory)
    yield made
    registry.unregister("scorer", "red-test")


@pytest.mark.parametrize(
    ("batch", "scored", "calls"),
    [
        # frame by frame: coarse 0, 10, ..., 60 (7 frames), then 51..57 (7 frames): 14 of 120 frames, 14 calls
        (1, [*range(0, 51, 10), *range(51, 58), 60], 14),
        # 8 at a time: coarse 0..70 in one call (60 passes, 70 scored with it), then 51..58 in one (57 passes)
        (8, [*range(0, 51, 10), *range(51, 59), 60, 70], 2),
        # 3 at a time: 0-20, 30-50, 60-80 (60 passes); 51-53, 54-56, 57-59 (57 passes)
        (3, [*range(0, 51, 10), *range(51, 60), 60, 70, 80], 6),
    ],
)
def test_coarse_to_fine_finds_the_first_red_frame_scoring_few_frames(
    session, truth, clip, red_part, batch, scored, calls
):
    done = []
    found = find_text(
        session,
        "red shoes",
        every=10,
        threshold=0.2,
        scorer="red-test",
        candidates=truth,
        batch=batch,
        progress=lambda i, n: done.append((i, n)),
    )
    assert isinstance(found, FindResult) and found.frame == RED_FROM
    assert np.array_equal(found.mask, clip[1][TARGET][RED_FROM]) and 0.2 <= found.score <= 1.0
    assert found.frames_scored == len(scored) and sorted(found.curve) == scored
    assert all(found.curve[f] == 0.0 for f in found.curve if f < RED_FROM)
    assert found.curve[60] >= 0.2
    (scorer,) = red_part
    assert scorer.closed and scorer.image_calls == calls  # a spec's model is closed; one image call per batch
    assert len(scorer.crops_seen) == 2 * len(scored)  # two candidates per frame
    # progress moves once per frame scored
    assert [i for i, _ in done] == list(range(1, len(scored) + 1)) and all(i <= n for i, n in done)
    assert session.objects == [] and not session.project.can_undo  # nothing created


@pytest.mark.parametrize("every", [1, 7, 57, 200])
@pytest.mark.parametrize("batch", [1, 4, 8, 64])
def test_any_step_finds_the_same_first_frame(session, truth, every, batch):
    scorer = RedScorer()
    found = find_text(
        session, "red", every=every, threshold=0.2, scorer=scorer, candidates=truth, cache=False, batch=batch
    )
    assert found.frame == RED_FROM
    assert not scorer.closed  # an instance passed in stays open


def test_target_on_the_last_frame_only_is_found(tmp_path):
    frames, masks = red_clip(num_frames=25, red_from=24)
    with AnnotationSession(frames, project=tmp_path / "q.awp", segmenter="classic") as s:
        cands = {t: [masks[TARGET][t]] for t in range(25)}
        found = find_text(s, "red", every=10, threshold=0.2, scorer=RedScorer(), candidates=cands)
    assert found.frame == 24 and sorted(found.curve) == [0, 10, 20, 21, 22, 23, 24]


def test_second_query_reuses_the_cached_embeddings(session, truth):
    first = RedScorer()
    find_text(session, "red", every=10, threshold=0.2, scorer=first, candidates=truth)
    assert first.image_calls == 2  # coarse 0..70, then 51..58
    second = RedScorer()
    with pytest.raises(NotFoundError):
        find_text(session, "blue thing", every=10, threshold=0.2, scorer=second, candidates=truth, stop=60)
    # scanned 0, 10, ..., 50 and 59: only frame 59 was not embedded by the first query
    assert second.image_calls == 1 and len(second.crops_seen) == 2
    third = RedScorer()
    again = find_text(session, "red", every=10, threshold=0.2, scorer=third, candidates=truth)
    assert third.image_calls == 0 and again.frame == RED_FROM
    assert not session.project.can_undo  # the cache is not an edit


def test_nothing_passes_says_the_best_score_and_creates_nothing(session, truth):
    before = session.project.history()
    with pytest.raises(NotFoundError, match=r"best score was 0\.\d+ on frame \d+") as info:
        find_text(session, "red", every=10, threshold=0.99, scorer=RedScorer(), candidates=truth)
    assert "threshold 0.99" in str(info.value) and "lower the threshold" in str(info.value)
    assert session.objects == [] and session.project.history() == before


def test_no_candidates_anywhere_is_said(session):
    with pytest.raises(NotFoundError, match="no candidate region"):
        find_text(session, "red", every=30, scorer=RedScorer(), candidates={})


@pytest.mark.parametrize("text", ["", "   ", None, 3])
def test_empty_phrase_is_refused_before_any_model_runs(session, truth, text):
    scorer = RedScorer()
    with pytest.raises(PromptError, match="phrase to find is empty"):
        find_text(session, text, scorer=scorer, candidates=truth)
    assert scorer.image_calls == 0


@pytest.mark.parametrize(
    ("kw", "match"),
    [({"every": 0}, "every"), ({"threshold": 1.5}, "threshold"), ({"candidates": "magic"}, "unknown candidates")],
)
def test_bad_options(session, kw, match):
    with pytest.raises(PromptError, match=match):
        find_text(session, "red", scorer=RedScorer(), **kw)


def test_cancel_stops_between_frames(session, truth):
    stop = threading.Event()
    scorer = RedScorer()

    def progress(i, n):
        if i == 3:
            stop.set()

    with pytest.raises(FindCancelled):
        find_text(session, "red", every=10, scorer=scorer, candidates=truth, progress=progress, cancel=stop, batch=1)
    assert scorer.image_calls == 3 and session.objects == []
    # what was embedded before the cancel was written to the cache (the writes are batched)
    assert session.project.embedding_frames("red-test|crop 0.1 mean 224") == {0, 10, 20}


def test_cancel_stops_between_batches(session, truth):
    stop = threading.Event()
    scorer = RedScorer()

    def progress(i, n):
        if i == 3:
            stop.set()

    with pytest.raises(FindCancelled, match="after 4 frames"):
        find_text(
            session,
            "red",
            every=10,
            threshold=0.99,
            scorer=scorer,
            candidates=truth,
            progress=progress,
            cancel=stop,
            batch=4,
        )
    # the batch being walked when the flag was set is finished; the next one is not started
    assert scorer.image_calls == 1 and len(scorer.crops_seen) == 8
    assert session.project.embedding_frames("red-test|crop 0.1 mean 224") == {0, 10, 20, 30}


def test_grid_candidates_run_on_a_scratch_segmenter_and_store_nothing(tmp_path):
    frames, masks = red_clip(num_frames=4, red_from=2)
    with AnnotationSession(frames, project=tmp_path / "g.awp", segmenter="classic") as s:
        scratch = ClassicSegmenter(prompt_iterations=2, refine_edges=False)
        scorer = RedScorer()
        found = find_text(s, "red", every=2, threshold=0.2, scorer=scorer, segmenter=scratch, grid=4)
        assert found.frame == 2 and sorted(found.curve) == [0, 1, 2, 3]  # coarse 0, 2, 3 in one batch, then 1
        assert scratch.name == "classic" and s.segmenter is not scratch
        truth = masks[TARGET][2]
        iou = (found.mask & truth).sum() / (found.mask | truth).sum()
        assert iou > 0.5, iou
        # 16 prompts per frame, deduplicated before scoring; no prompt, mask or object reached the project
        assert 0 < len(scorer.crops_seen) <= 16 * found.frames_scored
        assert s.objects == [] and s.prompts() == [] and not s.project.can_undo
        assert s.project.mask_frames() == []


def test_track_from_creates_the_object_with_the_phrase_and_tracks_both_ways(session, truth):
    found = find_text(session, "red shoes", every=10, threshold=0.2, scorer=RedScorer(), candidates=truth)
    obj = track_from(session, found)
    assert obj.name == "red shoes" and obj.meta["found_by"] == "red shoes"
    (prompt,) = session.prompts()
    assert prompt.frame == RED_FROM and prompt.text == "red shoes" and prompt.mask is not None
    assert session.project.mask_frames(obj.obj_id) == list(range(NUM_FRAMES))
    assert session.project.undo() is not None
    assert session.objects == [] and session.prompts() == []  # one undo step for all of it


def test_dedupe_and_keys():
    a = np.zeros((20, 20), bool)
    a[2:12, 2:12] = True
    b = a.copy()
    b[2, 2:6] = False
    tiny = np.zeros_like(a)
    tiny[0, 0] = True
    kept = dedupe([b, tiny, a], iou=0.8, min_area=4)
    assert len(kept) == 1 and np.array_equal(kept[0], a)  # the larger of the near-duplicates stays
    assert mask_key(a) != mask_key(b) and mask_key(a) == mask_key(a.copy())


def test_box_deduplication_and_keys_agree_with_the_whole_frame_computation():
    rng = np.random.default_rng(5)
    masks = []
    for _ in range(30):  # overlapping, nested, disjoint and empty masks
        m = np.zeros((48, 64), bool)
        if rng.random() > 0.1:
            x, y = rng.integers(0, 56), rng.integers(0, 40)
            m[y : y + rng.integers(1, 20), x : x + rng.integers(1, 24)] = True
        masks.append(m)

    def plain_dedupe(ms, iou, min_area):  # IoU over whole frames, larger first
        areas = [int(m.sum()) for m in ms]
        kept = []
        for i in sorted(range(len(ms)), key=lambda k: -areas[k]):
            inter = [int((ms[i] & ms[j]).sum()) for j in kept]
            if areas[i] >= min_area and all(
                (n / (areas[i] + areas[j] - n) if areas[i] + areas[j] - n else 0.0) < iou
                for n, j in zip(inter, kept, strict=True)
            ):
                kept.append(i)
        return [ms[i] for i in kept]

    for iou, min_area in ((0.8, 16), (0.3, 1), (1.0, 0)):
        got = dedupe_with_boxes(masks, iou=iou, min_area=min_area)
        want = plain_dedupe(masks, iou, min_area)
        assert len(got) == len(want) and all(g is w for (g, _), w in zip(got, want, strict=True))
        for m, box in got:
            assert box == (None if not m.any() else tight_box(m))
    keys = [mask_key(m) for m in masks]
    for i, m in enumerate(masks):  # equal content, equal key; any other mask, another key
        assert mask_key(m.copy()) == keys[i] == mask_key(RLE.from_mask(m))
        assert all(keys[j] != keys[i] for j in range(len(masks)) if not np.array_equal(masks[j], m))


# -- the real scorers (tiny random models through the real loading code) -----------------------------------
@pytest.fixture(scope="module")
def tiny_clip_folder(tmp_path_factory):
    return build_tiny_clip(tmp_path_factory.mktemp("clip"))


def test_tiny_clip_crops_are_masked_and_scores_are_in_range(session, truth, clip, tiny_clip_folder, monkeypatch):
    scorer = ClipScorer(tiny_clip_folder)
    crops: list[np.ndarray] = []
    real = scorer.embed_images

    def spy(batch):
        crops.extend(batch)
        return real(batch)

    monkeypatch.setattr(scorer, "embed_images", spy)
    found = find_text(session, "red shoes", every=40, threshold=0.0, scorer=scorer, candidates=truth)
    # frames 0, 40, 80 and 119 are one batch: scored together, all in the curve
    assert found.frame == 0 and sorted(found.curve) == [0, 40, 80, 119]
    assert all(0.0 <= s <= 1.0 for s in found.curve.values())
    frame0 = session.video[0]
    assert scorer.image_size == 32  # crops are cut at the image tower's input size, not resized twice
    expected = [masked_crop(frame0, m, size=32) for m in dedupe(truth[0])]
    assert len(crops) == 8 and all(np.array_equal(c, e) for c, e in zip(crops[:2], expected, strict=True))
    # the background is masked out: the corner of a square crop around a blob is the mean colour
    small = masked_crop(frame0, truth[0][1], size=None)
    assert tuple(int(v) for v in small[0, 0]) == MEAN_RGB
    # a phrase the model scores below 1 everywhere (CLIP's "no match" column) cannot pass threshold 1
    with pytest.raises(NotFoundError, match="best score was"):
        find_text(session, "a dog", every=40, threshold=1.0, scorer=scorer, candidates=truth)
    # the second query only ran the text tower: every crop came from the cache
    assert len(crops) == 8
    scorer.close()


def test_cached_embeddings_are_the_models_own_on_the_plain_numpy_crops(session, truth, tiny_clip_folder):
    """The optimised path (boxes, batched crops, batched cache writes) stores what the plain path would."""
    from tests.test_crops import reference_crop

    scorer = ClipScorer(tiny_clip_folder)
    with pytest.raises(NotFoundError):
        find_text(session, "red shoes", every=40, threshold=1.0, scorer=scorer, candidates=truth)
    model = f"{scorer.model_id}|crop 0.1 mean {scorer.image_size}"
    assert session.project.embedding_frames(model) == {0, 40, 80, 119}
    # the four frames were one batch: the model's own call on the same crops, in the same batch, bit for bit
    masks = {frame: dedupe(truth[frame]) for frame in (0, 40, 80, 119)}
    crops = [reference_crop(session.video[f], m, size=scorer.image_size) for f in masks for m in masks[f]]
    want = scorer.embed_images(crops)
    got = np.stack([session.project.embeddings(model, f)[mask_key(m)] for f in masks for m in masks[f]])
    np.testing.assert_array_equal(got, want)
    scorer.close()


def test_batched_scan_scores_as_the_frame_by_frame_scan(tmp_path, clip, truth, tiny_clip_folder):
    """Batching frames changes only the model's batch: embeddings and scores agree to float32 rounding.

    The image tower's matrix products round differently with the batch's size (a few 1e-8 here), so
    vectors are compared to 1e-6 absolute; the first passing frame and the curve's frames are the same.
    """
    frames, _ = clip
    scorer = ClipScorer(tiny_clip_folder)
    model = f"{scorer.model_id}|crop 0.1 mean {scorer.image_size}"
    # each frame's best score, frame by frame; a threshold half way below the best coarse frame's, so it passes,
    # the fine pass runs before it, and no score is within rounding of the threshold
    text = scorer.embed_text(["red shoes"])
    score = [
        float(scorer.score(scorer.embed_images(masked_crops(frames[t], dedupe(truth[t]), size=32)), text).max())
        for t in range(NUM_FRAMES)
    ]
    coarse = [*range(0, NUM_FRAMES, 7), NUM_FRAMES - 1]
    top = max(score[c] for c in coarse)
    below = max(v for v in score if v < top)
    assert top - below > 1e-4
    threshold = (top + below) / 2
    hit = next(c for c in coarse if score[c] >= threshold)
    start = max((c for c in coarse if c < hit), default=-1) + 1
    expected = next(t for t in range(start, hit + 1) if score[t] >= threshold)
    results, cached = {}, {}
    for batch in (1, 8):
        with AnnotationSession(frames, project=tmp_path / f"b{batch}.awp", segmenter="classic") as s:
            found = find_text(
                s, "red shoes", every=7, threshold=threshold, scorer=scorer, candidates=truth, batch=batch
            )
            results[batch] = found
            cached[batch] = {f: s.project.embeddings(model, f) for f in s.project.embedding_frames(model)}
    one, many = results[1], results[8]
    assert many.frame == one.frame == expected and np.array_equal(many.mask, one.mask)
    assert set(one.curve) <= set(many.curve)  # the batched scan may score a few frames past the first hit
    np.testing.assert_allclose([many.curve[f] for f in one.curve], list(one.curve.values()), rtol=0, atol=1e-6)
    assert set(cached[1]) <= set(cached[8])
    for f, vectors in cached[1].items():
        assert vectors.keys() == cached[8][f].keys()
        for k, v in vectors.items():
            np.testing.assert_allclose(cached[8][f][k], v, rtol=0, atol=1e-6)
    scorer.close()


def test_tiny_clip_second_query_calls_the_image_tower_zero_times(session, truth, tiny_clip_folder, monkeypatch):
    scorer = ClipScorer(tiny_clip_folder)
    calls = []
    real = scorer._model.get_image_features

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(scorer._model, "get_image_features", counting)
    with pytest.raises(NotFoundError):
        find_text(session, "red shoes", every=30, threshold=1.0, scorer=scorer, candidates=truth)
    assert len(calls) == 1  # frames 0, 30, 60, 90, 119: one batch
    with pytest.raises(NotFoundError):
        find_text(session, "bicycle", every=30, threshold=1.0, scorer=scorer, candidates=truth)
    assert len(calls) == 1


def test_tiny_siglip_scores_through_find_text(session, truth, tmp_path):
    scorer = SiglipScorer(build_tiny_siglip(tmp_path / "siglip"))
    found = find_text(session, "red shoes", every=60, threshold=0.0, scorer=scorer, candidates=truth)
    assert found.frame == 0 and 0.0 <= found.score <= 1.0 and found.model == scorer.name
    cached = session.project.embeddings(f"{scorer.model_id}|crop 0.1 mean {scorer.image_size}", 0)
    assert len(cached) == 2 and all(v.shape == (scorer.dim,) for v in cached.values())
    scorer.close()
