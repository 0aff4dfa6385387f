"""LlamaIndex integrations for DashScope."""
