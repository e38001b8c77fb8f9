# Recipe switch: layer-wise learning-rate decay (BEiT / MAE fine-tuning):
# block i of L gets lr * rate ** (L - i), the stem (patch embedding, class
# token, position and SIE embeddings) lr * rate ** (L + 1), the final norm,
# necks and heads the full lr. TransReID's bias lr x2 custom key still
# applies on top. Add after the schedule in _base_.
optim_wrapper = dict(
    constructor='ReIDLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.65))
