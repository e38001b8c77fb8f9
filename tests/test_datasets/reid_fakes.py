"""Tiny fake re-ID datasets in their published layouts, made by the tests."""
import os
import os.path as osp
from typing import Dict, Iterable, List

import cv2
import numpy as np

# Market-1501 layout: 4 train images of 3 ids (2, 7, 10), 2 query images,
# a gallery of 5 files: ids 2 and 7, two distractors (0) and one junk (-1).
MARKET_FILES: Dict[str, List[str]] = dict(
    bounding_box_train=[
        '0002_c1s1_000451_03.jpg', '0002_c2s1_000551_01.jpg',
        '0007_c3s2_001000_02.jpg', '0010_c6s4_002000_01.jpg'
    ],
    query=['0002_c1s1_001051_00.jpg', '0007_c2s1_000301_00.jpg'],
    bounding_box_test=[
        '0002_c3s1_000100_01.jpg', '0007_c1s1_000200_01.jpg',
        '0000_c1s1_000300_01.jpg', '0000_c6s1_000400_02.jpg',
        '-1_c2s1_000500_01.jpg'
    ])

DUKE_FILES: Dict[str, List[str]] = dict(
    bounding_box_train=[
        '0001_c2_f0046182.jpg', '0001_c8_f0100000.jpg', '0005_c1_f0000001.jpg'
    ],
    query=['0003_c4_f0010000.jpg'],
    bounding_box_test=['0003_c5_f0020000.jpg', '7140_c7_f0030000.jpg'])

CUHK03_FILES: Dict[str, List[str]] = dict(
    bounding_box_train=[
        '0001_c1_1.png', '0001_c2_6.png', '0003_c1_2.png', '0004_c2_9.png',
        '0004_c2_10.png'
    ],
    query=['0100_c1_1.png', '0101_c2_1.png'],
    bounding_box_test=['0100_c2_3.png', '0101_c1_4.png', '0102_c1_1.png'])

# MSMT17 list lines (V1 and V2 share them). Cameras are the 3rd field.
MSMT17_LISTS: Dict[str, List[str]] = dict(
    list_train=[
        '0000/0000_000_01_0303morning_0015_0.jpg 0',
        '0000/0000_001_05_0303morning_0036_1.jpg 0',
        '0001/0001_000_15_0303afternoon_0100_0.jpg 1'
    ],
    list_val=['0002/0002_000_07_0304noon_0001_0.jpg 2'],
    list_query=[
        '0000/0000_000_01_0303morning_0036_1.jpg 0',
        '0001/0001_000_02_0303morning_0040_0.jpg 1'
    ],
    list_gallery=[
        '0000/0000_002_03_0303morning_0050_0.jpg 0',
        '0001/0001_003_14_0303morning_0060_0.jpg 1',
        '0002/0002_001_09_0303morning_0070_0.jpg 2'
    ])


