"""Packing of a transformed re-ID sample into model inputs."""
from typing import Sequence

from mmcv.transforms import BaseTransform
from mmpretrain.datasets.transforms import PackInputs

from mmpha.registry import TRANSFORMS
from mmpha.structures import ReIDDataSample


@TRANSFORMS.register_module()
class PackReIDInputs(BaseTransform):
    """Pack an image and its re-ID labels into ``inputs`` and a data sample.

    This is the last step of every mmpha pipeline. The image stays ``uint8``
    in the channel order it was loaded with (BGR for OpenCV);
    :class:`~mmpha.models.data_preprocessors.ReIDDataPreprocessor` converts
    and normalises it on the device.

    **Required keys:** ``img``, ``gt_label``, ``cam_id``.

    **Optional keys:** ``view_id`` (0 when absent), ``is_query`` (False when
    absent) and the ``meta_keys``.

    **Output keys:** ``inputs`` (``uint8`` tensor ``(C, H, W)``, C channels
    of an H x W image) and ``data_samples``
    (:class:`~mmpha.structures.ReIDDataSample`).

    Args:
        meta_keys (Sequence[str]): Keys copied into the metainfo of the data
            sample when present. Defaults to
            ``('sample_idx', 'img_path', 'ori_shape', 'img_shape', 'flip',
            'test_set')`` (``test_set``: the name that
            :class:`~mmpha.datasets.ReIDTestSets` gives each sample).
    """

    DEFAULT_META_KEYS = ('sample_idx', 'img_path', 'ori_shape', 'img_shape',
                         'flip', 'test_set')

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        if isinstance(meta_keys,
                      str) or not all(isinstance(k, str) for k in meta_keys):
            raise TypeError('meta_keys must be a sequence of str, got '
                            f'{meta_keys!r}.')
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack ``results``.

        Args:
            results (dict): The result dict of the previous transforms.

        Returns:
            dict: ``dict(inputs=Tensor (C, H, W), data_samples=
            ReIDDataSample)``.
        """
        missing = [
            k for k in ('img', 'gt_label', 'cam_id') if k not in results
        ]
        if missing:
            raise KeyError(f'PackReIDInputs needs the keys {missing} in the '
                           f'results of {results.get("img_path", "a sample")}'
                           f'; present keys: {sorted(results)}.')
        inputs = PackInputs.format_input(results['img'])
        sample = ReIDDataSample()
        sample.set_gt_label(results['gt_label'])
        sample.set_cam_id(results['cam_id'])
        sample.set_view_id(results.get('view_id', 0))
        sample.set_is_query(results.get('is_query', False))
        meta = {k: results[k] for k in self.meta_keys if k in results}
        sample.set_metainfo(meta)
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        """Return the transform with its arguments."""
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
