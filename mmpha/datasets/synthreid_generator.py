"""SynthReID: a small procedural re-ID dataset, generated deterministically.

Every image is drawn with numpy and OpenCV from a seeded random generator:
a person (head, hair, torso, arms, legs, shoes, optional bag) on a cluttered
camera scene, then the camera's nuisances. Identities differ by
low-frequency cues (clothing colours, body proportions, hair, bag) and by
high-frequency cues (shirt texture: stripes of several periods and
orientations, checks, dots, zig-zags, a printed glyph on the chest seen from
the front). A share of the identities come in *families* that share every
low-frequency cue and differ only in texture, so that high-frequency detail
decides between them. Cameras add a colour cast, brightness and gamma,
blur, noise, low resolution, scale and position jitter, cluttered
backgrounds, passers-by and partial occlusion.

The output is in the Market-1501 layout (see :func:`generate_synthreid`).
Each image has its own generator seeded by ``(seed, identity, camera,
image)``, so the bytes do not depend on the order or the number of worker
processes.

Command line::

    python -m mmpha.datasets.synthreid_generator --out data/synthreid --seed 0
"""
import argparse
import colorsys
import json
import os
import os.path as osp
import shutil
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.logging import print_log
from mmengine.utils import track_iter_progress, track_parallel_progress

try:
    import fcntl
except ImportError:  # Windows: atomic renames alone protect the output.
    fcntl = None

#: Bumped whenever the drawing changes, so a cached copy is not mistaken
#: for the current one.
GENERATOR_VERSION = 2
GENERATOR_NAME = 'mmpha.datasets.synthreid_generator'
META_FILE = 'meta.json'
SPLIT_DIRS = dict(
    train='bounding_box_train', query='query', gallery='bounding_box_test')

TEXTURES = ('plain', 'hstripes', 'vstripes', 'diag', 'checks', 'dots',
            'zigzag')
#: Texture periods in pixels of a 256-pixel-high image (scaled with it).
PERIODS = (8, 11, 15, 20)
DIAG_ANGLES = (30, 45, 60, 120, 135, 150)
GLYPHS = tuple('AEHKMNSTXZ23578') + ('triangle', 'star', 'ring')

# Label values of the person mask.
_BG, _SKIN, _HAIR, _SHIRT, _PANTS, _SHOES, _BAG, _HAT = range(8)


@dataclass(frozen=True)
class SynthReIDSpec:
    """Size and structure of a SynthReID dataset.

    Counts (all exact):

    - train: ``num_train_ids * cams_per_id * imgs_per_cam`` images;
    - query: one image per (test identity, camera), i.e.
      ``num_test_ids * cams_per_id``;
    - gallery: the other test images plus the distractors (pid 0), i.e.
      ``num_test_ids * cams_per_id * (imgs_per_cam - 1) + num_distractors``.

    With the defaults: 1,200 train images (75 ids), 300 query and 1,050
    gallery images (75 ids + 150 distractors), 2,550 images in all, 6
    cameras.

    Args:
        num_ids (int): Identities in train and test. Defaults to 150.
        num_train_ids (int): Identities of the train split; the others are
            the test identities. Defaults to 75.
        num_cameras (int): Cameras. Defaults to 6.
        cams_per_id (int): Cameras each identity is seen by, at least 2 so
            that every query has a cross-camera match. Defaults to 4.
        imgs_per_cam (int): Images of an identity per camera, at least 2.
            Defaults to 4.
        num_distractors (int): Gallery images of people not in the query
            (pid 0), each a different random person. Defaults to 150.
        family_size (int): Identities per family (same colours and body,
            different texture). Defaults to 3.
        family_fraction (float): Share of the identities of each split that
            belong to families. Defaults to 0.4.
        img_height (int): Image height. Defaults to 256.
        img_width (int): Image width. Defaults to 128.
        jpeg_quality (int): JPEG quality of the files. Defaults to 90.
    """

    num_ids: int = 150
    num_train_ids: int = 75
    num_cameras: int = 6
    cams_per_id: int = 4
    imgs_per_cam: int = 4
    num_distractors: int = 150
    family_size: int = 3
    family_fraction: float = 0.4
    img_height: int = 256
    img_width: int = 128
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            kind = float if f.name == 'family_fraction' else int
            if isinstance(value, bool) or not isinstance(
                    value, (int, float) if kind is float else int):
                raise TypeError(f'{f.name} must be {kind.__name__}, got '
                                f'{value!r}.')
        checks = [
            (self.num_train_ids >= 1, 'num_train_ids >= 1'),
            (self.num_ids > self.num_train_ids, 'num_ids > num_train_ids'),
            (self.num_cameras >= 2, 'num_cameras >= 2'),
            (2 <= self.cams_per_id <= self.num_cameras,
             '2 <= cams_per_id <= num_cameras'),
            (self.imgs_per_cam >= 2, 'imgs_per_cam >= 2'),
            (self.num_distractors >= 0, 'num_distractors >= 0'),
            (self.family_size >= 2, 'family_size >= 2'),
            (0 <= self.family_fraction <= 1, '0 <= family_fraction <= 1'),
            (self.img_height >= 32
             and self.img_width >= 16, 'img_height >= 32 and img_width >= 16'),
            (1 <= self.jpeg_quality <= 100, '1 <= jpeg_quality <= 100'),
            # Each family draws distinct textures from a finite catalogue.
            (self.family_size <= 20, 'family_size <= 20'),
        ]
        for ok, rule in checks:
            if not ok:
                raise ValueError(f'Invalid SynthReID spec: {rule} does not '
                                 f'hold for {self}.')

    @property
    def num_test_ids(self) -> int:
        """int: Identities of the query/gallery splits."""
        return self.num_ids - self.num_train_ids

    def counts(self) -> Dict[str, int]:
        """Return the number of images and identities of each split.

        Returns:
            dict[str, int]: ``train_images``, ``query_images``,
            ``gallery_images``, ``total_images``, ``train_ids``,
            ``test_ids``, ``distractors``, ``cameras``.
        """
        per_id = self.cams_per_id * self.imgs_per_cam
        train = self.num_train_ids * per_id
        query = self.num_test_ids * self.cams_per_id
        gallery = (
            self.num_test_ids * self.cams_per_id * (self.imgs_per_cam - 1) +
            self.num_distractors)
        return dict(
            train_images=train,
            query_images=query,
            gallery_images=gallery,
            total_images=train + query + gallery,
            train_ids=self.num_train_ids,
            test_ids=self.num_test_ids,
            distractors=self.num_distractors,
            cameras=self.num_cameras)


