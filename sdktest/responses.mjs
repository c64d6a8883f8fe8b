// The Responses API through the official openai npm client, unchanged but for its base
// URL. GENAI_URL is the server's root, GENAI_KEY one of its API keys, GENAI_MODEL its model.
import OpenAI from 'openai';
import { test, check, run, png } from './harness.mjs';

const base = process.env.GENAI_URL;
const model = process.env.GENAI_MODEL;
const client = new OpenAI({ baseURL: base + '/v1', apiKey: process.env.GENAI_KEY, maxRetries: 0 });

const weather = {
  type: 'function',
  name: 'get_weather',
  description: 'The weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  strict: false,
};

test('create, then continue by previous_response_id', async () => {
  const r = await client.responses.create({ model, instructions: 'be brief', input: 'hello there' });
  check(r.object === 'response' && r.id.startsWith('resp_'), `object ${r.object} id ${r.id}`);
  check(r.status === 'completed', `status ${r.status}`);
  check(r.output_text === 'You said: hello there', `output_text ${r.output_text}`);
  check(r.usage.total_tokens === r.usage.input_tokens + r.usage.output_tokens, 'usage');
  const next = await client.responses.create({ model, previous_response_id: r.id, input: 'say more' });
  check(next.output_text === 'You said: say more', `next ${next.output_text}`);
  check(next.previous_response_id === r.id, `previous_response_id ${next.previous_response_id}`);
  const got = await client.responses.retrieve(r.id);
  check(got.id === r.id && got.output[0].content[0].text === r.output_text, 'retrieve');
  await client.responses.delete(r.id);
  try {
    await client.responses.retrieve(r.id);
    check(false, 'a deleted response was found');
  } catch (err) {
    check(err instanceof OpenAI.NotFoundError, `error ${err}`);
  }
});

test('an image question', async () => {
  const r = await client.responses.create({
    model,
    input: [{ role: 'user', content: [
      { type: 'input_text', text: 'what is this?' },
      { type: 'input_image', image_url: 'data:image/png;base64,' + png, detail: 'auto' },
    ] }],
  });
  check(r.output_text === 'You said: what is this?', `output_text ${r.output_text}`);
});

test('streamed, with the documented events', async () => {
  const stream = await client.responses.create({ model, input: 'hello there', stream: true });
  const types = [];
  let text = '';
  let seq = 0;
  let final = null;
  for await (const ev of stream) {
    check(ev.sequence_number === seq++, `sequence_number ${ev.sequence_number} of ${ev.type}`);
    if (types[types.length - 1] !== ev.type) types.push(ev.type);
    if (ev.type === 'response.output_text.delta') text += ev.delta;
    if (ev.type === 'response.completed') final = ev.response;
  }
  const want = ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added',
    'response.output_text.delta', 'response.output_text.done', 'response.content_part.done', 'response.output_item.done',
    'response.completed'];
  check(types.join(' ') === want.join(' '), `events ${types.join(' ')}`);
  check(text === 'You said: hello there', `text ${text}`);
  check(final && final.status === 'completed' && final.output[0].content[0].text === text, 'final response');
});

test('the stream helper, continuing a stored response', async () => {
  const first = await client.responses.create({ model, input: 'hello there' });
  const stream = client.responses.stream({ model, previous_response_id: first.id, input: 'and then?' });
  let text = '';
  stream.on('response.output_text.delta', (ev) => { text += ev.delta; });
  const final = await stream.finalResponse();
  // The helper's final response is the accumulated one, without the output_text that
  // create() adds.
  const finalText = final.output[0].content[0].text;
  check(text === 'You said: and then?' && finalText === text && final.previous_response_id === first.id, `text ${text} final ${finalText}`);
});

test('a function tool round trip', async () => {
  const r = await client.responses.create({ model, tools: [weather], input: 'Paris' });
  const call = r.output.find((o) => o.type === 'function_call');
  check(call && call.name === 'get_weather' && JSON.parse(call.arguments).city === 'Paris', `output ${JSON.stringify(r.output)}`);
  const answer = await client.responses.create({
    model,
    tools: [weather],
    previous_response_id: r.id,
    input: [{ type: 'function_call_output', call_id: call.call_id, output: '18 C and sunny' }],
  });
  check(answer.output_text === `Tool ${call.call_id} returned 18 C and sunny.`, `answer ${answer.output_text}`);
});

test('a function tool round trip without storing, the call sent back as input', async () => {
  const input = [{ role: 'user', content: 'Paris' }];
  const r = await client.responses.create({ model, tools: [weather], input, store: false });
  const call = r.output.find((o) => o.type === 'function_call');
  check(call, `no call in ${JSON.stringify(r.output)}`);
  const answer = await client.responses.create({
    model,
    tools: [weather],
    store: false,
    input: [...input, ...r.output, { type: 'function_call_output', call_id: call.call_id, output: '18 C' }],
  });
  check(answer.output_text === `Tool ${call.call_id} returned 18 C.`, `answer ${answer.output_text}`);
});

test('server tools: their calls are mcp_call items, which can be sent back as input', async () => {
  // A document for the knowledge-base tool to find, by the server's own API.
  const doc = await fetch(base + '/api/kb/documents', {
    method: 'POST',
    headers: { Authorization: 'Bearer ' + process.env.GENAI_KEY, 'Content-Type': 'application/json' },
    body: JSON.stringify({ title: 'Tides', uri: 'tides.md', text: '# Tides\n\nSpring tides, the highest tides, come when the Sun and the Moon line up.' }),
  });
  check(doc.status === 201, `ingest: ${doc.status} ${await doc.text()}`);
  const input = [{ role: 'user', content: 'highest tides' }];
  const r = await client.responses.create({ model, input, server_tools: ['knowledge_base'], store: false });
  const call = r.output.find((o) => o.type === 'mcp_call');
  check(call && call.server_label === 'knowledge_base' && call.status === 'completed' && call.output.includes('Spring tides'),
    `output ${JSON.stringify(r.output)}`);
  const next = await client.responses.create({ model, store: false, input: [...input, ...r.output, { role: 'user', content: 'thanks' }] });
  check(next.output_text === 'You said: thanks', `next ${next.output_text}`);
});

test("errors have OpenAI's shape and name the field", async () => {
  try {
    await client.responses.create({ model, input: 'hi', background: true });
    check(false, 'background was accepted');
  } catch (err) {
    check(err instanceof OpenAI.BadRequestError, `error ${err}`);
    check(err.type === 'invalid_request_error' && err.param === 'background', `type ${err.type} param ${err.param}`);
  }
  try {
    await client.responses.create({ model, input: 'hi', previous_response_id: 'resp_nope' });
    check(false, 'an unknown previous_response_id was accepted');
  } catch (err) {
    check(err instanceof OpenAI.NotFoundError && err.param === 'previous_response_id', `error ${err} param ${err.param}`);
  }
});

await run();
