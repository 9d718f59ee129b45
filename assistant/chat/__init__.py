"""A chat: what the model is told (``prompting``), the tool loop (``loop``) and what it says as
it works (``events``), tool calls written as text (``textcalls``), an answer's citations and
sources (``citations``), the answer without a model (``fallback``), and what one turn is, from
the request to the stored answer (``turn``). Knows no HTTP: ``api/`` speaks it."""
