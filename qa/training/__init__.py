"""Training of the shipped extractive reader (run with ``python -m qa.training.train``)."""
