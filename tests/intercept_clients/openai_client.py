"""An unmodified openai-python client of api.openai.com (no base URL, no proxy in its code),
for tests/e2e/test_intercept.py: 2 models x streamed or not, then one call each to two other
providers with their own keys. Prints one JSON object. argv[1]: a process name to take first
(local mode intercepts by process name)."""

import ctypes
import json
import sys

if len(sys.argv) > 1:  # PR_SET_NAME: this thread's (the process's) name, as ps shows it
    ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)

import httpx
from openai import OpenAI

MESSAGES = [{"role": "user", "content": "hi"}]
answers = []
client = OpenAI(api_key="sk-openai-test", max_retries=0, timeout=20)
for model in ("gpt-5.5", "gpt-5-codex"):
    for stream in (False, True):
        try:
            if stream:
                chunks = client.chat.completions.create(model=model, messages=MESSAGES, stream=True)
                text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            else:
                completion = client.chat.completions.create(model=model, messages=MESSAGES)
                text = completion.choices[0].message.content or ""
        except Exception as exc:  # the test reads what failed
            text = f"ERROR {type(exc).__name__}: {exc}"
        answers.append(text)
others = []
openrouter = OpenAI(
    api_key="sk-or-v1-secret", base_url="https://openrouter.ai/api/v1", max_retries=0, timeout=10
)
try:
    openrouter.chat.completions.create(model="gpt-5.5", messages=MESSAGES)
    others.append("answered")
except Exception as exc:
    others.append(f"{type(exc).__name__}")
try:
    status = httpx.get(
        "https://api.anthropic.com/v1/models", headers={"x-api-key": "sk-ant-secret"}, timeout=10
    ).status_code
    others.append(str(status))
except Exception as exc:
    others.append(f"{type(exc).__name__}")
print(json.dumps({"answers": answers, "others": others}))
