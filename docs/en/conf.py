"""Sphinx configuration of the mmpha documentation.

Build with ``sphinx-build -W -b html docs/en docs/en/_build/html``.
"""
import os.path as osp
import sys

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
sys.path.insert(0, ROOT)


def _version() -> str:
    namespace: dict = {}
    with open(osp.join(ROOT, 'mmpha', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), namespace)
    return namespace['__version__']


project = 'mmpha'
author = 'mmpha contributors'
copyright = '2024-2025, mmpha contributors'
release = _version()
version = release

extensions = [
    'myst_parser',
    'sphinx.ext.autodoc',
    'sphinx.ext.autosummary',
    'sphinx.ext.napoleon',
    'sphinx.ext.viewcode',
]

source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
root_doc = 'index'
exclude_patterns = ['_build', 'Thumbs.db', '.DS_Store']

# Markdown: heading anchors so that links such as `page.md#section` resolve.
myst_heading_anchors = 3
myst_enable_extensions = ['colon_fence']

# API pages come from the Google-style docstrings.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
autodoc_default_options = {
    'members': True,
    'show-inheritance': True,
}
autosummary_generate = False

html_theme = 'alabaster'
html_title = f'mmpha {release}'
