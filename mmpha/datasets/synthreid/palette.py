"""What the identities of SynthReID look like: colours, body, textures and
glyphs, drawn from a seeded generator.

A share of the identities come in *families* that share every
low-frequency cue (colours, proportions, hair, bag) and differ only in the
shirt's texture and glyph, so that high-frequency detail decides between
them.
"""
import colorsys
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .spec import Identity, SynthReIDSpec

TEXTURES = ('plain', 'hstripes', 'vstripes', 'diag', 'checks', 'dots',
            'zigzag')

#: Texture periods in pixels of a 256-pixel-high image (scaled with it).
PERIODS = (8, 11, 15, 20)

DIAG_ANGLES = (30, 45, 60, 120, 135, 150)

GLYPHS = tuple('AEHKMNSTXZ23578') + ('triangle', 'star', 'ring')


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
