"""Where indexed articles live: the embedding model (and its ONNX export), the SQLite registry
with its keyword index and migrations, the Chroma vector store, and the write lock."""