def write_image(path: str,
                height: int = 16,
                width: int = 8,
                value: int = 0) -> str:
    """Write a tiny image (its format from the suffix) and return the path."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    rng = np.random.default_rng(value)
    img = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    assert cv2.imwrite(path, img), path
    return path


def make_folder_layout(root: str, files: Dict[str, Iterable[str]],
                       **kwargs) -> str:
    """Write the images ``files[folder]`` under ``root/folder``."""
    for i, (folder, names) in enumerate(files.items()):
        os.makedirs(osp.join(root, folder), exist_ok=True)
        for j, name in enumerate(names):
            write_image(
                osp.join(root, folder, name), value=100 * i + j, **kwargs)
    return root


def make_msmt17(root: str, version: str = 'v1') -> str:
    """Write an MSMT17 tree of ``version`` with the MSMT17_LISTS."""
    train_dir, test_dir = dict(
        v1=('train', 'test'), v2=('mask_train_v2', 'mask_test_v2'))[version]
    os.makedirs(root, exist_ok=True)
    for name, lines in MSMT17_LISTS.items():
        img_dir = train_dir if name in ('list_train', 'list_val') else test_dir
        with open(osp.join(root, f'{name}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
        for line in lines:
            write_image(osp.join(root, img_dir, line.split()[0]))
    os.makedirs(osp.join(root, test_dir), exist_ok=True)
    return root


# Occluded-Duke (the DukeMTMC-reID naming): a junk box, a Thumbs.db and a
# stray text file, as found in copies of the archive.
OCC_DUKE_FILES: Dict[str, List[str]] = dict(
    bounding_box_train=[
        '0001_c2_f0046182.jpg', '0001_c8_f0100000.jpg', '0005_c1_f0000001.jpg'
    ],
    query=['0003_c4_f0010000.jpg', '0004_c1_f0010001.jpg'],
    bounding_box_test=[
        '0003_c5_f0020000.jpg', '0004_c3_f0020001.jpg', '7140_c7_f0030000.jpg',
        '-1_c2_f0030001.jpg'
    ])

# VeRi-776: vehicle_cCCC_frame_box; cameras up to c020.
VERI_FILES: Dict[str, List[str]] = dict(
    image_train=[
        '0001_c001_00016450_0.jpg', '0001_c019_00016500_1.jpg',
        '0004_c020_00020000_0.jpg', '0776_c007_00030000_0.jpg'
    ],
    image_query=['0002_c002_00030600_0.jpg', '0005_c003_00041000_0.jpg'],
    image_test=[
        '0002_c002_00030600_0.jpg', '0002_c012_00030700_0.jpg',
        '0005_c013_00041100_1.jpg', '0006_c004_00050000_0.jpg'
    ])
#: View (0..7) of every fake VeRi image, by base name.
VERI_VIEWS: Dict[str, int] = {
    '0001_c001_00016450_0.jpg': 0,
    '0001_c019_00016500_1.jpg': 3,
    '0004_c020_00020000_0.jpg': 7,
    '0776_c007_00030000_0.jpg': 5,
    '0002_c002_00030600_0.jpg': 1,
    '0005_c003_00041000_0.jpg': 6,
    '0002_c012_00030700_0.jpg': 2,
    '0005_c013_00041100_1.jpg': 4,
    '0006_c004_00050000_0.jpg': 0,
}


def keypoint_line(prefix: str, name: str, view: int) -> str:
    """A line of the VeRi keypoint files: image, 20 (x, y) points, view."""
    coords = ' '.join(str(10 * i % 97 - 1) for i in range(40))
    return f'{prefix}{name} {coords} {view}'


def make_veri(root: str, views: bool = True) -> str:
    """Write a VeRi-776 tree; ``views`` adds the two keypoint files.

    Like the published files, the lines name the images with a folder
    prefix (``VeRi/image_train/...``), keypoint_test.txt lists the query
    and the gallery images, and the keypoint coordinates include -1
    (invisible points).
    """
    make_folder_layout(root, VERI_FILES, height=16, width=16)
    with open(osp.join(root, 'name_train.txt'), 'w') as f:
        f.write('\n'.join(VERI_FILES['image_train']) + '\n')
    if views:
        for split, folders in (('train', ['image_train']),
                               ('test', ['image_query', 'image_test'])):
            lines = [
                keypoint_line(f'VeRi/{folder}/', n, VERI_VIEWS[n])
                for folder in folders for n in VERI_FILES[folder]
            ]
            with open(osp.join(root, f'keypoint_{split}.txt'), 'w') as f:
                f.write('\n'.join(lines) + '\n')
    return root


# VehicleID lists: "name vehicle_id", names without the .jpg extension.
VEHICLEID_LISTS: Dict[str, List[str]] = dict(
    train_list=[
        '0000001 1', '0000002 1', '0000010 17', '0000011 17', '0000012 4'
    ],
    test_list_800=[
        '0000100 30', '0000101 30', '0000102 30', '0000200 31', '0000201 31',
        '0000300 5'
    ],
    test_list_1600=['0000100 30', '0000200 31', '0000201 31'],
    test_list_2400=['0000100 30', '0000101 30'])


def make_vehicleid(root: str, crlf: bool = False) -> str:
    """Write a VehicleID_V1.0 tree with the VEHICLEID_LISTS.

    Args:
        root (str): The ``VehicleID_V1.0`` folder.
        crlf (bool): Write Windows line ends. Defaults to False.
    """
    os.makedirs(osp.join(root, 'train_test_split'), exist_ok=True)
    os.makedirs(osp.join(root, 'attribute'), exist_ok=True)
    end = '\r\n' if crlf else '\n'
    names = set()
    for name, lines in VEHICLEID_LISTS.items():
        with open(
                osp.join(root, 'train_test_split', f'{name}.txt'), 'w',
                newline='') as f:
            f.write(end.join(lines) + end)
        names.update(line.split()[0] for line in lines)
    for i, name in enumerate(sorted(names)):
        write_image(osp.join(root, 'image', f'{name}.jpg'), value=i)
    return root
