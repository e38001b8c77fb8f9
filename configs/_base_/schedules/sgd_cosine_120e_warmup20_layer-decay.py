# sgd_cosine_120e_warmup20.py with layer-wise learning-rate decay (BEiT /
# MAE fine-tuning; ReIDLayerDecayOptimWrapperConstructor): block i of L
# gets lr * rate ** (L - i), the stem (patch embedding, class token,
# position and SIE embeddings) lr * rate ** (L + 1), the final norm, necks
# and heads the full lr; the bias lr x2 custom key still applies on top.
# Any other schedule takes the same switch from the command line:
#   --cfg-options \
#     optim_wrapper.constructor=ReIDLayerDecayOptimWrapperConstructor \
#     optim_wrapper.paramwise_cfg.layer_decay_rate=0.65
_base_ = './sgd_cosine_120e_warmup20.py'

optim_wrapper = dict(
    constructor='ReIDLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.65))
