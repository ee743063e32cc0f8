/// The question page at `/`: static HTML, CSS and a little JavaScript, served by the binary (no build step, no
/// external file, no inline script, so the page runs under `default-src 'self'`).
///
/// `/?q=QUESTION` asks on load (a link to an answer list). Keyboard: `/` focuses the question, Enter asks, `j`/`k` move through the answers, `o` or Enter opens the selected
/// answer's source. Stage toggles map to the request's `bm25`, `dense` and `rerank` switches.
enum QuestionPage {
    static let html = """
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Sift</title>
    <link rel="stylesheet" href="/static/app.css">
    <script src="/static/app.js" defer></script>
    </head>
    <body>
    <header>
      <h1>Sift</h1>
      <p id="collection" class="muted">loading…</p>
    </header>
    <main>
      <form id="ask" autocomplete="off">
        <label for="question" class="visually-hidden">Question</label>
        <input id="question" name="question" type="search" placeholder="Ask a question (press / to focus)" required autofocus>
        <button type="submit">Ask</button>
        <fieldset class="stages">
          <legend class="visually-hidden">Stages</legend>
          <label><input type="checkbox" id="dense" checked> dense</label>
          <label><input type="checkbox" id="bm25" checked> BM25</label>
          <label><input type="checkbox" id="rerank"> re-rank</label>
          <label>answers <input type="number" id="top" min="1" max="50" value="5"></label>
        </fieldset>
        <p id="keyrow" hidden><label>API key <input id="apikey" type="password" autocomplete="off"></label></p>
      </form>
      <p id="status" role="status" aria-live="polite"></p>
      <ol id="answers"></ol>
      <p id="timings" class="muted"></p>
    </main>
    <footer class="muted">Keys: <kbd>/</kbd> question · <kbd>j</kbd>/<kbd>k</kbd> move · <kbd>o</kbd> open source ·
      API: <a href="/openapi.json">/openapi.json</a></footer>
    </body>
    </html>
    """

    static let style = """
    :root { --fg: #1d2327; --muted: #5f6b73; --line: #d8dee2; --accent: #0b62a4; --mark: #fff1a8; --sel: #eef5fb; }
    * { box-sizing: border-box; }
    body { font: 16px/1.5 system-ui, sans-serif; color: var(--fg); margin: 0 auto; max-width: 56rem; padding: 1rem 1.25rem 3rem; }
    header h1 { margin: 0; font-size: 1.6rem; }
    .muted { color: var(--muted); font-size: 0.9rem; }
    form { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; margin: 1rem 0; }
    #question { flex: 1 1 24rem; font-size: 1.05rem; padding: 0.55rem 0.7rem; border: 1px solid var(--line); border-radius: 6px; }
    button { font-size: 1rem; padding: 0.55rem 1.1rem; border: 0; border-radius: 6px; background: var(--accent); color: #fff; cursor: pointer; }
    .stages { border: 0; padding: 0; margin: 0; display: flex; gap: 1rem; flex-basis: 100%; }
    #top { width: 4rem; }
    #answers { padding-left: 1.5rem; }
    #answers li { padding: 0.6rem 0.75rem; border-radius: 6px; margin-bottom: 0.4rem; }
    #answers li.selected { background: var(--sel); outline: 2px solid var(--accent); }
    .source { font-weight: 600; }
    .path, .score { color: var(--muted); font-size: 0.88rem; }
    .snippet { margin: 0.25rem 0 0; }
    mark { background: var(--mark); padding: 0 0.1rem; }
    #status.error { color: #a11; }
    .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
    kbd { border: 1px solid var(--line); border-radius: 3px; padding: 0 0.25rem; font-size: 0.85rem; }
    """

