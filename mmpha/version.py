"""Version of mmpha."""
__version__ = '0.1.0'


def parse_version_info(version_str: str) -> tuple:
    """Parse a version string into a comparable tuple.

    Args:
        version_str (str): A version such as ``'0.1.0'`` or ``'1.0.0rc1'``.

    Returns:
        tuple: e.g. ``(0, 1, 0)`` or ``(1, 0, 0, 'rc1')``.
    """
    info = []
    for part in version_str.split('.'):
        if part.isdigit():
            info.append(int(part))
        else:
            digits = ''.join(c for c in part if c.isdigit())
            rest = part[len(digits):]
            info.append(int(digits) if digits else 0)
            if rest:
                info.append(rest)
    return tuple(info)


version_info = parse_version_info(__version__)
