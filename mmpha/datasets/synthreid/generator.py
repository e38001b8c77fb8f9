"""Writing a SynthReID dataset: the plan of every image, parallel rendering,
``meta.json``, and a checked, atomic cache.

Each image has its own generator seeded by ``(seed, identity, camera,
image)``, so the bytes do not depend on the order or the number of worker
processes.
"""
import json
import os
import os.path as osp
import shutil
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict
from typing import Dict, Iterator, List, Optional, Tuple

import cv2
import numpy as np
from mmengine.logging import print_log
from mmengine.utils import track_iter_progress, track_parallel_progress

try:
    import fcntl
except ImportError:  # Windows: atomic renames alone protect the output.
    fcntl = None

from mmpha.utils.tensor_ops import check_positive_int
from .palette import (_sample_glyph, _sample_identities, _sample_look,
                      _sample_texture)
from .render import _sample_camera, render_image
from .spec import Identity, SynthReIDSpec

#: Bumped whenever the drawing changes, so a cached copy is not mistaken
#: for the current one.
GENERATOR_VERSION = 2
#: The generator's name in ``meta.json``. It is the module path the
#: generator had before it became this package, kept so that the caches
#: written then are recognised (and replaced when their version is older).
GENERATOR_NAME = 'mmpha.datasets.synthreid_generator'
META_FILE = 'meta.json'
SPLIT_DIRS = dict(
    train='bounding_box_train', query='query', gallery='bounding_box_test')


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
    check_positive_int(nproc, 'nproc')
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
            'auto_generate=True in the dataset config, or run: python '
            f'tools/dataset_converters/generate_synthreid.py --out '
            f'{data_root} --seed {seed}')
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
