"""A one-tool MCP server (streamable HTTP) that LLaMA Stack's Responses API calls during the test.

Owns the tool side of the LLaMA Stack end-to-end test: a server-side tool makes LLaMA Stack
emit its own tool spans (`list_mcp_tools`, `invoke_mcp_tool`) between the two model calls of
one Responses turn. Uses the `mcp` package LLaMA Stack already depends on.

Usage: `mcp_weather.py PORT` — serves `http://127.0.0.1:PORT/mcp`.
"""

import sys

from mcp.server.fastmcp import FastMCP

server = FastMCP("weather", host="127.0.0.1", port=int(sys.argv[1]), log_level="WARNING")


@server.tool()
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"Sunny and 18C in {city}"


if __name__ == "__main__":
    server.run(transport="streamable-http")
