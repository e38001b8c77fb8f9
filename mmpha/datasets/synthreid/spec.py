"""The size and structure of a SynthReID dataset, and one identity."""
from dataclasses import dataclass, field, fields
from typing import Dict, Optional, Tuple


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
