"""mmpha: transformer person re-identification with PHA on MMEngine."""
import mmcv
import mmengine
import mmpretrain
from mmengine.utils import digit_version

from .version import __version__, version_info

# Keep these ranges equal to requirements/mminstall.txt (a test checks it).
MMCV_MIN, MMCV_MAX = '2.0.0', '2.3.0'
MMENGINE_MIN, MMENGINE_MAX = '0.10.0', '1.0.0'
MMPRETRAIN_MIN, MMPRETRAIN_MAX = '1.2.0', '1.3.0'

_INSTALL_HINT = {
    'mmcv': 'pip install "mmcv-lite>={lo},<{hi}" (or the full mmcv of the '
    'same range)',
    'mmengine': 'pip install "mmengine>={lo},<{hi}"',
    'mmpretrain': 'pip install "mmpretrain>={lo},<{hi}"',
}


def check_version(name: str, version: str, low: str, high: str) -> None:
    """Raise if ``version`` of package ``name`` is outside ``[low, high)``.

    Args:
        name (str): Package name, a key of the install hints.
        version (str): The installed version.
        low (str): Lowest accepted version (inclusive).
        high (str): First rejected version (exclusive).

    Raises:
        ImportError: When the version is out of range; the message names the
            package, both versions and the command that installs a good one.
    """
    if not digit_version(low) <= digit_version(version) < digit_version(high):
        hint = _INSTALL_HINT[name].format(lo=low, hi=high)
        raise ImportError(
            f'{name}=={version} is installed, but mmpha {__version__} needs '
            f'{name}>={low},<{high}. Install a compatible version: {hint}')


check_version('mmcv', mmcv.__version__, MMCV_MIN, MMCV_MAX)
check_version('mmengine', mmengine.__version__, MMENGINE_MIN, MMENGINE_MAX)
check_version('mmpretrain', mmpretrain.__version__, MMPRETRAIN_MIN,
              MMPRETRAIN_MAX)

__all__ = ['__version__', 'version_info', 'check_version']
