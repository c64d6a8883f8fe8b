// The official openai npm client against genai, unchanged but for its base URL.
// GENAI_URL is the server's root, GENAI_KEY one of its API keys, GENAI_MODEL its model.
import OpenAI from 'openai';
import { test, check, run, png } from './harness.mjs';

const base = process.env.GENAI_URL;
const model = process.env.GENAI_MODEL;
const client = new OpenAI({ baseURL: base + '/v1', apiKey: process.env.GENAI_KEY, maxRetries: 0 });

test('chat, whole', async () => {
  const r = await client.chat.completions.create({
    model,
    messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello there' }],
  });
  check(r.object === 'chat.completion', `object ${r.object}`);
  check(r.choices[0].message.content === 'You said: hello there', `content ${r.choices[0].message.content}`);
  check(r.choices[0].finish_reason === 'stop', `finish_reason ${r.choices[0].finish_reason}`);
  check(r.usage.completion_tokens > 0, 'no usage');
});

test('chat, streamed with usage', async () => {
  const stream = await client.chat.completions.create({
    model,
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'hello there' }],
  });
  let text = '';
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta?.content || '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  check(text === 'You said: hello there', `text ${text}`);
  check(finish === 'stop', `finish ${finish}`);
  check(usage && usage.total_tokens > 0, 'no usage chunk');
});

test('an image question', async () => {
  const r = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: [
      { type: 'text', text: 'what is this?' },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,' + png } },
    ] }],
  });
  check(r.choices[0].message.content.startsWith('You said:'), `content ${r.choices[0].message.content}`);
});

test('embeddings, base64 (the client default) and float agree', async () => {
  const models = await client.models.list();
  const embedder = models.data.find((m) => m.capabilities?.embeddings);
  check(embedder, 'no embedder in /v1/models');
  const a = await client.embeddings.create({ model: embedder.id, input: ['hash tables', 'sourdough'] });
  const b = await client.embeddings.create({ model: embedder.id, input: 'hash tables', encoding_format: 'float' });
  check(a.data.length === 2 && Array.isArray(a.data[0].embedding), 'base64 answer not decoded to numbers');
  check(a.data[0].embedding.length === embedder.capabilities.dimensions, `dimensions ${a.data[0].embedding.length}`);
  const fa = Float32Array.from(a.data[0].embedding);
  const fb = Float32Array.from(b.data[0].embedding);
  check(fa.every((x, i) => x === fb[i]), 'base64 and float vectors differ');
  check(a.usage.prompt_tokens > 0, 'no usage');
});

test("errors have OpenAI's shape", async () => {
  try {
    await client.chat.completions.create({ model, temperature: 1.5, messages: [{ role: 'user', content: 'hi' }] });
    check(false, 'temperature 1.5 on Bedrock was accepted');
  } catch (err) {
    check(err instanceof OpenAI.BadRequestError, `error ${err}`);
    check(err.type === 'invalid_request_error' && err.param === 'temperature', `type ${err.type} param ${err.param}`);
  }
  const bad = new OpenAI({ baseURL: base + '/v1', apiKey: 'sk-wrong-0123456789abcdef', maxRetries: 0 });
  try {
    await bad.models.list();
    check(false, 'a wrong key was accepted');
  } catch (err) {
    check(err instanceof OpenAI.AuthenticationError, `error ${err}`);
  }
});

test('a field the server does not implement is refused by name', async () => {
  try {
    await client.chat.completions.create({ model, n: 2, messages: [{ role: 'user', content: 'hi' }] });
    check(false, 'n: 2 was accepted');
  } catch (err) {
    check(err.status === 400 && err.param === 'n', `status ${err.status} param ${err.param}`);
  }
});

await run();
