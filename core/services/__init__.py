"""Plain functions over a SQLAlchemy session. They flush; the caller commits."""
