"""Benchmarks of the core client against raw httpx and raw aiohttp (``python -m bench``)."""
