"""The reference Python example (seeds/004), run as written; only BASE_URL, the model and
repo_path are adapted (from the environment)."""

import json
import os

import requests

BASE_URL = os.environ["CHAT_BASE_URL"]

# Check health
health = requests.get(f"{BASE_URL}/health").json()
print(f"Status: {health['data']['status']}")

# List models
models = requests.get(f"{BASE_URL}/models").json()
print(f"Available models: {[m['name'] for m in models['data']['models']]}")

# Chat with streaming
response = requests.post(
    f"{BASE_URL}/chat/completions",
    json={
        "model": os.environ["CHAT_MODEL"],
        "messages": [{"role": "user", "content": "Explain this codebase"}],
        "repo_path": os.environ["CHAT_REPO_PATH"],
    },
    stream=True,
)

for line in response.iter_lines():
    if line.startswith(b"data: ") and line != b"data: [DONE]":
        event = json.loads(line[6:])
        content = event.get("choices", [{}])[0].get("delta", {}).get("content", "")
        if content:
            print(content, end="", flush=True)
