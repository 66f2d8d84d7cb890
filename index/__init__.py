"""Turns articles into a searchable store: documents -> sentences -> embeddings -> FAISS + BM25."""