@dataclass
class Identity:
    """The appearance of one person; ``look`` holds the shared cues."""

    look: dict
    texture: dict
    glyph: Optional[str]
    family: int = -1
    cams: Tuple[int, ...] = field(default_factory=tuple)


# --------------------------------------------------------------------------
# Sampling of identities and cameras.
# --------------------------------------------------------------------------
def _hsv(h: float, s: float, v: float) -> Tuple[float, float, float]:
    """Convert HSV in [0, 1] to an RGB triple in [0, 1]."""
    return tuple(float(c) for c in colorsys.hsv_to_rgb(h % 1.0, s, v))


def _luma(rgb: Sequence[float]) -> float:
    """Return the luminance of an RGB triple."""
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def _random_colour(rng: np.random.Generator) -> Tuple[float, ...]:
    """Draw a clothing colour: saturated or neutral."""
    if rng.random() < 0.25:
        v = rng.uniform(0.12, 0.92)
        return _hsv(rng.random(), rng.uniform(0.0, 0.12), v)
    return _hsv(rng.random(), rng.uniform(0.35, 0.95), rng.uniform(0.3, 0.95))


def _muted_colour(rng: np.random.Generator) -> Tuple[float, ...]:
    """Draw a background colour, duller than most clothes."""
    return _hsv(rng.random(), rng.uniform(0.05, 0.35), rng.uniform(0.25, 0.75))


def _contrast_colour(rng: np.random.Generator,
                     base: Sequence[float]) -> Tuple[float, ...]:
    """Draw a texture colour that stands out from ``base``."""
    h, s, v = colorsys.rgb_to_hsv(*base)
    for _ in range(20):
        if rng.random() < 0.3:
            cand = _hsv(h + 0.5 + rng.uniform(-0.1, 0.1), rng.uniform(0.4, 1),
                        rng.uniform(0.3, 1))
        else:
            dv = rng.uniform(0.35, 0.6) * (-1 if v > 0.55 else 1)
            cand = _hsv(h + rng.uniform(-0.12, 0.12), s * rng.uniform(0.3, 1),
                        float(np.clip(v + dv, 0.05, 1)))
        if abs(_luma(cand) - _luma(base)) > 0.22:
            return cand
    return (0.95, 0.95, 0.95) if _luma(base) < 0.5 else (0.05, 0.05, 0.05)


def _sample_look(rng: np.random.Generator) -> dict:
    """Draw the low-frequency cues of a person."""
    skins = [(0.96, 0.80, 0.69), (0.87, 0.67, 0.53), (0.72, 0.52, 0.37),
             (0.55, 0.38, 0.26), (0.38, 0.25, 0.17)]
    hairs = [(0.05, 0.04, 0.03), (0.22, 0.13, 0.07), (0.42, 0.27, 0.14),
             (0.85, 0.72, 0.45), (0.6, 0.6, 0.6), (0.55, 0.2, 0.08)]
    neutrals = [(0.08, 0.08, 0.1), (0.13, 0.16, 0.32), (0.35, 0.35, 0.37),
                (0.27, 0.38, 0.58), (0.68, 0.6, 0.45)]
    shirt = _random_colour(rng)
    skin = np.array(skins[rng.integers(len(skins))]) * rng.uniform(0.93, 1.05)
    pants = (
        neutrals[rng.integers(len(neutrals))]
        if rng.random() < 0.5 else _random_colour(rng))
    shoes = ((0.05, 0.05, 0.05), (0.92, 0.92, 0.9),
             _random_colour(rng))[rng.integers(3)]
    bag_kind = ('none', 'none', 'backpack', 'backpack',
                'shoulder')[rng.integers(5)]
    return dict(
        height=rng.uniform(0.78, 0.94),
        shoulder=rng.uniform(0.4, 0.52),
        hip=rng.uniform(0.78, 0.95),
        leg=rng.uniform(0.44, 0.52),
        head=rng.uniform(0.115, 0.145),
        skin=tuple(float(c) for c in np.clip(skin, 0, 1)),
        hair=hairs[rng.integers(len(hairs))],
        hair_style=('short', 'short', 'long', 'hat')[rng.integers(4)],
        hat=_random_colour(rng),
        shirt=shirt,
        shirt2=_contrast_colour(rng, shirt),
        long_sleeves=bool(rng.random() < 0.6),
        pants=tuple(pants),
        shorts=bool(rng.random() < 0.2),
        shoes=tuple(shoes),
        bag=bag_kind,
        bag_colour=_random_colour(rng),
        glyph_colour=_contrast_colour(rng, shirt))


