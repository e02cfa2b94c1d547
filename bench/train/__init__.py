"""Training one fold: configuration, data augmentation, metrics, seeding and the loop itself.

``bench.train.loop.fit_fold`` trains one model on one fold's training speakers, selects the
epoch (and, where the model asks for it, the head) on the validation speakers only, and scores
the test speakers once with the selected weights.
"""
