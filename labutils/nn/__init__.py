"""The PyTorch labs: text pipeline, models and training. Importing this package imports torch."""
import os

# Deterministic cuBLAS (labutils.nn.loop.deterministic, on a CUDA runtime such as Colab's GPU) needs this set
# before the first CUDA matrix product, or PyTorch raises a RuntimeError; importing labutils.nn comes first.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
