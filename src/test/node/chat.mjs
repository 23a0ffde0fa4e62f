// The official OpenAI Node client against `infercl serve` (run by NodeClientTest, which starts the server):
// lists the models, streams a chat completion with the sampling settings of the CLI's chat, and embeds two
// texts. Prints one JSON line: the streamed text, its finish reason, usage, and the embeddings' sizes.
import OpenAI from 'openai';

const env = process.env;
const client = new OpenAI({ baseURL: env.INFERCL_BASE_URL, apiKey: env.INFERCL_API_KEY, maxRetries: 0 });

const models = await client.models.list();
const model = models.data[0].id;

const stream = await client.chat.completions.create({
  model,
  messages: [{ role: 'user', content: env.INFERCL_MESSAGE }],
  stream: true,
  stream_options: { include_usage: true },
  seed: Number(env.INFERCL_SEED),
  max_tokens: Number(env.INFERCL_MAX_TOKENS),
  temperature: 0.8,
  top_p: 0.95,
  // not in OpenAI's API; the client passes them through and infercl honours them (the CLI's defaults)
  top_k: 40,
  min_p: 0.05,
});
let text = '';
let finish = null;
let usage = null;
let chunks = 0;
for await (const chunk of stream) {
  chunks++;
  if (chunk.usage) usage = chunk.usage;
  for (const choice of chunk.choices) {
    if (choice.delta?.content) text += choice.delta.content;
    if (choice.finish_reason) finish = choice.finish_reason;
  }
}

const embeddings = await client.embeddings.create({ model, input: ['Lily had a red ball.', 'The sun was hot.'] });

console.log(JSON.stringify({
  model,
  text,
  finish,
  usage,
  chunks,
  embeddings: embeddings.data.map((e) => e.embedding.length),
  firstEmbedding: embeddings.data[1].embedding.slice(0, 4),
}));
