"""FinSync statement services: one Flask app factory for all three statements."""

__all__ = ["create_app"]


def __getattr__(name):
    # Lazy, so `import data_sources.errors` (the aggregator) does not pull in Flask
    # extensions, sqlglot and pyarrow.
    if name == "create_app":
        from data_sources.service import create_app

        return create_app
    raise AttributeError(f"module 'data_sources' has no attribute {name!r}")
