// Drives the Vercel AI SDK against a chat2responses proxy; prints one JSON object on stdout.
// Usage: node vercel_ai.mjs BASE_URL chat|responses MODEL
// `chat`: openai.chat(model), the Chat Completions provider; `responses`: openai(model), the
// Responses provider. Each run makes four calls: generateText, streamText, then a tool round trip
// (a call, its result sent back with a follow-up asking the emulator to echo what it received).
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, jsonSchema, streamText, tool } from "ai";

const [baseURL, api, modelId] = process.argv.slice(2);
const openai = createOpenAI({ baseURL, apiKey: "sk-test" });
const model = api === "chat" ? openai.chat(modelId) : openai(modelId);
const tools = {
  get_weather: tool({
    description: "Weather for a city",
    inputSchema: jsonSchema({
      type: "object",
      properties: { city: { type: "string" } },
      required: ["city"],
    }),
  }),
};

const generated = await generateText({ model, prompt: "Hello", maxRetries: 0 });
const stream = streamText({ model, prompt: "Stream me", maxRetries: 0 });
const deltas = [];
for await (const delta of stream.textStream) deltas.push(delta);

const question = { role: "user", content: "[scenario:tool] weather in Paris?" };
const first = await generateText({ model, tools, messages: [question], maxRetries: 0 });
const call = first.toolCalls[0];
const result = {
  role: "tool",
  content: [
    {
      type: "tool-result",
      toolCallId: call.toolCallId,
      toolName: call.toolName,
      output: { type: "text", value: "sunny" },
    },
  ],
};
const followUp = { role: "user", content: "[scenario:echo_request] thanks" };
const second = await generateText({
  model,
  tools,
  messages: [question, ...first.response.messages, result, followUp],
  maxRetries: 0,
});

console.log(
  JSON.stringify({
    text: generated.text,
    responseId: generated.response.id,
    deltas,
    toolCalls: first.toolCalls.map((c) => ({ id: c.toolCallId, name: c.toolName, input: c.input })),
    finishReason: first.finishReason,
    echo: second.text,
  }),
);
