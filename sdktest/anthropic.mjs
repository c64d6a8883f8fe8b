// The official @anthropic-ai/sdk client against genai, unchanged but for its base URL.
// GENAI_URL is the server's root, GENAI_KEY one of its API keys, GENAI_MODEL its model.
import Anthropic from '@anthropic-ai/sdk';
import { test, check, run, png } from './harness.mjs';

const model = process.env.GENAI_MODEL;
const client = new Anthropic({ baseURL: process.env.GENAI_URL, apiKey: process.env.GENAI_KEY, maxRetries: 0 });

test('messages, whole', async () => {
  const m = await client.messages.create({
    model,
    max_tokens: 100,
    system: 'be brief',
    messages: [{ role: 'user', content: 'hello there' }],
  });
  check(m.type === 'message' && m.role === 'assistant', `message ${JSON.stringify(m)}`);
  check(m.content[0].type === 'text' && m.content[0].text === 'You said: hello there', `content ${JSON.stringify(m.content)}`);
  check(m.stop_reason === 'end_turn' && m.usage.output_tokens > 0, `stop ${m.stop_reason}`);
});

test('messages, streamed: the event sequence builds the final message', async () => {
  const stream = client.messages.stream({
    model,
    max_tokens: 100,
    messages: [{ role: 'user', content: [
      { type: 'text', text: 'what is this?' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
    ] }],
  });
  const kinds = [];
  stream.on('streamEvent', (e) => kinds.push(e.type));
  const m = await stream.finalMessage();
  check(m.content[0].text.startsWith('You said:'), `text ${m.content[0].text}`);
  check(m.stop_reason === 'end_turn', `stop ${m.stop_reason}`);
  check(kinds[0] === 'message_start' && kinds.at(-1) === 'message_stop' && kinds.includes('content_block_delta'), `events ${kinds}`);
});

test("count_tokens, by Bedrock's CountTokens", async () => {
  const { data: n, response } = await client.messages
    .countTokens({ model, messages: [{ role: 'user', content: 'hello there, how are you?' }] })
    .withResponse();
  // The Bedrock test server counts words: 5.
  check(n.input_tokens === 5, `input_tokens ${n.input_tokens}`);
  check(response.headers.get('genai-token-count') === 'provider', `genai-token-count ${response.headers.get('genai-token-count')}`);
});

test("errors have Anthropic's shape", async () => {
  try {
    await client.messages.create({
      model,
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }, { role: 'user', content: 'again' }],
    });
    check(false, 'two user turns on Bedrock were accepted');
  } catch (err) {
    check(err instanceof Anthropic.BadRequestError && err.error?.error?.type === 'invalid_request_error', `error ${err}`);
  }
  const bad = new Anthropic({ baseURL: process.env.GENAI_URL, apiKey: 'sk-ant-wrong-0123456789', maxRetries: 0 });
  try {
    await bad.messages.create({ model, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    check(false, 'a wrong key was accepted');
  } catch (err) {
    check(err instanceof Anthropic.AuthenticationError, `error ${err}`);
  }
});

const weather = {
  name: 'get_weather',
  description: 'Weather of a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

test('a tool round trip, streamed then whole', async () => {
  const messages = [{ role: 'user', content: 'Paris' }];
  const m = await client.messages.stream({ model, max_tokens: 100, tools: [weather], messages }).finalMessage();
  const call = m.content.find((b) => b.type === 'tool_use');
  check(m.stop_reason === 'tool_use' && call?.name === 'get_weather' && call.input.city === 'Paris', `message ${JSON.stringify(m.content)}`);
  messages.push({ role: 'assistant', content: m.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: '21 degrees' }] });
  const r = await client.messages.create({ model, max_tokens: 100, tools: [weather], messages });
  check(r.stop_reason === 'end_turn' && r.content[0].text === `Tool ${call.id} returned 21 degrees.`, `answer ${JSON.stringify(r.content)}`);
});

test('extended thinking with a tool, sent back with its signature', async () => {
  const thinkingModel = process.env.GENAI_STRUCTURED_MODEL; // a Claude model that thinks
  const messages = [{ role: 'user', content: 'Lyon' }];
  const params = { model: thinkingModel, max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 }, tools: [weather] };
  const m = await client.messages.stream({ ...params, messages }).finalMessage();
  check(m.content[0].type === 'thinking' && m.content[0].signature, `content ${JSON.stringify(m.content)}`);
  const call = m.content.find((b) => b.type === 'tool_use');
  messages.push({ role: 'assistant', content: m.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'rain' }] });
  const r = await client.messages.create({ ...params, messages });
  check(r.content.at(-1).text === `Tool ${call.id} returned rain.`, `answer ${JSON.stringify(r.content)}`);
});

await run();
