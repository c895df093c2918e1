// Drives the official openai SDK and the Vercel AI SDK against the fake provider; prints one JSON line.
// Usage: node clients.mjs CASE BASE_URL   (BASE_URL: the server root, http://127.0.0.1:PORT)
import OpenAI from "openai";
import { Output, generateObject, generateText, isStepCount, streamObject, streamText, tool } from "ai";
import { createOpenAI } from "@ai-sdk/openai";
import { createAnthropic } from "@ai-sdk/anthropic";
import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { z } from "zod";

const [which, root] = process.argv.slice(2);
globalThis.AI_SDK_LOG_WARNINGS = false; // generateObject's deprecation notice: the test asks for it on purpose

// the Vercel AI SDK's model for each API the fake provider speaks ("openai": the default, the Responses API)
const models = {
  openai: () => createOpenAI({ baseURL: `${root}/v1`, apiKey: "sk-node" })("gpt-4o-mini"),
  "openai-chat": () => createOpenAI({ baseURL: `${root}/v1`, apiKey: "sk-node" }).chat("gpt-4o-mini"),
  anthropic: () => createAnthropic({ baseURL: `${root}/v1`, apiKey: "ak-node" })("claude-sonnet-4-20250514"),
  google: () => createGoogleGenerativeAI({ baseURL: `${root}/v1beta`, apiKey: "g-node" })("gemini-2.5-flash"),
};
const weatherInput = z.object({ city: z.string(), days: z.number().int().min(1).max(3) });
const verdict = z.object({ verdict: z.enum(["yes", "no"]), score: z.number().min(0).max(1), reasons: z.array(z.string()) });

// the tool loop: the model calls the tool (auto: no result yet), the SDK runs it and sends the result
// back, the model answers in text; at most three steps
async function toolLoop(model) {
  const calls = [];
  const weather = tool({
    description: "Forecast for a city",
    inputSchema: weatherInput,
    execute: async (input) => {
      calls.push(input);
      return { sky: "clear", city: input.city };
    },
  });
  const result = await generateText({
    model, prompt: "What is the weather in Oslo?", tools: { weather }, stopWhen: isStepCount(3), maxRetries: 0,
  });
  const streamed = streamText({
    model, prompt: "What is the weather in Oslo?", tools: { weather }, stopWhen: isStepCount(3), maxRetries: 0,
  });
  let text = "";
  for await (const piece of streamed.textStream) text += piece;
  const steps = await streamed.steps;
  return {
    plain: {
      steps: result.steps.map((s) => ({ finishReason: s.finishReason, toolCalls: s.toolCalls.map((c) => ({ name: c.toolName, input: c.input })) })),
      text: result.text, finishReason: result.finishReason, usage: result.totalUsage,
    },
    stream: {
      steps: steps.map((s) => ({ finishReason: s.finishReason, toolCalls: s.toolCalls.map((c) => ({ name: c.toolName, input: c.input })) })),
      text, finishReason: await streamed.finishReason,
    },
    executed: calls,
  };
}

// structured output: generateObject with a zod schema, streamObject's final object, and generateText
// with an object output (what this SDK version recommends instead of generateObject)
async function objects(model) {
  const prompt = "Is the sky blue? Answer as JSON.";
  const plain = await generateObject({ model, schema: verdict, prompt, maxRetries: 0 });
  const streamed = streamObject({ model, schema: verdict, prompt, maxRetries: 0 });
  let partials = 0;
  for await (const _ of streamed.partialObjectStream) partials += 1;
  const viaText = await generateText({ model, output: Output.object({ schema: verdict }), prompt, maxRetries: 0 });
  return {
    plain: { object: plain.object, finishReason: plain.finishReason, usage: plain.usage },
    stream: { object: await streamed.object, partials, usage: await streamed.usage },
    output: { object: viaText.output, finishReason: viaText.finishReason },
  };
}

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
for (const api of Object.keys(models)) {
  cases[`tools-${api}`] = () => toolLoop(models[api]());
  cases[`object-${api}`] = () => objects(models[api]());
}

try {
  console.log(JSON.stringify({ ok: true, result: await cases[which]() }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: String(error), status: error?.statusCode ?? error?.status ?? null, body: error?.responseBody ?? null }));
}
