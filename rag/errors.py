"""Errors the user should read: each carries a plain-words message."""


class HearthError(Exception):
    """Base for errors shown to the user as-is."""


class LoadError(HearthError):
    """A file could not be read into text (corrupt, encrypted, empty, unsupported...)."""


class UnsupportedFormat(LoadError):
    pass


class LibraryInUse(HearthError):
    """Another process is writing this library."""


class EmbeddingMismatch(HearthError):
    """The store was built with a different embedding model."""


class Cancelled(HearthError):
    """Long work stopped because the user asked."""
