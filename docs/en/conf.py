"""Sphinx configuration of the mmpha documentation.

Build with ``sphinx-build -W -b html docs/en docs/en/_build/html``.
"""
import os
import os.path as osp
import re
import sys

SRC = osp.abspath(osp.dirname(__file__))
ROOT = osp.abspath(osp.join(SRC, '..', '..'))
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

html_theme = 'alabaster'
html_title = f'mmpha {release}'

# Markdown links to repository files outside the documentation (configs,
# READMEs, tools) work on a code host but are not pages of this site. They
# become the link text followed by the repository path; a link whose target
# does not exist is left alone so that Sphinx still reports it.
_MD_LINK = re.compile(r'(?<!!)\[([^\]\n]+)\]\(([^)\s#]+)(#[^)\s]*)?\)')


def _repository_links(app, docname: str, source: list) -> None:
    doc_path = str(app.env.doc2path(docname))
    if not doc_path.endswith('.md'):
        return
    doc_dir = osp.dirname(doc_path)

    def replace(match: re.Match) -> str:
        text, target = match.group(1), match.group(2)
        if re.match(r'^[a-z][a-z0-9+.-]*:', target):
            return match.group(0)
        path = osp.normpath(osp.join(doc_dir, target))
        inside_docs = path.startswith(SRC + os.sep)
        inside_repo = path.startswith(ROOT + os.sep)
        if inside_docs or not inside_repo or not osp.exists(path):
            return match.group(0)
        rel = osp.relpath(path, ROOT)
        return f'`{rel}`' if text.strip('`') == rel else f'{text} (`{rel}`)'

    source[0] = _MD_LINK.sub(replace, source[0])


def setup(app) -> dict:
    """Register the link rewriting."""
    app.connect('source-read', _repository_links)
    return {'parallel_read_safe': True}
