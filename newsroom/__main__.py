"""`python -m newsroom` runs the CLI (the stdio MCP servers are started this way)."""

from newsroom.cli import main

main()
