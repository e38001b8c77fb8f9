# The TransReID / PHA recipe of sgd_cosine_120e.py over 200 epochs (the
# released CUHK03 setting): the same 5 warm-up epochs, and the cosine, whose
# end=None follows train_cfg.max_epochs, now runs over all 200.
_base_ = './sgd_cosine_120e.py'

train_cfg = dict(max_epochs=200)
