// Drives the official openai SDK and the Vercel AI SDK against the fake provider; prints one JSON line.
// Usage: node clients.mjs CASE BASE_URL   (BASE_URL: the server root, http://127.0.0.1:PORT)
import OpenAI from "openai";
import { generateText, streamText } from "ai";
import { createOpenAI } from "@ai-sdk/openai";
import { createAnthropic } from "@ai-sdk/anthropic";

const [which, root] = process.argv.slice(2);
const cases = {
  async "openai-responses"() {
    const client = new OpenAI({ baseURL: `${root}/v1`, apiKey: "sk-node", maxRetries: 0 });
    const plain = await client.responses.create({ model: "gpt-4o-mini", input: "Hello from node", max_output_tokens: 20 });
    const stream = await client.responses.create({ model: "gpt-4o-mini", input: "Hello from node", max_output_tokens: 20, stream: true });
    const types = [];
    let text = "";
    let usage = null;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "response.output_text.delta") text += event.delta;
      if (event.type === "response.incomplete" || event.type === "response.completed") usage = event.response.usage;
    }
    return { plain: { text: plain.output_text, status: plain.status, usage: plain.usage }, stream: { text, types, usage } };
  },
  async "vercel-openai"() {
    const openai = createOpenAI({ baseURL: `${root}/v1`, apiKey: "sk-node" });
    const plain = await generateText({ model: openai("gpt-4o-mini"), prompt: "Hello from node", maxRetries: 0 });
    const streamed = streamText({ model: openai("gpt-4o-mini"), prompt: "Hello from node", maxRetries: 0 });
    let text = "";
    for await (const piece of streamed.textStream) text += piece;
    return {
      plain: { text: plain.text, finishReason: plain.finishReason, usage: plain.usage },
      stream: { text, finishReason: await streamed.finishReason, usage: await streamed.usage },
    };
  },
  async "vercel-anthropic"() {
    const anthropic = createAnthropic({ baseURL: `${root}/v1`, apiKey: "ak-node" });
    const plain = await generateText({ model: anthropic("claude-sonnet-4-20250514"), prompt: "Hello from node", maxRetries: 0 });
    return { plain: { text: plain.text, finishReason: plain.finishReason, usage: plain.usage } };
  },
};

try {
  console.log(JSON.stringify({ ok: true, result: await cases[which]() }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: String(error), status: error?.statusCode ?? error?.status ?? null, body: error?.responseBody ?? null }));
}
