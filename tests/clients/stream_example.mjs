// The reference JavaScript streaming example (seeds/004), run as written;
// only its URL, model and repo_path are adapted (from the environment).
const response = await fetch(process.env.CHAT_URL, {
method: 'POST',
headers: { 'Content-Type': 'application/json' },
body: JSON.stringify({
model: process.env.CHAT_MODEL,
messages: [{ role: 'user', content: 'Explain the main function' }],
repo_path: process.env.CHAT_REPO_PATH
})
});
const reader = response.body.getReader();
const decoder = new TextDecoder();
while (true) {
const { done, value } = await reader.read();
if (done) break;
const chunk = decoder.decode(value);
const lines = chunk.split('\n');
for (const line of lines) {
if (line.startsWith('data: ') && line !== 'data: [DONE]') {
const event = JSON.parse(line.slice(6));
if (event.choices?.[0]?.delta?.content) {
process.stdout.write(event.choices[0].delta.content);
}
}
}
}
