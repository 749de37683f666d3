"""Weekly reports: where they are stored and how they look."""
