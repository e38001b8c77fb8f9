"""The import graph of mmpha: no cycle, and every edge points down a layer.

Every module under ``mmpha/`` is parsed with :mod:`ast` (nothing is imported),
and every ``import`` / ``from ... import`` statement, at module level or inside
a function, becomes an edge to the mmpha modules it names. The layers, from
the bottom (see docs/en/advanced_guides/architecture.md):

0. ``mmpha`` (the package ``__init__``), ``mmpha.version``,
   ``mmpha.registry``, ``mmpha.utils``: import nothing above;
1. ``mmpha.structures``;
2. the components ``mmpha.models``, ``mmpha.datasets``, ``mmpha.evaluation``,
   ``mmpha.engine``, ``mmpha.visualization``;
3. ``mmpha.apis``.

Components may import each other only along :data:`SIDEWAYS`, which is itself
acyclic, so the packages stay in one order a reader can draw.
"""
import ast
import os
import os.path as osp
from typing import Dict, List, Optional, Set, Tuple

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PACKAGE_ROOT = osp.join(REPO_ROOT, 'mmpha')

#: Layer of each top-level unit of mmpha (``mmpha`` is the package __init__).
LAYERS: Dict[str, int] = {
    'mmpha': 0,
    'mmpha.version': 0,
    'mmpha.registry': 0,
    'mmpha.utils': 0,
    'mmpha.structures': 1,
    'mmpha.models': 2,
    'mmpha.datasets': 2,
    'mmpha.evaluation': 2,
    'mmpha.engine': 2,
    'mmpha.visualization': 2,
    'mmpha.apis': 3,
}

#: The layer of the components. Inside the other layers any edge that makes
#: no cycle is allowed (``mmpha.utils`` uses ``mmpha.registry``).
COMPONENTS = 2

#: The edges allowed between two components, with the reason. The engine
#: orchestrates the others; a visualiser draws what the metric ranks. Models,
#: datasets and evaluation stay independent of each other, so any one of them
#: can be replaced without touching the others.
SIDEWAYS: Dict[Tuple[str, str], str] = {
    ('mmpha.visualization', 'mmpha.evaluation'):
    'rank lists are drawn from the metric\'s distances and matches',
    ('mmpha.engine', 'mmpha.models'):
    'hooks act on the model (epoch, NaN guard, weight loading)',
    ('mmpha.engine', 'mmpha.datasets'):
    'the runner builds loaders with the re-ID samplers and worker seeding',
    ('mmpha.engine', 'mmpha.evaluation'):
    'the runner evaluates with the re-ID metric',
}


def module_name(path: str) -> str:
    """Dotted name of the mmpha module at ``path`` (a package: its
    ``__init__``)."""
    rel = osp.relpath(path, REPO_ROOT)[:-len('.py')]
    parts = rel.split(os.sep)
    if parts[-1] == '__init__':
        parts = parts[:-1]
    return '.'.join(parts)


def all_modules() -> Dict[str, str]:
    """Map every mmpha module name to its file."""
    found = {}
    for root, _, files in os.walk(PACKAGE_ROOT):
        for name in files:
            if name.endswith('.py'):
                path = osp.join(root, name)
                found[module_name(path)] = path
    return found


def _resolve(importer: str, is_package: bool, level: int,
             module: Optional[str]) -> str:
    """Absolute module named by a (possibly relative) ``from`` import."""
    if level == 0:
        return module or ''
    parts = importer.split('.')
    base = parts if is_package else parts[:-1]
    base = base[:len(base) - (level - 1)]
    return '.'.join(base + ([module] if module else []))


def imports_of(name: str, path: str, modules: Set[str]) -> List[str]:
    """The mmpha modules that module ``name`` imports, anywhere in its code.

    ``import a.b.c`` and ``from a.b import c`` name ``a.b.c`` when it is a
    module, else the deepest mmpha module of the dotted path.
    """
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), filename=path)
    is_package = path.endswith('__init__.py')
    targets = []

    def deepest(dotted: str) -> Optional[str]:
        parts = dotted.split('.')
        while parts:
            candidate = '.'.join(parts)
            if candidate in modules:
                return candidate
            parts.pop()
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                targets.append(deepest(alias.name))
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, is_package, node.level, node.module)
            for alias in node.names:
                sub = f'{base}.{alias.name}'
                targets.append(sub if sub in modules else deepest(base))
    return sorted({t for t in targets if t and t != name})


