/**
 * The benchmark's SDK server: what users run, an `McpServer` of @modelcontextprotocol/sdk on
 * stdio (run with node), with one `echo` tool that answers its arguments as JSON text.
 * Usage: node scripts/bench/sdk-echo-server.mjs
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";

const server = new McpServer({ name: "sdk-echo", version: "1.0.0" });
server.registerTool(
  "echo",
  { description: "Answers its arguments as JSON text", inputSchema: z.looseObject({}) },
  async (args) => ({ content: [{ type: "text", text: JSON.stringify(args) }] }),
);
await server.connect(new StdioServerTransport());
