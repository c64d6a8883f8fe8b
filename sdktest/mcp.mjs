// The official MCP TypeScript SDK's client against genai's MCP server, over Streamable
// HTTP (GENAI_URL + /mcp, with GENAI_KEY and GENAI_OTHER_KEY, two of its API keys) and
// over stdio (GENAI_BINARY mcp, on the data directory GENAI_MCP_DATA_DIR).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { test, check, run } from './harness.mjs';

const endpoint = new URL(process.env.GENAI_URL + '/mcp');
const key = process.env.GENAI_KEY;
const otherKey = process.env.GENAI_OTHER_KEY;

function httpTransport(k) {
  const headers = k ? { Authorization: `Bearer ${k}` } : {};
  return new StreamableHTTPClientTransport(endpoint, { requestInit: { headers } });
}

function stdioTransport() {
  return new StdioClientTransport({
    command: process.env.GENAI_BINARY,
    args: ['mcp'],
    env: { ...process.env, GENAI_DATA_DIR: process.env.GENAI_MCP_DATA_DIR },
    stderr: 'pipe', // the server's log; stdout carries the protocol alone
  });
}

async function connect(transport) {
  const client = new Client({ name: 'genai-sdktest', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

function text(result) {
  return result.content.filter((c) => c.type === 'text').map((c) => c.text).join('');
}

// What an assistant does with the server, the same over both transports.
async function exercise(client) {
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  for (const want of ['search_knowledge_base', 'list_documents', 'ingest_document', 'search_notes', 'add_note']) {
    check(names.includes(want), `tools ${names}: no ${want}`);
  }
  check(tools.every((t) => t.inputSchema.type === 'object'), 'an input schema is not an object schema');

  let r = await client.callTool({
    name: 'ingest_document',
    arguments: {
      title: 'Sourdough',
      uri: 'sourdough.md',
      text: '# Sourdough\n\nA starter of flour and water ferments for five days before its first bake.\n\n' +
        '# Baking\n\nThe loaf bakes in a covered pot at 250 degrees so the crust stays thin.',
    },
  });
  check(!r.isError && text(r).includes('sourdough.md'), `ingest_document: ${JSON.stringify(r)}`);

  r = await client.callTool({ name: 'search_knowledge_base', arguments: { query: 'why bake in a covered pot', k: 2 } });
  check(!r.isError && text(r).startsWith('[1] ') && text(r).includes('crust stays thin'), `search_knowledge_base: ${text(r)}`);
  const cites = r.structuredContent?.citations || [];
  check(cites.length > 0 && cites[0].n === 1 && cites[0].uri === 'sourdough.md', `citations: ${JSON.stringify(cites)}`);

  r = await client.callTool({ name: 'add_note', arguments: { title: 'Wifi', text: 'The guest wifi password is plum-tree-42.' } });
  check(!r.isError, `add_note: ${text(r)}`);
  for (const mode of ['semantic', 'title', 'hybrid']) {
    r = await client.callTool({ name: 'search_notes', arguments: { query: 'wifi password', mode } });
    check(!r.isError && text(r).includes('plum-tree-42'), `search_notes ${mode}: ${text(r)}`);
  }

  const { resources } = await client.listResources();
  const doc = resources.find((d) => d.title === 'Sourdough');
  check(doc && doc.uri.startsWith('genai://kb/documents/'), `resources: ${JSON.stringify(resources)}`);
  const read = await client.readResource({ uri: doc.uri });
  const body = read.contents[0]?.text || '';
  check(body.includes('ferments for five days') && body.includes('Baking'), `read: ${JSON.stringify(read)}`);

  r = await client.callTool({ name: 'search_knowledge_base', arguments: { query: 'bread', k: 500 } });
  check(r.isError === true && text(r).includes('k: must be'), `k 500: ${JSON.stringify(r)}`);
  r = await client.callTool({ name: 'search_notes', arguments: {} });
  check(r.isError === true && text(r).includes('query: required'), `no query: ${JSON.stringify(r)}`);
}

test('Streamable HTTP: tools, citations, notes, resources, tool errors', async () => {
  const client = await connect(httpTransport(key));
  try {
    await exercise(client);
  } finally {
    await client.close();
  }
});

test('Streamable HTTP: no key is refused, and a session is its key\'s alone', async () => {
  let refused = false;
  try {
    await connect(httpTransport(''));
  } catch (err) {
    refused = /401|unauthorized|API key/i.test(String(err));
  }
  check(refused, 'connected without a key');

  const transport = httpTransport(key);
  const client = await connect(transport);
  try {
    check(transport.sessionId, 'no session id');
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${otherKey}`,
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        'Mcp-Session-Id': transport.sessionId,
        'Mcp-Protocol-Version': transport.protocolVersion,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    check(res.status === 403, `another key on the session: ${res.status} ${await res.text()}`);
    await client.listTools(); // still the owner's
  } finally {
    await client.close();
  }
});

test('stdio (genai mcp): tools, citations, notes, resources, tool errors', async () => {
  const transport = stdioTransport();
  let log = '';
  transport.stderr.on('data', (b) => (log += b));
  const client = await connect(transport);
  try {
    await exercise(client);
  } finally {
    await client.close();
  }
  check(log.includes('genai MCP server on stdio'), `the log is not on stderr: ${log}`);
});

await run();
