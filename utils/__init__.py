"""Loading: files -> one tidy DataFrame, plus configuration and small I/O helpers."""