def _texture_key(tex: dict) -> tuple:
    """Return what makes two textures different."""
    if tex['type'] == 'plain':
        return ('plain', )
    return (tex['type'], tex['period'], tex.get('angle'))


def _sample_texture(rng: np.random.Generator, taken: set) -> dict:
    """Draw a shirt texture whose key is not in ``taken``."""
    for _ in range(1000):
        kind = TEXTURES[rng.integers(len(TEXTURES))]
        tex = dict(
            type=kind,
            period=int(PERIODS[rng.integers(len(PERIODS))]),
            duty=float(rng.uniform(0.35, 0.6)))
        if kind == 'diag':
            tex['angle'] = int(DIAG_ANGLES[rng.integers(len(DIAG_ANGLES))])
        if _texture_key(tex) not in taken:
            taken.add(_texture_key(tex))
            return tex
    raise RuntimeError('No free texture left for a family; lower '
                       'family_size.')


def _sample_glyph(rng: np.random.Generator, taken: set) -> Optional[str]:
    """Draw a chest glyph (or none) not in ``taken``."""
    if rng.random() < 0.5:
        return None
    free = [g for g in GLYPHS if g not in taken]
    glyph = free[rng.integers(len(free))]
    taken.add(glyph)
    return glyph


def _sample_identities(rng: np.random.Generator, num: int, spec: SynthReIDSpec,
                       first_family: int) -> List[dict]:
    """Draw ``num`` identities, families first."""
    num_families = int(round(num * spec.family_fraction / spec.family_size))
    num_families = min(num_families, num // spec.family_size)
    people = []
    for fam in range(num_families):
        look = _sample_look(rng)
        textures: set = set()
        glyphs: set = set()
        for _ in range(spec.family_size):
            people.append(
                Identity(look, _sample_texture(rng, textures),
                         _sample_glyph(rng, glyphs), first_family + fam))
    while len(people) < num:
        people.append(
            Identity(
                _sample_look(rng), _sample_texture(rng, set()),
                _sample_glyph(rng, set())))
    return people


def _draw_scene(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Draw the background scene of a camera, larger than one image."""
    sh, sw = h + h // 6, w * 2
    top, floor = _muted_colour(rng), _muted_colour(rng)
    horizon = int(sh * rng.uniform(0.55, 0.75))
    ramp = np.linspace(0.85, 1.1, sh, dtype=np.float32)[:, None, None]
    scene = np.empty((sh, sw, 3), np.float32)
    scene[:horizon] = np.array(top, np.float32) * 0.8
    scene[horizon:] = np.array(floor, np.float32) * 0.7
    scene *= ramp
    # A textured wall (bricks or tiles): background high frequencies.
    x0, x1 = sorted(rng.integers(0, sw, 2))
    brick = int(rng.integers(6, 14))
    mortar = np.array(_muted_colour(rng), np.float32)
    for y in range(0, horizon, brick):
        offset = (y // brick) % 2 * brick
        cv2.line(scene, (int(x0), y), (int(x1), y), mortar.tolist(), 1)
        for x in range(int(x0) + offset, int(x1), brick * 2):
            cv2.line(scene, (x, y), (x, min(y + brick, horizon)),
                     mortar.tolist(), 1)
    for _ in range(rng.integers(2, 6)):  # windows, doors, signs
        x, y = int(rng.integers(0, sw)), int(rng.integers(0, horizon))
        bw, bh = int(rng.integers(w // 8,
                                  w // 2)), int(rng.integers(h // 12, h // 3))
        cv2.rectangle(scene, (x, y), (x + bw, y + bh), _muted_colour(rng), -1)
    for _ in range(rng.integers(0, 3)):  # poles
        x = int(rng.integers(0, sw))
        cv2.rectangle(scene, (x, 0), (x + int(rng.integers(3, 8)), sh),
                      _muted_colour(rng), -1)
    return np.clip(scene, 0, 1)


def _sample_camera(rng: np.random.Generator, spec: SynthReIDSpec) -> dict:
    """Draw the fixed nuisances of one camera."""
    low = rng.uniform(0.72, 0.9)
    return dict(
        gains=rng.uniform(0.82, 1.18, 3).astype(np.float32),
        brightness=float(rng.uniform(0.7, 1.15)),
        gamma=float(rng.uniform(0.8, 1.25)),
        blur=float(rng.uniform(0.2, 1.1)),
        noise=float(rng.uniform(0.01, 0.035)),
        lowres=float((1.0, 1.0, 1.5, 2.0)[rng.integers(4)]),
        occlusion=float(rng.uniform(0.1, 0.35)),
        scale=(float(low), float(low + 0.15)),
        scene=_draw_scene(rng, spec.img_height, spec.img_width))


# --------------------------------------------------------------------------
# Drawing.
# --------------------------------------------------------------------------
def _texture_mask(tex: dict, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Return where the texture's second colour shows, at coords (u, v)."""
    kind, p, duty = tex['type'], tex['period'], tex['duty']
    if kind == 'plain':
        return np.zeros(u.shape, bool)
    if kind == 'hstripes':
        return (v % p) < duty * p
    if kind == 'vstripes':
        return (u % p) < duty * p
    if kind == 'diag':
        a = np.deg2rad(tex['angle'])
        return ((u * np.cos(a) + v * np.sin(a)) % p) < duty * p
    if kind == 'checks':
        return ((u % p) < p / 2) ^ ((v % p) < p / 2)
    if kind == 'dots':
        du, dv = (u % p) - p / 2, (v % p) - p / 2
        r = (0.2 + 0.25 * duty) * p
        return du * du + dv * dv < r * r
    if kind == 'zigzag':
        tri = np.abs((u / p) % 2 - 1) * p * 0.6
        return ((v + tri) % p) < duty * p
    raise ValueError(f'Unknown texture {kind!r}; expected one of {TEXTURES}.')


def _draw_glyph(img: np.ndarray, glyph: str, centre: Tuple[int, int],
                size: float, colour: Sequence[float]) -> None:
    """Draw a letter or a shape of height ~``size`` centred at ``centre``."""
    cx, cy = centre
    r = size / 2
    # OpenCV draws text on 8-bit images only: draw a coverage mask, blend.
    mask = np.zeros(img.shape[:2], np.uint8)
    if glyph == 'triangle':
        pts = np.array([[cx, cy - r], [cx - r, cy + r], [cx + r, cy + r]])
        cv2.fillPoly(mask, [pts.astype(np.int32)], 255, cv2.LINE_AA)
    elif glyph == 'star':
        ang = np.pi / 2 + np.arange(10) * np.pi / 5
        rad = np.where(np.arange(10) % 2 == 0, r, r * 0.45)
        pts = np.stack([cx + rad * np.cos(ang), cy - rad * np.sin(ang)], 1)
        cv2.fillPoly(mask, [pts.astype(np.int32)], 255, cv2.LINE_AA)
    elif glyph == 'ring':
        cv2.circle(mask, (cx, cy), int(r), 255, max(2, int(r / 3)),
                   cv2.LINE_AA)
    else:
        scale = size / 22.0
        thick = max(2, int(round(scale * 2.5)))
        (tw, th), _ = cv2.getTextSize(glyph, cv2.FONT_HERSHEY_SIMPLEX, scale,
                                      thick)
        cv2.putText(mask, glyph, (cx - tw // 2, cy + th // 2),
                    cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thick, cv2.LINE_AA)
    cover = mask.astype(np.float32)[..., None] / 255.
    img *= 1 - cover
    img += cover * np.asarray(colour, np.float32)


def _draw_person(person: Identity, rng: np.random.Generator, h: int,
                 w: int) -> Tuple[np.ndarray, np.ndarray]:
    """Draw a person on a transparent canvas.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(h, w, 3)`` float32 RGB and the
        ``(h, w)`` label map (0 where the canvas is empty).
    """
    look = person.look
    front = rng.random() < 0.6
    feet = 0.97 * h
    body = look['height'] * h
    top = feet - body
    cx = w / 2 + rng.normal(0, 0.01 * w)
    head_r = look['head'] * body / 2
    shoulder_y = top + 2 * head_r + 0.025 * body
    hip_y = feet - look['leg'] * body
    sw = look['shoulder'] * w / 2
    hw = sw * look['hip']
    arm_w = max(3, int(0.5 * sw * 0.55))
    leg_w = max(3, int(hw * 0.9))
    stride = rng.uniform(-0.07, 0.07) * w
    swing = rng.uniform(-0.05, 0.05) * w

    lab = np.zeros((h, w), np.uint8)

    def pt(x: float, y: float) -> Tuple[int, int]:
        return int(round(x)), int(round(y))

    if look['hair_style'] == 'long' and front:
        cv2.rectangle(lab, pt(cx - head_r * 1.1, top + head_r),
                      pt(cx + head_r * 1.1, shoulder_y + 0.08 * body), _HAIR,
                      -1)
    # Legs, then shoes.
    for side in (-1, 1):
        hip = (cx + side * hw * 0.5, hip_y)
        ankle = (cx + side * hw * 0.45 + side * stride * 0.5,
                 feet - 0.03 * body)
        cv2.line(lab, pt(*hip), pt(*ankle), _PANTS, leg_w)
        if look['shorts']:
            knee = (hip[0] + 0.45 * (ankle[0] - hip[0]),
                    hip[1] + 0.45 * (ankle[1] - hip[1]))
            cv2.line(lab, pt(*knee), pt(*ankle), _SKIN, max(2, leg_w - 2))
        cv2.ellipse(lab, pt(ankle[0] + side * 2, feet - 0.015 * body),
                    pt(leg_w * 0.75, 0.022 * body), 0, 0, 360, _SHOES, -1)
    # Torso.
    torso = np.array([
        pt(cx - sw, shoulder_y),
        pt(cx + sw, shoulder_y),
        pt(cx + hw, hip_y + 0.03 * body),
        pt(cx - hw, hip_y + 0.03 * body)
    ])
    cv2.fillPoly(lab, [torso], _SHIRT)
    # Arms: the sleeve covers the whole arm or its upper third.
    for side in (-1, 1):
        shoulder = (cx + side * (sw - arm_w * 0.4), shoulder_y + arm_w * 0.5)
        hand = (cx + side * (sw + arm_w * 0.2) + side * swing * 0.3 + swing,
                hip_y + 0.06 * body)
        cv2.line(lab, pt(*shoulder), pt(*hand), _SKIN, arm_w)
        sleeve_end = hand if look['long_sleeves'] else (
            shoulder[0] + 0.35 * (hand[0] - shoulder[0]),
            shoulder[1] + 0.35 * (hand[1] - shoulder[1]))
        cv2.line(lab, pt(*shoulder), pt(*sleeve_end), _SHIRT, arm_w + 1)
        cv2.circle(lab, pt(*hand), max(2, int(arm_w * 0.6)), _SKIN, -1)
    # Bags.
    if look['bag'] == 'backpack':
        if front:
            for side in (-1, 1):
                x = cx + side * sw * 0.55
                cv2.line(lab, pt(x, shoulder_y),
                         pt(x, shoulder_y + 0.45 * (hip_y - shoulder_y)), _BAG,
                         max(2, arm_w // 3))
        else:
            cv2.rectangle(lab, pt(cx - sw * 0.7, shoulder_y + 0.05 * body),
                          pt(cx + sw * 0.7, hip_y - 0.02 * body), _BAG, -1)
    elif look['bag'] == 'shoulder':
        bx = cx + sw * 1.05
        cv2.line(lab, pt(cx - sw * 0.8, shoulder_y), pt(bx, hip_y), _BAG, 2)
        cv2.rectangle(lab, pt(bx - 0.06 * w, hip_y - 0.03 * body),
                      pt(bx + 0.06 * w, hip_y + 0.06 * body), _BAG, -1)
    # Neck, head, hair.
    cv2.rectangle(lab, pt(cx - head_r * 0.35, top + head_r * 1.6),
                  pt(cx + head_r * 0.35, shoulder_y + 1), _SKIN, -1)
    head_c = pt(cx, top + head_r)
    axes = pt(head_r * 0.85, head_r)
    cv2.ellipse(lab, head_c, axes, 0, 0, 360, _SKIN, -1)
    if look['hair_style'] == 'hat':
        cv2.ellipse(lab, head_c, pt(head_r * 0.95, head_r * 1.05), 0, 180, 360,
                    _HAT, -1)
        cv2.rectangle(lab, pt(cx - head_r * 1.2, top + head_r * 0.75),
                      pt(cx + head_r * 1.2, top + head_r * 0.95), _HAT, -1)
    elif front:
        cv2.ellipse(lab, head_c, pt(head_r * 0.9, head_r * 1.05), 0, 180, 360,
                    _HAIR, -1)
    else:
        cv2.ellipse(lab, head_c, pt(head_r * 0.9, head_r * 1.05), 0, 0, 360,
                    _HAIR, -1)
        if look['hair_style'] == 'long':
            cv2.rectangle(lab, pt(cx - head_r * 0.95, top + head_r),
                          pt(cx + head_r * 0.95, shoulder_y + 0.1 * body),
                          _HAIR, -1)

    palette = np.zeros((8, 3), np.float32)
    palette[_SKIN] = look['skin']
    palette[_HAIR] = look['hair']
    palette[_SHIRT] = look['shirt']
    palette[_PANTS] = look['pants']
    palette[_SHOES] = look['shoes']
    palette[_BAG] = look['bag_colour']
    palette[_HAT] = look['hat']
    img = palette[lab]

    # The texture follows the garment; its phase changes from image to
    # image so that no two crops of a shirt are pixel-identical.
    ys, xs = np.nonzero(lab == _SHIRT)
    if len(ys):
        scale = h / 256.0
        tex = dict(person.texture)
        tex['period'] = tex['period'] * scale
        u = xs.astype(np.float32) - (cx - sw) + rng.uniform(0, tex['period'])
        v = ys.astype(np.float32) - shoulder_y + rng.uniform(0, tex['period'])
        hit = _texture_mask(tex, u, v)
        img[ys[hit], xs[hit]] = look['shirt2']
    if person.glyph is not None and front:
        chest = pt(cx, shoulder_y + 0.32 * (hip_y - shoulder_y))
        _draw_glyph(img, person.glyph, chest, 0.9 * sw, look['glyph_colour'])
        img[lab != _SHIRT] = palette[lab][lab != _SHIRT]

    # Cylindrical shading reads as a 3-D body.
    xx = np.arange(w, dtype=np.float32)[None, :]
    shade = 1 - 0.25 * np.clip(((xx - cx) / (1.4 * sw))**2, 0, 1)
    img *= shade[..., None]
    return img, lab


def _occlude(img: np.ndarray, rng: np.random.Generator) -> None:
    """Cover part of the person with an object, in place."""
    h, w = img.shape[:2]
    colour = _random_colour(rng)
    kind = rng.integers(3)
    if kind == 0:  # something in front of the legs: a car, a bench
        y0 = int(h * rng.uniform(0.6, 0.8))
        x0 = int(rng.integers(-w // 4, w // 4))
        cv2.rectangle(img, (x0, y0), (x0 + int(w * rng.uniform(0.8, 1.3)), h),
                      colour, -1)
        if rng.random() < 0.5:
            for y in range(y0, h, int(rng.integers(5, 12))):
                cv2.line(img, (0, y), (w, y), _random_colour(rng), 1)
    elif kind == 1:  # another person or a wall at a side
        bw = int(w * rng.uniform(0.22, 0.4))
        x0 = 0 if rng.random() < 0.5 else w - bw
        y0 = int(h * rng.uniform(0.1, 0.4))
        cv2.rectangle(img, (x0, y0), (x0 + bw, h), colour, -1)
    else:  # a pole
        x0 = int(rng.integers(w // 5, 4 * w // 5))
        pw = int(rng.integers(max(3, w // 16), max(4, w // 8)))
        cv2.rectangle(img, (x0, 0), (x0 + pw, h), colour, -1)


def render_image(person: Identity, camera: dict, spec: SynthReIDSpec,
                 rng: np.random.Generator) -> np.ndarray:
    """Draw one image of ``person`` seen by ``camera``.

    Args:
        person (Identity): Who is drawn.
        camera (dict): The camera's nuisances (:func:`_sample_camera`).
        spec (SynthReIDSpec): The image size.
        rng (numpy.random.Generator): The image's own generator.

    Returns:
        numpy.ndarray: ``(H, W, 3)`` uint8 BGR image.
    """
    h, w = spec.img_height, spec.img_width
    scene = camera['scene']
    oy = int(rng.integers(0, scene.shape[0] - h + 1))
    ox = int(rng.integers(0, scene.shape[1] - w + 1))
    bg = scene[oy:oy + h, ox:ox + w].copy()
    for _ in range(rng.integers(1, 4)):  # clutter
        c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        if rng.random() < 0.5:
            cv2.circle(bg, c, int(rng.integers(3, w // 5)), _muted_colour(rng),
                       -1)
        else:
            cv2.line(bg, c, (int(rng.integers(0, w)), int(rng.integers(0, h))),
                     _muted_colour(rng), int(rng.integers(1, 4)))
    if rng.random() < 0.35:  # a passer-by behind, cut by the border
        x = 0 if rng.random() < 0.5 else w
        cv2.ellipse(bg, (x, int(h * 0.6)), (int(w * 0.2), int(h * 0.35)), 0, 0,
                    360, _muted_colour(rng), -1)

    img, lab = _draw_person(person, rng, h, w)
    alpha = cv2.GaussianBlur((lab > 0).astype(np.float32), (0, 0), 0.6)
    s = rng.uniform(*camera['scale'])
    dx, dy = rng.normal(0, 0.04 * w), rng.normal(0, 0.02 * h)
    feet = 0.97 * h
    mat = np.array([[s, 0, (1 - s) * w / 2 + dx], [0, s, (1 - s) * feet + dy]],
                   np.float32)
    img = cv2.warpAffine(img, mat, (w, h), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(alpha, mat, (w, h), flags=cv2.INTER_LINEAR)
    out = bg * (1 - alpha[..., None]) + img * alpha[..., None]

    if rng.random() < camera['occlusion']:
        _occlude(out, rng)
    if camera['lowres'] > 1:
        small = cv2.resize(
            out, (int(w / camera['lowres']), int(h / camera['lowres'])),
            interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    gains = camera['gains'] * rng.uniform(0.95, 1.05, 3).astype(np.float32)
    out = out * gains * camera['brightness'] * rng.uniform(0.9, 1.1)
    out = np.clip(out, 0, 1)**(camera['gamma'] * rng.uniform(0.95, 1.05))
    sigma = camera['blur'] * rng.uniform(0.7, 1.3)
    out = cv2.GaussianBlur(out.astype(np.float32), (0, 0), sigma)
    out += rng.standard_normal(out.shape, dtype=np.float32) * camera['noise']
    out = np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)
    return out[..., ::-1]


# --------------------------------------------------------------------------
# The dataset on disk.
# --------------------------------------------------------------------------
def _plan(spec: SynthReIDSpec,
          seed: int) -> Tuple[List[tuple], Dict[str, object]]:
    """Decide every image: who, which camera, which file.

    Returns:
        tuple[list[tuple], dict]: The jobs ``(rel_path, person, cam,
        rng_key)`` and what ``meta.json`` records about identities.
    """
    rng = np.random.default_rng([seed, 0])
    train = _sample_identities(rng, spec.num_train_ids, spec, 0)
    num_train_families = len({p.family for p in train if p.family >= 0})
    test = _sample_identities(rng, spec.num_test_ids, spec, num_train_families)
    pids = (rng.permutation(spec.num_ids) + 1).tolist()
    people = train + test
    for p in people:
        p.cams = tuple(
            sorted(
                rng.choice(spec.num_cameras, spec.cams_per_id,
                           replace=False).tolist()))
    jobs = []
    for idx, (pid, person) in enumerate(zip(pids, people)):
        is_train = idx < spec.num_train_ids
        for cam in person.cams:
            for k in range(spec.imgs_per_cam):
                split = ('train'
                         if is_train else 'query' if k == 0 else 'gallery')
                name = f'{pid:04d}_c{cam + 1}s1_{k:06d}_00.jpg'
                jobs.append((f'{SPLIT_DIRS[split]}/{name}', person, cam,
                             (seed, 1, pid, cam, k)))
    for d in range(spec.num_distractors):
        stranger = Identity(
            _sample_look(rng), _sample_texture(rng, set()),
            _sample_glyph(rng, set()))
        cam = int(rng.integers(spec.num_cameras))
        name = f'0000_c{cam + 1}s1_{d:06d}_00.jpg'
        jobs.append(
            (f'{SPLIT_DIRS["gallery"]}/{name}', stranger, cam, (seed, 2, d)))
    families: Dict[int, List[int]] = {}
    for pid, person in zip(pids, people):
        if person.family >= 0:
            families.setdefault(person.family, []).append(pid)
    info = dict(
        train_pids=sorted(pids[:spec.num_train_ids]),
        test_pids=sorted(pids[spec.num_train_ids:]),
        families=[sorted(v) for _, v in sorted(families.items())])
    return jobs, info


_WORKER_CAMERAS: Dict[Tuple[int, SynthReIDSpec], Dict[int, dict]] = {}


def _cameras(spec: SynthReIDSpec, seed: int) -> Dict[int, dict]:
    """Draw every camera (deterministic, cheap)."""
    return {
        c: _sample_camera(np.random.default_rng([seed, 3, c]), spec)
        for c in range(spec.num_cameras)
    }


def _write_job(job: tuple) -> None:
    """Render and write one image (top level, so that it pickles)."""
    out_dir, rel_path, person, cam, key, spec, seed = job
    # Cameras are drawn once per process and (seed, spec).
    if (seed, spec) not in _WORKER_CAMERAS:
        _WORKER_CAMERAS.clear()
        _WORKER_CAMERAS[(seed, spec)] = _cameras(spec, seed)
    camera = _WORKER_CAMERAS[(seed, spec)][cam]
    img = render_image(person, camera, spec, np.random.default_rng(key))
    ok, buf = cv2.imencode('.jpg', img,
                           [cv2.IMWRITE_JPEG_QUALITY, spec.jpeg_quality])
    if not ok:
        raise RuntimeError(f'JPEG encoding of {rel_path} failed.')
    with open(osp.join(out_dir, rel_path), 'wb') as f:
        f.write(buf.tobytes())


def generate_synthreid(out_dir: str,
                       seed: int = 0,
                       spec: Optional[SynthReIDSpec] = None,
                       nproc: int = 1,
                       progress: bool = True) -> dict:
    """Write a SynthReID dataset into ``out_dir`` (Market-1501 layout).

    ::

        out_dir/
        ├── bounding_box_train/0001_c1s1_000000_00.jpg ...
        ├── query/             # one image per (test identity, camera)
        ├── bounding_box_test/ # the other test images + distractors (0000_)
        └── meta.json          # seed, version, spec, counts, identities

    ``meta.json`` is written last: a folder without it is incomplete. Use
    :func:`ensure_synthreid` to generate atomically into a cache.

    Args:
        out_dir (str): Output folder; created, must not hold files.
        seed (int): Random seed. Defaults to 0.
        spec (SynthReIDSpec, optional): Sizes. Defaults to
            ``SynthReIDSpec()``.
        nproc (int): Worker processes; the output does not depend on it.
            Defaults to 1.
        progress (bool): Whether to show a progress bar. Defaults to True.

    Returns:
        dict: The content of ``meta.json``.
    """
    spec = spec or SynthReIDSpec()
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f'seed must be a non-negative int, got {seed!r}.')
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f'nproc must be a positive int, got {nproc!r}.')
    if osp.isdir(out_dir) and os.listdir(out_dir):
        raise FileExistsError(f'The output folder "{out_dir}" is not empty.')
    for sub in SPLIT_DIRS.values():
        os.makedirs(osp.join(out_dir, sub), exist_ok=True)
    start = time.time()
    plan, info = _plan(spec, seed)
    jobs = [(out_dir, rel, person, cam, key, spec, seed)
            for rel, person, cam, key in plan]
    if nproc > 1:
        track_parallel_progress(
            _write_job,
            jobs,
            nproc,
            chunksize=16,
            file=_progress_file(progress))
    elif progress:
        for job in track_iter_progress(jobs):
            _write_job(job)
    else:
        for job in jobs:
            _write_job(job)
    meta = dict(
        generator=GENERATOR_NAME,
        version=GENERATOR_VERSION,
        seed=seed,
        spec=asdict(spec),
        counts=spec.counts(),
        **info)
    with open(osp.join(out_dir, META_FILE), 'w', encoding='utf-8') as f:
        json.dump(meta, f, indent=1)
    print_log(
        f'SynthReID (seed {seed}) written to {out_dir}: '
        f'{spec.counts()["total_images"]} images in '
        f'{time.time() - start:.1f} s.',
        logger='current')
    return meta


class _NullFile:
    """A file that discards what is written (a silent progress bar)."""

    def write(self, *_) -> None:
        """Discard."""

    def flush(self) -> None:
        """Do nothing."""


def _progress_file(progress: bool):
    """Return where the progress bar writes."""
    return sys.stdout if progress else _NullFile()


def count_files(root: str) -> Dict[str, int]:
    """Count the ``.jpg`` files of each split folder under ``root``.

    Args:
        root (str): A SynthReID folder.

    Returns:
        dict[str, int]: ``train_images``, ``query_images``,
        ``gallery_images`` (0 for a missing folder).
    """
    counts = {}
    for split, sub in SPLIT_DIRS.items():
        folder = osp.join(root, sub)
        counts[f'{split}_images'] = sum(
            n.endswith('.jpg')
            for n in os.listdir(folder)) if osp.isdir(folder) else 0
    return counts


def check_synthreid(root: str, seed: int, spec: SynthReIDSpec) -> dict:
    """Check that ``root`` holds the SynthReID of ``seed`` and ``spec``.

    Args:
        root (str): The folder with ``meta.json``.
        seed (int): Expected seed.
        spec (SynthReIDSpec): Expected spec.

    Returns:
        dict: The content of ``meta.json``.

    Raises:
        ValueError: When it was generated with another seed, spec or
            generator version, or files are missing.
    """
    with open(osp.join(root, META_FILE), encoding='utf-8') as f:
        meta = json.load(f)
    want = dict(version=GENERATOR_VERSION, seed=seed, spec=asdict(spec))
    have = {k: meta.get(k) for k in want}
    if have != want:
        diff = {k: (have[k], want[k]) for k in want if have[k] != want[k]}
        raise ValueError(
            f'The SynthReID folder "{root}" was generated with other '
            f'settings (found, expected): {diff}. Delete the folder to '
            'regenerate it, or point data_root elsewhere.')
    found = count_files(root)
    expected = {k: meta['counts'][k] for k in found}
    if found != expected:
        raise ValueError(
            f'The SynthReID folder "{root}" is incomplete or was modified: '
            f'found {found} images, meta.json says {expected}. Delete the '
            'folder to regenerate it.')
    return meta


@contextmanager
def _lock(path: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (POSIX; a no-op elsewhere)."""
    if fcntl is None:
        yield
        return
    with open(path, 'a') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def ensure_synthreid(data_root: str,
                     seed: int = 0,
                     spec: Optional[SynthReIDSpec] = None,
                     auto_generate: bool = True,
                     nproc: int = 1,
                     layout: Optional[str] = None) -> dict:
    """Return the SynthReID at ``data_root``, generating it if needed.

    Generation goes into a temporary sibling folder that is renamed to
    ``data_root`` when complete, under a file lock: processes starting
    together (e.g. distributed ranks) generate it once, and an interrupted
    run leaves no half-written ``data_root``. A copy made by an older
    version of the generator is replaced. A ``data_root`` that exists
    without ``meta.json`` is not touched: it is an error; so is one made
    with another seed or spec.

    Args:
        data_root (str): Where the dataset lives.
        seed (int): Random seed. Defaults to 0.
        spec (SynthReIDSpec, optional): Sizes. Defaults to
            ``SynthReIDSpec()``.
        auto_generate (bool): Generate when missing; False raises
            ``FileNotFoundError`` naming ``data_root`` instead. Defaults to
            True (the command line); the dataset class passes its own
            ``auto_generate``, False unless a config asks.
        nproc (int): Worker processes for the generation. Defaults to 1.
        layout (str, optional): The expected layout, quoted in the
            ``FileNotFoundError``. Defaults to None.

    Returns:
        dict: The content of ``meta.json``.
    """
    spec = spec or SynthReIDSpec()
    root = osp.abspath(str(data_root))
    meta_path = osp.join(root, META_FILE)

    def state() -> Tuple[str, Optional[dict]]:
        """Return ``('ok', meta)``, ``('stale', None)`` or ``('missing',
        None)``."""
        if osp.isfile(meta_path):
            with open(meta_path, encoding='utf-8') as f:
                meta = json.load(f)
            if (meta.get('generator') == GENERATOR_NAME
                    and meta.get('version') != GENERATOR_VERSION):
                return 'stale', None
            return 'ok', check_synthreid(root, seed, spec)
        if osp.isdir(root) and os.listdir(root):
            raise FileExistsError(
                f'"{root}" exists but has no {META_FILE}: it is not a '
                'complete SynthReID dataset (an interrupted copy, or other '
                'data). Delete it to regenerate SynthReID, or set another '
                'data_root.')
        return 'missing', None

    status, meta = state()
    if status == 'ok':
        return meta
    if not auto_generate:
        if status == 'stale':
            what = 'was made by another version of the generator'
        elif osp.isdir(root):
            what = 'is an empty folder'
        elif osp.lexists(root):
            what = 'is not a folder'
        else:
            what = 'does not exist'
        where = '' if root == str(data_root) else f' (at "{root}")'
        expected = f' Expected layout: {layout}.' if layout else ''
        raise FileNotFoundError(
            f'The SynthReID dataset "{data_root}" {what}{where}.{expected} '
            'Check data_root; to generate the dataset there, set '
            'auto_generate=True in the dataset config, or run: python -m '
            f'mmpha.datasets.synthreid_generator --out {data_root} --seed '
            f'{seed}')
    parent = osp.dirname(root)
    os.makedirs(parent, exist_ok=True)
    name = osp.basename(root)
    with _lock(osp.join(parent, f'.{name}.lock')):
        status, meta = state()  # another process may have finished
        if status == 'ok':
            return meta
        print_log(
            f'Generating SynthReID (seed {seed}) into {root}' +
            (' to replace a copy made by an older generator'
             if status == 'stale' else '') + ' ...',
            logger='current')
        tag = uuid.uuid4().hex[:12]
        tmp = osp.join(parent, f'.{name}.tmp-{tag}')
        old = osp.join(parent, f'.{name}.old-{tag}')
        try:
            generate_synthreid(tmp, seed, spec, nproc=nproc)
            if status == 'stale':
                # A cache this module wrote: safe to replace.
                os.rename(root, old)
            elif osp.isdir(root):
                os.rmdir(root)  # empty, checked by state()
            os.rename(tmp, root)
        except OSError:
            if not osp.isfile(meta_path):
                raise
            # Without a lock (no fcntl) another process won the rename.
        finally:
            for path in (tmp, old):
                if osp.isdir(path):
                    shutil.rmtree(path, ignore_errors=True)
    return check_synthreid(root, seed, spec)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): Arguments; None reads ``sys.argv``.
            Defaults to None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    defaults = SynthReIDSpec()
    parser = argparse.ArgumentParser(
        description='Generate the SynthReID dataset (Market-1501 layout).')
    parser.add_argument(
        '--out', default='data/synthreid', help='output folder')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument(
        '--nproc', type=int, default=1, help='worker processes')
    for f in fields(SynthReIDSpec):
        parser.add_argument(
            '--' + f.name.replace('_', '-'),
            type=type(getattr(defaults, f.name)),
            default=getattr(defaults, f.name),
            help=f'{f.name} (default: %(default)s)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Generate SynthReID from the command line (atomic, cached).

    Args:
        argv (Sequence[str], optional): Arguments; None reads ``sys.argv``.
            Defaults to None.

    Returns:
        dict: The content of ``meta.json``.
    """
    args = parse_args(argv)
    spec = SynthReIDSpec(
        **{f.name: getattr(args, f.name)
           for f in fields(SynthReIDSpec)})
    meta = ensure_synthreid(args.out, args.seed, spec, nproc=args.nproc)
    print_log(f'SynthReID at {args.out}: {meta["counts"]}', logger='current')
    return meta


if __name__ == '__main__':
    main()
