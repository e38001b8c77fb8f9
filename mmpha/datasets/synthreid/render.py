"""Drawing SynthReID images: a camera's scene and nuisances, and a person.

A person (head, hair, torso, arms, legs, shoes, optional bag) is drawn on a
cluttered camera scene, then the camera's nuisances are applied: a colour
cast, brightness and gamma, blur, noise, low resolution, scale and position
jitter, passers-by and partial occlusion.
"""
from typing import Sequence, Tuple

import cv2
import numpy as np

from .palette import TEXTURES, _muted_colour, _random_colour
from .spec import Identity, SynthReIDSpec

# Label values of the person mask.
_BG, _SKIN, _HAIR, _SHIRT, _PANTS, _SHOES, _BAG, _HAT = range(8)


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
