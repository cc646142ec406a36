"""The OpenAI-compatible client and other HTTP to the server."""
