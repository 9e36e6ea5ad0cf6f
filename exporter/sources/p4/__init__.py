"""Perforce source: an asyncio wrapper around P4Python for streams, sizes and ticket checks."""
