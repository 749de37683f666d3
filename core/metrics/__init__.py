"""Metric definitions of PRODUCT.md, computed in PostgreSQL."""
