// A Node fetch client of api.openai.com (no base URL, no proxy), for
// tests/e2e/test_intercept.py: 2 models x streamed or not, then one call each to two other
// providers with their own keys. Prints one JSON object.
const messages = [{ role: "user", content: "hi" }];
const answers = [];
for (const model of ["gpt-5.5", "gpt-5-codex"]) {
  for (const stream of [false, true]) {
    try {
      const answer = await fetch("https://api.openai.com/v1/chat/completions", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer sk-openai-test" },
        body: JSON.stringify({ model, stream, messages }),
        signal: AbortSignal.timeout(20000),
      });
      const body = await answer.text();
      if (!stream) {
        answers.push(JSON.parse(body).choices[0].message.content);
      } else {
        let text = "";
        for (const line of body.split("\n")) {
          if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
          const chunk = JSON.parse(line.slice(6));
          if (chunk.choices?.length) text += chunk.choices[0].delta.content ?? "";
        }
        answers.push(text);
      }
    } catch (error) {
      answers.push(`ERROR ${error.name}: ${error.cause?.code ?? error.message}`);
    }
  }
}
const others = [];
const calls = [
  ["https://openrouter.ai/api/v1/chat/completions", { authorization: "Bearer sk-or-v1-secret" }],
  ["https://api.anthropic.com/v1/models", { "x-api-key": "sk-ant-secret" }],
];
for (const [url, headers] of calls) {
  try {
    const isChat = url.endsWith("completions");
    const answer = await fetch(url, {
      method: isChat ? "POST" : "GET",
      headers: { "content-type": "application/json", ...headers },
      body: isChat ? JSON.stringify({ model: "gpt-5.5", messages }) : undefined,
      signal: AbortSignal.timeout(10000),
    });
    others.push(String(answer.status));
  } catch (error) {
    others.push(error.name);
  }
}
console.log(JSON.stringify({ answers, others }));