def import_graph() -> Dict[str, List[str]]:
    """Every mmpha module and the mmpha modules it imports."""
    modules = all_modules()
    names = set(modules)
    return {
        name: imports_of(name, path, names)
        for name, path in modules.items()
    }


def unit_of(name: str) -> str:
    """The entry of :data:`LAYERS` that module ``name`` belongs to."""
    parts = name.split('.')
    unit = '.'.join(parts[:2])
    if unit not in LAYERS:
        raise KeyError(f'module {name} belongs to no layer; add '
                       f'{unit} to LAYERS in tests/test_layers.py')
    return unit


def find_cycle(graph: Dict[str, List[str]]) -> Optional[List[str]]:
    """One cycle of ``graph`` as a closed path, or None when it has none."""
    white, grey, black = 0, 1, 2
    colour = {node: white for node in graph}
    stack: List[str] = []

    def visit(node: str) -> Optional[List[str]]:
        colour[node] = grey
        stack.append(node)
        for nxt in graph.get(node, ()):
            if colour.get(nxt, black) == grey:
                return stack[stack.index(nxt):] + [nxt]
            if colour.get(nxt) == white:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        colour[node] = black
        return None

    for node in sorted(graph):
        if colour[node] == white:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def upward_edges(graph: Dict[str, List[str]]) -> List[str]:
    """Edges that point up a layer or sideways outside :data:`SIDEWAYS`."""
    bad = []
    for src, targets in sorted(graph.items()):
        for dst in targets:
            a, b = unit_of(src), unit_of(dst)
            if a == b or LAYERS[a] > LAYERS[b]:
                continue
            if LAYERS[a] == LAYERS[b] and (LAYERS[a] != COMPONENTS or
                                           (a, b) in SIDEWAYS):
                continue
            bad.append(f'{src} -> {dst} ({a} is layer {LAYERS[a]}, '
                       f'{b} is layer {LAYERS[b]})')
    return bad


def test_checker_sees_function_level_and_relative_imports(tmp_path):
    pkg = tmp_path / 'mmpha' / 'utils'
    pkg.mkdir(parents=True)
    code = ('from .checkpoint import x\n'
            'def f():\n'
            '    import mmpha.apis\n'
            '    from ..models import heads\n')
    (pkg / 'setup_env.py').write_text(code)
    modules = {
        'mmpha.utils.setup_env', 'mmpha.utils.checkpoint', 'mmpha.apis',
        'mmpha.models', 'mmpha.models.heads'
    }
    assert imports_of('mmpha.utils.setup_env', str(pkg / 'setup_env.py'),
                      modules) == [
                          'mmpha.apis', 'mmpha.models.heads',
                          'mmpha.utils.checkpoint'
                      ]


def test_checker_finds_cycles_and_upward_edges():
    graph = {
        'mmpha.utils.a': ['mmpha.apis.b'],
        'mmpha.apis.b': ['mmpha.utils.a']
    }
    assert find_cycle(graph) == [
        'mmpha.apis.b', 'mmpha.utils.a', 'mmpha.apis.b'
    ]
    assert upward_edges(graph) == [
        'mmpha.utils.a -> mmpha.apis.b (mmpha.utils is layer 0, mmpha.apis '
        'is layer 3)'
    ]
    assert find_cycle({
        'mmpha.utils.a': [],
        'mmpha.apis.b': ['mmpha.utils.a']
    }) is None


def test_every_module_has_a_layer():
    for name in import_graph():
        unit_of(name)


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, 'import cycle: ' + ' -> '.join(cycle)


def test_imports_point_down():
    bad = upward_edges(import_graph())
    assert not bad, 'imports that point up or sideways:\n' + '\n'.join(bad)


def test_sideways_policy_is_acyclic_and_between_components():
    units = {unit: [b for a, b in SIDEWAYS if a == unit] for unit in LAYERS}
    assert find_cycle(units) is None
    for a, b in SIDEWAYS:
        assert LAYERS[a] == LAYERS[b] == COMPONENTS, (a, b)


@pytest.mark.parametrize('unit', ['mmpha.registry', 'mmpha.utils'])
def test_bottom_imports_nothing_above(unit):
    graph = import_graph()
    above = sorted(f'{src} -> {dst}' for src, targets in graph.items()
                   if unit_of(src) == unit for dst in targets
                   if LAYERS[unit_of(dst)] > 0)
    assert not above, f'{unit} imports from above: {above}'
