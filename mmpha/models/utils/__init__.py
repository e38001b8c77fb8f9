from .patch_grid import patch_grid_size, to_int_pair
from .patch_selection import gather_tokens, patch_scores, select_hf_patches
from .pretrained_layouts import (PRETRAINED_LAYOUTS, PretrainedReport,
                                 convert_pretrained_checkpoint,
                                 detect_pretrained_layout, infer_pos_grid)
from .release_converters import (ConversionReport, ReleaseCheckpointError,
                                 convert_release_state_dict, infer_src_grid,
                                 is_release_checkpoint,
                                 release_backbone_state_dict)
from .wavelet import (dwt2d, hf_energy_from_details, hf_energy_map, hf_region,
                      idwt2d, ll_gain, low_frequency_drop, quantise_ll,
                      soft_round, synthesise_ll)
from .weight_converters import (convert_vit_checkpoint, detect_release_layout,
                                detect_vit_format, extract_state_dict,
                                load_weights_file, resize_pos_embed_to_grid,
                                timm_block_key, timm_to_mmpretrain_vit)

__all__ = [
    'dwt2d', 'idwt2d', 'hf_energy_map', 'hf_energy_from_details', 'hf_region',
    'll_gain', 'soft_round', 'quantise_ll', 'low_frequency_drop',
    'patch_grid_size', 'to_int_pair', 'patch_scores', 'select_hf_patches',
    'gather_tokens', 'convert_vit_checkpoint', 'detect_vit_format',
    'extract_state_dict', 'load_weights_file', 'resize_pos_embed_to_grid',
    'timm_to_mmpretrain_vit', 'synthesise_ll', 'detect_release_layout',
    'timm_block_key', 'ConversionReport', 'ReleaseCheckpointError',
    'convert_release_state_dict', 'infer_src_grid', 'is_release_checkpoint',
    'release_backbone_state_dict', 'PRETRAINED_LAYOUTS', 'PretrainedReport',
    'convert_pretrained_checkpoint', 'detect_pretrained_layout',
    'infer_pos_grid'
]
