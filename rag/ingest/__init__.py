"""Indexing: files -> text -> chunks -> vectors -> store, with progress over the whole job."""
