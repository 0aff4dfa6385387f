"""LangChain integrations for DashScope."""
