"""Audit: history views, tamper evidence, tracing figures to sources, monitoring."""
