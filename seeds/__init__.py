"""The default corpus (package data): the user's article and the questions about it (see articleqa.seed)."""
