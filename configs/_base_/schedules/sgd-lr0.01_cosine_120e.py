# The TransReID recipe of sgd_cosine_120e.py at lr 0.01 for a batch of 64:
# TransReID's released VeRi-776 setting.
_base_ = './sgd_cosine_120e.py'

optim_wrapper = dict(optimizer=dict(lr=0.01))
