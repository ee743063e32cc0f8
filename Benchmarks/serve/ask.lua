-- wrk script: POST /v1/ask, cycling through the handbook's 25 questions (Corpora/handbook/questions.txt).
-- Extra request fields come from the SIFT_ASK_FIELDS environment variable, e.g. '"rerank": true'.
local questions = {
  "How do I make a shell script executable only for its owner?",
  "What permissions should an SSH private key file have?",
  "Why does 2>&1 have to come after the output redirection?",
  "How can I make a pipeline fail when any command in it fails?",
  "How do I count how often each line occurs in a file, most frequent first?",
  "What does exit status 137 mean?",
  "What is the difference between SIGTERM and SIGKILL?",
  "Why can't a program change the environment variables of the shell that started it?",
  "How do I combine my last three commits into one?",
  "I ran git reset --hard by accident; how do I get my commits back?",
  "When should I not rebase a branch?",
  "What is a fast-forward merge?",
  "How do I stop tracking a file that is already committed but should be ignored?",
  "How can Git find the commit that introduced a bug automatically?",
  "Is PUT idempotent, and how is it different from POST?",
  "What is the difference between 401 and 403?",
  "Which redirect status keeps the request method when following it?",
  "Does Cache-Control no-cache mean the response is never cached?",
  "How does a browser check whether its cached copy is still valid?",
  "What does the SameSite cookie attribute do?",
  "How do I make curl return an error exit code on HTTP 404?",
  "Why are my SQLite foreign key constraints not enforced?",
  "Why is inserting many rows into SQLite so slow?",
  "How do I see whether SQLite uses an index for my query?",
  "How do I rank full-text search results by relevance in SQLite?"
}
local extra = os.getenv("SIFT_ASK_FIELDS") or ""
local counter = 0
request = function()
  counter = counter + 1
  local q = questions[(counter % #questions) + 1]
  local body = '{"question": "' .. q .. '"' .. (extra ~= "" and (", " .. extra) or "") .. '}'
  return wrk.format("POST", "/v1/ask", { ["Content-Type"] = "application/json" }, body)
end
local errors = 0
response = function(status, headers, body)
  if status ~= 200 then errors = errors + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("JSON {\"requests\": %d, \"seconds\": %.3f, \"rps\": %.1f, \"p50_ms\": %.2f, \"p90_ms\": %.2f, \"p99_ms\": %.2f, \"non2xx\": %d, \"socket_errors\": %d}\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
