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

test('count_tokens', async () => {
  const n = await client.messages.countTokens({ model, messages: [{ role: 'user', content: 'hello there, how are you?' }] });
  check(n.input_tokens === 7, `input_tokens ${n.input_tokens}`);
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

await run();
