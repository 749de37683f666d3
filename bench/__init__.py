"""Benchmarks that print ratios against limits measured in the same run."""
