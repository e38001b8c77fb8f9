# The runtime of the tiny CPU configs: the default runtime, a log line every
# 19 iterations (twice an epoch of SynthReID at batch 32), one checkpoint kept
# and none chosen by score. A leaf sets the checkpoint interval to its
# schedule's length (the schedule bases define max_epochs).
_base_ = './default_runtime.py'

default_hooks = dict(
    logger=dict(interval=19),
    checkpoint=dict(max_keep_ckpts=1, save_best=None))

# One intra-op thread (read by tools/train.py; OMP_NUM_THREADS overrides
# it): on 2 cores shared with the dataloader workers and other jobs, the
# default of one thread per core made an iteration 5-10x slower.
env_cfg = dict(num_threads=1)
