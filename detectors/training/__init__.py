"""Training of the learned detectors: defect simulation, pristine content, datasets, torch models, ONNX export, evaluation.

The only package of avqa that imports torch (the ``train`` extra). Run everything with
``python -m detectors.training all`` (or ``train-audio``, ``export-audio``, ``validate-audio``,
``evaluate-audio``, ``train-video``, ``evaluate-video``); seeds are fixed so a rerun regenerates
the same data and models. The audio model is an ensemble of members that differ only in their
seed (``audio_train.MEMBER_SEEDS``, two today): ``train-audio --seed S`` trains one member and
saves its weights (members can train in parallel, one per core), ``export-audio`` combines the
saved members, chooses the detector's smoothing on the validation sources and evaluates on the
held-out ones; plain ``train-audio`` does all of it.
"""
