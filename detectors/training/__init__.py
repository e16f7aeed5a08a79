"""Training of the learned detectors: defect simulation, pristine content, datasets, torch models, ONNX export, evaluation.

The only package of avqa that imports torch (the ``train`` extra). Run everything with
``python -m detectors.training all`` (or ``train-audio``, ``evaluate-audio``, ``train-video``,
``evaluate-video``); seeds are fixed so a rerun regenerates the same data and models.
"""
