"""The library on disk: the SQLite manifest with its FTS5 keyword index, the vector store, locks, the writer."""
