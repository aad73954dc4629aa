"""The knowledge store: documents (and, with search, chunks and vector indexes)."""
