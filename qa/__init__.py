"""Turns a question into an answer: retriever -> reader -> pipeline."""
