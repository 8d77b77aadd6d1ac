"""A clip with a known hand-object interaction: a real person cut-out, a ball that comes into their hand and leaves.

The person is scikit-image's ``astronaut`` bust (the cut-out of :mod:`tests.support.people`) over
the ``coffee`` background, with a skin-coloured hand drawn at their left side (a bust has none of
its own). Their pose is **scripted** (the interaction logic is the subject, not the pose model):
shoulders, head and the left hand's wrist / pinky / index / thumb at known pixels with a little
jitter, the right hand and the hips invisible.

Three objects, each with its true mask per frame (segmentation noise: the radius jitters by 1 px):

* ``BALL`` comes in fast from the right, is **held** on frames ``hold`` (``start`` included,
  ``stop`` excluded) while wobbling in and out between the enter and leave distances (a single
  threshold would flicker), then flies away up and right: the truth interval.
* ``BLIP`` crosses the hand region in about two frames (shorter than any sensible minimum).
* ``FAR`` stays in the top-left corner, far from the hand.

Example:
    >>> clip = interaction_clip(num_frames=40, hold=(15, 27))
    >>> clip.frames.shape, clip.hold, sorted(clip.masks)
    ((40, 360, 640, 3), (15, 27), [2, 3, 4])
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from annotator_widgets import landmarks as lm
from annotator_widgets.project import Project
from annotator_widgets.rle import RLE
from annotator_widgets.types import Annotation, PersonPose
from tests.support.people import _background, _cutout

__all__ = ["BALL", "BLIP", "FAR", "PERSON", "InteractionClip", "interaction_clip", "store"]

PERSON, BALL, BLIP, FAR = 1, 2, 3, 4


@dataclass
class InteractionClip:
    """Frames, scripted poses, true masks and the true interaction interval."""

    frames: np.ndarray
    poses: list[PersonPose]
    masks: dict[int, np.ndarray]
    person_mask: np.ndarray
    hold: tuple[int, int]
    blip: tuple[int, int]
    hand: tuple[float, float]
    shoulder_width: float
    fps: float = 25.0


def _disc(h: int, w: int, centre: tuple[float, float], radius: float) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    cv2.circle(m, (round(centre[0]), round(centre[1])), max(1, round(radius)), 1, -1)
    return m.astype(bool)


def interaction_clip(
    num_frames: int = 60, size: tuple[int, int] = (640, 360), hold: tuple[int, int] = (22, 40), seed: int = 0
) -> InteractionClip:
    """The clip (see the module). ``hold`` must leave room before and after it (>= 8 frames each)."""
    w, h = size
    if not 8 <= hold[0] < hold[1] <= num_frames - 8:
        raise ValueError(f"hold {hold} needs 8 frames before and after it in a {num_frames}-frame clip")
    rng = np.random.default_rng(seed)
    face_px = 0.16 * h
    img, alpha, (fx, fy) = _cutout("astronaut", face_px)
    ox, oy = round(0.3 * w - fx), round(0.3 * h - fy)
    bg = _background(size).astype(np.float32)
    person = np.zeros((h, w), np.float32)
    y0, x0 = max(0, oy), max(0, ox)
    y1, x1 = min(h, oy + img.shape[0]), min(w, ox + img.shape[1])
    person[y0:y1, x0:x1] = alpha[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
    layer = np.zeros((h, w, 3), np.float32)
    layer[y0:y1, x0:x1] = img[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
    cx, cy = 0.3 * w, 0.3 * h  # face centre in the frame
    sw = 2.4 * face_px  # shoulder width
    shoulders = {"left": (cx + sw / 2, cy + 1.5 * face_px), "right": (cx - sw / 2, cy + 1.5 * face_px)}
    hand = (cx + 1.0 * sw, cy + 1.9 * face_px)  # the person's left hand, held out to the side
    radius = 0.4 * face_px
    ball_path = np.zeros((num_frames, 2))
    speed = 0.3 * sw
    for f in range(num_frames):
        if f < hold[0]:  # comes in from the right, touching on hold[0]
            ball_path[f] = (hand[0] + radius * 0.6 + speed * (hold[0] - f), hand[1])
        elif f < hold[1]:  # held, wobbling between the enter and leave distances
            wobble = 0.54 * sw * ((f - hold[0]) % 3 == 2)
            ball_path[f] = (hand[0] + radius * 0.6 + wobble, hand[1])
        else:  # thrown up and right
            k = f - hold[1] + 1
            ball_path[f] = (hand[0] + radius * 0.6 + speed * k, hand[1] - speed * k)
    blip_mid = (hold[1] + num_frames) // 2 + 2
    blip = (blip_mid - 1, blip_mid + 1)
    frames = np.empty((num_frames, h, w, 3), np.uint8)
    masks = {k: np.zeros((num_frames, h, w), bool) for k in (BALL, BLIP, FAR)}
    poses = []
    base = bg * (1 - person[..., None]) + layer * person[..., None]
    elbow = ((shoulders["left"][0] + hand[0]) / 2 + 0.05 * sw, hand[1] + 0.25 * sw)
    for a, b in ((shoulders["left"], elbow), (elbow, hand)):  # the sleeve of the arm
        cv2.line(base, (round(a[0]), round(a[1])), (round(b[0]), round(b[1])), (230, 100, 40), round(0.3 * face_px))
    cv2.ellipse(base, (round(hand[0]), round(hand[1])), (round(0.3 * face_px), round(0.4 * face_px)), 0, 0, 360,
                (224, 172, 140), -1)  # fmt: skip
    noise = 2.0 * rng.standard_normal((3, h, w, 3), dtype=np.float32)  # sensor noise, cycled (cheap)
    for f in range(num_frames):
        canvas = base.copy()
        blip_x = hand[0] + (f - blip_mid) * 1.2 * sw
        centres = {BALL: tuple(ball_path[f]), BLIP: (blip_x, hand[1] + 0.1 * sw), FAR: (0.06 * w, 0.1 * h)}
        colours = {BALL: (220, 30, 30), BLIP: (30, 60, 220), FAR: (40, 200, 60)}
        for oid, centre in centres.items():
            m = _disc(h, w, centre, radius + rng.integers(-1, 2))
            canvas[m] = colours[oid]
            masks[oid][f] = m
        canvas += noise[f % len(noise)]
        frames[f] = np.clip(canvas, 0, 255).astype(np.uint8)
        body = np.zeros((33, 3), np.float32)
        for i in lm.HEAD:
            body[i] = (cx + rng.normal(0, 1), cy + rng.normal(0, 1), 0.99)
        body[lm.LEFT_SHOULDER] = (*shoulders["left"], 0.99)
        body[lm.RIGHT_SHOULDER] = (*shoulders["right"], 0.99)
        body[lm.LEFT_ELBOW] = (*elbow, 0.9)
        for i, (dx, dy) in zip(lm.POSE_HANDS["left"], ((0, 0), (0.1, 0.08), (0.12, -0.02), (0.05, -0.1)), strict=True):
            body[i] = (hand[0] + dx * sw + rng.normal(0, 1.5), hand[1] + dy * sw + rng.normal(0, 1.5), 0.9)
        for i in lm.POSE_HANDS["right"] + (lm.LEFT_HIP, lm.RIGHT_HIP):
            body[i] = (cx - sw, cy + 4 * face_px, 0.05)  # out of view: invisible
        poses.append(PersonPose(f, PERSON, body))
    return InteractionClip(frames, poses, masks, person > 0.5, hold, blip, hand, sw)


def store(project: Project, clip: InteractionClip) -> None:
    """Put the clip's person (id 1, pose + masklet), the three objects and their masks into a project."""
    project.add_object("astronaut", "person", obj_id=PERSON)
    for oid, name in ((BALL, "ball"), (BLIP, "frisbee"), (FAR, "plant")):
        project.add_object(name, name, obj_id=oid)
    with project.group("store the clip"):
        for f, pose in enumerate(clip.poses):
            project.put_poses(f, [pose])
            anns = [Annotation(f, PERSON, RLE.from_mask(clip.person_mask))]
            anns += [Annotation(f, oid, RLE.from_mask(m[f])) for oid, m in clip.masks.items()]
            project.put_annotations(anns)
