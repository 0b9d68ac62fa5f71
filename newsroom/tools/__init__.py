"""MCP tool servers (the only way agents reach sources) and the client wiring to them."""