    static let script = """
    "use strict";
    (function () {
      const $ = (id) => document.getElementById(id);
      let selected = -1;

      function headers() {
        const h = { "Content-Type": "application/json" };
        const key = sessionStorage.getItem("sift-key");
        if (key) h["Authorization"] = "Bearer " + key;
        return h;
      }

      async function loadInfo() {
        const reply = await fetch("/v1/info", { headers: headers() });
        if (reply.status === 401) { $("keyrow").hidden = false; $("collection").textContent = "enter an API key"; return; }
        const info = await reply.json();
        $("collection").textContent = info.pipeline + " · " + info.index.documents + " documents, " + info.index.chunks +
          " passages · index generation " + info.index.generation;
        $("dense").checked = info.stages.dense; $("bm25").checked = info.stages.bm25;
        $("rerank").checked = info.stages.rerank; $("rerank").disabled = !info.reranker;
        $("top").value = info.answers_top_k; $("top").max = info.top_k_range[1];
      }

      // Offsets in the reply count Unicode scalars; Array.from splits a string the same way. The heading path the
      // chunker put in front of the text is shown on its own line, so the snippet starts after it, and context
      // around the best sentence is cut at word boundaries.
      function snippet(answer) {
        const chars = Array.from(answer.text);
        const prefix = Array.from(answer.heading_path.join(" > "));
        const body = prefix.length > 0 && answer.text.startsWith(answer.heading_path.join(" > ")) ? prefix.length : 0;
        const span = answer.highlight || [body, body];
        let start = Math.max(body, span[0] - 160), end = Math.min(chars.length, span[1] + 160);
        while (start > body && start < span[0] && !/\\s/.test(chars[start - 1])) start++;
        while (end < chars.length && end > span[1] && !/\\s/.test(chars[end])) end--;
        while (start < span[0] && /\\s/.test(chars[start])) start++;
        const p = document.createElement("p");
        p.className = "snippet";
        p.append((start > body ? "…" : "") + chars.slice(start, span[0]).join(""));
        if (span[1] > span[0]) {
          const mark = document.createElement("mark");
          mark.textContent = chars.slice(span[0], span[1]).join("");
          p.append(mark);
        }
        p.append(chars.slice(Math.max(span[1], start), end).join("") + (end < chars.length ? "…" : ""));
        return p;
      }

      function render(record) {
        const list = $("answers");
        list.replaceChildren();
        selected = -1;
        for (const answer of record.answers) {
          const li = document.createElement("li");
          li.dataset.rank = answer.rank;
          const link = document.createElement("a");
          link.className = "source";
          link.href = "/source/" + answer.source.split("#")[0].split("/").map(encodeURIComponent).join("/") +
            (answer.anchor ? "#" + encodeURIComponent(answer.anchor) : "");
          link.textContent = answer.source;
          const score = document.createElement("span");
          score.className = "score";
          score.textContent = "  " + (answer.rerank_score !== undefined && answer.rerank_score !== null
            ? "re-rank " + answer.rerank_score.toFixed(3) + " · " : "") + "retrieval " + answer.retrieval_score.toFixed(4);
          const path = document.createElement("div");
          path.className = "path";
          path.textContent = answer.heading_path.join(" › ");
          li.append(link, score, path, snippet(answer));
          list.append(li);
        }
        if (record.answers.length === 0) $("status").textContent = "No answers found.";
        const parts = Object.entries(record.timings_ms).map(([stage, ms]) => stage + " " + ms.toFixed(1) + " ms");
        $("timings").textContent = "stages: " + record.stages.join(", ") + (record.stages_off.length ? " · off: " +
          record.stages_off.join(", ") : "") + " · " + parts.join(", ");
      }

      async function ask(event) {
        event.preventDefault();
        const key = $("apikey").value.trim();
        if (key) sessionStorage.setItem("sift-key", key);
        const body = { question: $("question").value, top_k: Number($("top").value),
          dense: $("dense").checked, bm25: $("bm25").checked };
        if (!$("rerank").disabled) body.rerank = $("rerank").checked;
        $("status").className = ""; $("status").textContent = "Asking…";
        try {
          const reply = await fetch("/v1/ask", { method: "POST", headers: headers(), body: JSON.stringify(body) });
          const data = await reply.json();
          if (!reply.ok) {
            $("status").className = "error";
            $("status").textContent = data.error + (data.field ? " (" + data.field + ")" : "");
            if (reply.status === 401) $("keyrow").hidden = false;
            return;
          }
          $("status").textContent = data.answers.length + " answers";
          history.replaceState(null, "", "/?q=" + encodeURIComponent(body.question));
          render(data);
          if (!$("collection").textContent.includes("·")) loadInfo();
        } catch (error) {
          $("status").className = "error"; $("status").textContent = "The server did not answer: " + error;
        }
      }

      function select(index) {
        const items = $("answers").children;
        if (items.length === 0) return;
        selected = Math.max(0, Math.min(items.length - 1, index));
        for (let i = 0; i < items.length; i++) items[i].classList.toggle("selected", i === selected);
        items[selected].scrollIntoView({ block: "nearest" });
      }

      document.addEventListener("keydown", (event) => {
        if (event.target.tagName === "INPUT") {
          if (event.key === "Escape") event.target.blur();
          return;
        }
        if (event.key === "/") { event.preventDefault(); $("question").focus(); $("question").select(); }
        else if (event.key === "j") select(selected + 1);
        else if (event.key === "k") select(selected - 1);
        else if ((event.key === "o" || event.key === "Enter") && selected >= 0) {
          $("answers").children[selected].querySelector("a").click();
        }
      });

      document.addEventListener("DOMContentLoaded", () => {
        $("ask").addEventListener("submit", ask);
        const asked = new URLSearchParams(location.search).get("q");
        loadInfo().catch((error) => { $("collection").textContent = "cannot reach the server: " + error; })
          .finally(() => { if (asked) { $("question").value = asked; $("ask").requestSubmit(); } });
      });
    })();
    """
}
