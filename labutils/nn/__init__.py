"""The PyTorch labs: text pipeline, models and training. Importing this package imports torch."""
