"""FinSync statement services: one Flask app factory for all three statements."""
