"""Durable stores behind the Redis backbone: the MongoDB archive (optional)."""
