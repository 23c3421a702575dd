"""The model store: where MLflow tracking lives and the registry of ScoringBundles.

Training writes to it (log, register, promote); serving and the command line read from it
(load the champion). It holds no training code, so serving never depends on training.
"""
