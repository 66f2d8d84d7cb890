"""Evaluation of the reader and of the whole pipeline with the official SQuAD metric."""
