# The TransReID recipe of sgd_cosine_120e.py at lr 0.045 for a batch of 256:
# TransReID's released VehicleID setting.
_base_ = './sgd_cosine_120e.py'

optim_wrapper = dict(optimizer=dict(lr=0.045))

# The lr above is for 256 images per iteration (64 identities x 4).
auto_scale_lr = dict(base_batch_size=256, enable=False)
