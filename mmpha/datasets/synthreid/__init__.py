"""SynthReID: a small procedural re-ID dataset, generated deterministically.

Every image is drawn with numpy and OpenCV from a seeded random generator.
Identities differ by low-frequency cues (clothing colours, body proportions,
hair, bag) and by high-frequency cues (shirt texture: stripes of several
periods and orientations, checks, dots, zig-zags, a printed glyph on the
chest seen from the front); cameras add their nuisances. The output is in
the Market-1501 layout (see :func:`generate_synthreid`).

- :mod:`.spec`: :class:`SynthReIDSpec`, the sizes and structure;
- :mod:`.palette`: what the identities look like;
- :mod:`.render`: a camera's scene and nuisances, and the drawing of one
  image (:func:`render_image`);
- :mod:`.generator`: the plan of every image, the writing, ``meta.json``
  and the checked, atomic cache (:func:`ensure_synthreid`);
- :mod:`.dataset`: :class:`SynthReID`, the registered dataset.

Command line: ``python tools/dataset_converters/generate_synthreid.py --out
data/synthreid --seed 0``.
"""
from .dataset import SynthReID
from .generator import (GENERATOR_NAME, GENERATOR_VERSION, META_FILE,
                        SPLIT_DIRS, check_synthreid, count_files,
                        ensure_synthreid, generate_synthreid)
from .render import render_image
from .spec import Identity, SynthReIDSpec

__all__ = [
    'SynthReID', 'SynthReIDSpec', 'Identity', 'generate_synthreid',
    'ensure_synthreid', 'check_synthreid', 'count_files', 'render_image',
    'GENERATOR_NAME', 'GENERATOR_VERSION', 'META_FILE', 'SPLIT_DIRS'
]
