"""The one table of landmark indices and skeleton topologies (MediaPipe BlazePose body and hand models).

Every module that reads a landmark by index (the person tracker, pose prompts, hand-object interaction,
the overlay renderer) takes it from here.

Example:
    >>> from annotator_widgets import landmarks as lm
    >>> lm.NOSE, lm.LEFT_WRIST, lm.HAND_WRIST
    (0, 15, 0)
    >>> len(lm.POSE_CONNECTIONS), len(lm.HAND_CONNECTIONS)
    (35, 21)
"""

from __future__ import annotations

__all__ = [
    "HAND_CONNECTIONS",
    "HAND_FINGERTIPS",
    "HEAD",
    "KEYPOINTS",
    "POSE_CONNECTIONS",
    "POSE_HANDS",
    "TORSO",
]

# -- body: BlazePose's 33 landmarks ---------------------------------------------------------------
NOSE = 0
LEFT_EYE_INNER, LEFT_EYE, LEFT_EYE_OUTER = 1, 2, 3
RIGHT_EYE_INNER, RIGHT_EYE, RIGHT_EYE_OUTER = 4, 5, 6
LEFT_EAR, RIGHT_EAR = 7, 8
MOUTH_LEFT, MOUTH_RIGHT = 9, 10
LEFT_SHOULDER, RIGHT_SHOULDER = 11, 12
LEFT_ELBOW, RIGHT_ELBOW = 13, 14
LEFT_WRIST, RIGHT_WRIST = 15, 16
LEFT_PINKY, RIGHT_PINKY = 17, 18
LEFT_INDEX, RIGHT_INDEX = 19, 20
LEFT_THUMB, RIGHT_THUMB = 21, 22
LEFT_HIP, RIGHT_HIP = 23, 24
LEFT_KNEE, RIGHT_KNEE = 25, 26
LEFT_ANKLE, RIGHT_ANKLE = 27, 28
LEFT_HEEL, RIGHT_HEEL = 29, 30
LEFT_FOOT_INDEX, RIGHT_FOOT_INDEX = 31, 32

#: nose, left/right eye, left/right ear
HEAD = (NOSE, LEFT_EYE, RIGHT_EYE, LEFT_EAR, RIGHT_EAR)
#: left/right shoulder, left/right hip
TORSO = (LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_HIP, RIGHT_HIP)
#: the keypoints whose distances drive the person tracker's assignment
KEYPOINTS = HEAD + TORSO
#: side -> the body model's hand landmarks (wrist, pinky, index, thumb), the baseline "hand" without a hand model
POSE_HANDS: dict[str, tuple[int, int, int, int]] = {
    "left": (LEFT_WRIST, LEFT_PINKY, LEFT_INDEX, LEFT_THUMB),
    "right": (RIGHT_WRIST, RIGHT_PINKY, RIGHT_INDEX, RIGHT_THUMB),
}

#: BlazePose's skeleton (pairs of landmark indices), as MediaPipe draws it
POSE_CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12), (11, 13), (13, 15),
    (15, 17), (15, 19), (15, 21), (17, 19), (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28), (27, 29), (28, 30), (29, 31),
    (30, 32), (27, 31), (28, 32),
)  # fmt: skip

# -- hand: MediaPipe's 21 hand landmarks ----------------------------------------------------------
HAND_WRIST = 0
HAND_THUMB = (1, 2, 3, 4)
HAND_INDEX = (5, 6, 7, 8)
HAND_MIDDLE = (9, 10, 11, 12)
HAND_RING = (13, 14, 15, 16)
HAND_PINKY = (17, 18, 19, 20)
#: thumb, index, middle, ring and pinky tips
HAND_FINGERTIPS = (4, 8, 12, 16, 20)

#: MediaPipe's hand skeleton
HAND_CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11), (11, 12),
    (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17), (17, 18), (18, 19), (19, 20),
)  # fmt: skip
