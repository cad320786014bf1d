"""Backends: small protocols (`base`) and the built-in implementations."""
