"""Installation script of mmpha."""
import os.path as osp
import re

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def get_version() -> str:
    """Read ``__version__`` from ``mmpha/version.py`` without importing it."""
    with open(osp.join(HERE, 'mmpha', 'version.py'), encoding='utf-8') as f:
        match = re.search(r"__version__ = '([^']+)'", f.read())
    if match is None:
        raise RuntimeError('mmpha/version.py defines no __version__')
    return match.group(1)


def parse_requirements(fname: str) -> list:
    """Read a requirements file, following ``-r`` includes.

    Args:
        fname (str): Path relative to the repository root.

    Returns:
        list[str]: The requirement specifiers, comments removed.
    """
    reqs = []
    with open(osp.join(HERE, fname), encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            if line.startswith('-r '):
                reqs += parse_requirements(
                    osp.join(osp.dirname(fname), line[3:].strip()))
            else:
                reqs.append(line)
    return reqs


with open(osp.join(HERE, 'README.md'), encoding='utf-8') as f:
    long_description = f.read()

setup(
    name='mmpha',
    version=get_version(),
    description='Transformer person re-identification with PHA '
    '(Patch-wise High-frequency Augmentation) on MMEngine',
    long_description=long_description,
    long_description_content_type='text/markdown',
    keywords='person re-identification, vision transformer, PHA, TransReID',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
    include_package_data=True,
    python_requires='>=3.8',
    license='Apache License 2.0',
    classifiers=[
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
    install_requires=parse_requirements('requirements/runtime.txt') +
    parse_requirements('requirements/mminstall.txt'),
    extras_require={
        'tests': parse_requirements('requirements/tests.txt'),
        'optional': parse_requirements('requirements/optional.txt'),
        'docs': parse_requirements('requirements/docs.txt'),
        'all': parse_requirements('requirements/tests.txt') +
        parse_requirements('requirements/optional.txt') +
        parse_requirements('requirements/docs.txt'),
    },
    zip_safe=False)
