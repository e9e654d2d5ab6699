"""The common base below every other room: errors, cancel, paths, plain data types, settings,
the core count."""
