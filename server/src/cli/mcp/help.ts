/** `switchyard mcp --help`; apart from the server so `switchyard help mcp` does not load the MCP SDK. */
export const MCP_HELP = `Usage: switchyard mcp [--url URL] [--token TOKEN]

Serve Switchyard to coding agents over the Model Context Protocol (stdio): tools to list, read,
create, stage, kill and evaluate flags, to start or resume a flag's saved release plan (or request
it where approvals are required), and to read the audit log and code references. Every write tool
takes dryRun. Run it from the agent's MCP configuration, not by hand: it speaks JSON-RPC on
stdin/stdout and logs to stderr.

It acts with the API token's role (viewer: read only; editor or admin: writes), through the
server's REST API; changes are audited with the source "mcp".

Options:
  --url URL      Server URL (default: $SWITCHYARD_URL, else http://127.0.0.1:4242)
  --token TOKEN  API token (default: $SWITCHYARD_TOKEN; prefer the variable: arguments are visible to other local users)

Example MCP client configuration (Claude Desktop, Cursor, …):
  { "mcpServers": { "switchyard": { "command": "switchyard", "args": ["mcp"],
      "env": { "SWITCHYARD_URL": "https://flags.example.com", "SWITCHYARD_TOKEN": "sy_api_…" } } } }
`;
