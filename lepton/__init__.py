"""Lepton: see, on one machine, how a small CNN trades speed, cost and accuracy."""

import os

# TensorFlow's C++ start-up chatter (oneDNN, CUDA probes) hides the messages users need.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"
