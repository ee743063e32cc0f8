"""A small BEIR folder from the SQLite documentation (Debian sqlite3-doc), for SiftEval's reference test.

Corpus: the sections of a seeded random subset of /usr/share/doc/sqlite3/*.html pages, cut into passages of at
most MAX_TOKENS all-MiniLM-L6-v2 word pieces (special tokens included, counted on BEIR's embedding text
`title + " " + text`) at paragraph, then word, boundaries. `_id` = `<page>#<section-id>-<n>`, `title` = the page
title, `text` = the passage. Section headings are *not* in any passage text.
Queries: the heading text of sections (numbering removed) with 2–14 words, used once in the whole collection,
whose section has at least MIN_WORDS words; a seeded sample of at most MAX_QUERIES.
Qrels (qrels/test.tsv): grade 2 for the section's first passage, 1 for its later passages.
The reader drops what the Sift `sqlite` reader preset drops (menus, search box, tables of contents).

Writes Tests/Fixtures/eval/beir-mini/{corpus.jsonl,queries.jsonl,qrels/test.tsv}.
Run: /work/venv/bin/python Scripts/eval/make_beir_folder.py
"""
import html.parser
import json
import pathlib
import random
import re

from tokenizers import Tokenizer

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCE = pathlib.Path("/usr/share/doc/sqlite3")
OUT = ROOT / "Tests/Fixtures/eval/beir-mini"
TOKENIZER = ROOT / "Models/all-MiniLM-L6-v2/tokenizer.json"
SEED = 20261129
MAX_PASSAGES = 600
MAX_PAGE_PASSAGES = 60
MAX_QUERIES = 100
MAX_TOKENS = 128
MIN_WORDS = 25
# Release notes, indexes and site maps: lists of links, not prose with answerable sections.
EXCLUDED_PAGES = {"changes.html", "chronology.html", "doclist.html", "index.html", "sitemap.html", "keyword_index.html",
                  "toc.html", "docs.html", "news.html", "releaselog", "mostdeployed.html", "copyright-release.html"}
DROPPED_CLASSES = {"nosearch", "menu", "searchmenu", "fancy_toc", "fancy-toc", "fancy_toc_mark", "imgcontainer"}
SKIPPED_TAGS = {"script", "style", "head", "nav", "svg"}
BOUNDARIES = {"p", "div", "li", "pre", "tr", "td", "th", "dd", "dt", "blockquote", "table", "ul", "ol", "dl", "br",
              "h1", "h2", "h3", "h4", "h5", "h6", "center"}
VOID = {"br", "img", "hr", "meta", "link", "input", "wbr", "area", "col", "source"}


class Sections(html.parser.HTMLParser):
    """Splits a page into (section id, heading text, [paragraph texts]) at h1–h4 elements that carry an id."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []            # open elements: (tag, dropped?)
        self.title = []
        self.in_title = False
        self.heading = None        # [id, level, text parts] while inside a heading
        self.sections = [["", "", [[]]]]   # text before the first heading is kept under an empty id
        self.numbering = 0         # depth inside the heading's "<span>2.1. </span>" numbering

    def dropped(self):
        return bool(self.stack) and self.stack[-1][1]

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "title":
            self.in_title = True
        if tag in BOUNDARIES:
            self.sections[-1][2].append([])
        if tag in VOID:
            return
        classes = set((attrs.get("class") or "").split())
        drop = self.dropped() or tag in SKIPPED_TAGS or bool(classes & DROPPED_CLASSES) or attrs.get("id") == "mtimelink"
        if re.fullmatch(r"h[1-4]", tag) and attrs.get("id") and not drop:
            self.heading = [attrs["id"], int(tag[1]), []]
        elif tag == "span" and self.heading is not None and not self.heading[2]:
            self.numbering += 1
        self.stack.append((tag, drop))

    def handle_endtag(self, tag):
        if tag == "title":
            self.in_title = False
        if tag in VOID:
            return
        # Pop to the matching open element: HTML leaves <p>, <li>, <td> unclosed.
        if any(open_tag == tag for open_tag, _ in self.stack):
            while self.stack and self.stack.pop()[0] != tag:
                pass
        if self.heading is not None and tag == "span" and self.numbering:
            self.numbering -= 1
        elif self.heading is not None and re.fullmatch(r"h[1-4]", tag):
            section_id, _, parts = self.heading
            self.sections.append([section_id, " ".join("".join(parts).split()), [[]]])
            self.heading = None
        if tag in BOUNDARIES:
            self.sections[-1][2].append([])

    def handle_data(self, data):
        if self.in_title:
            self.title.append(data)
        elif self.heading is not None:
            if not self.numbering:
                self.heading[2].append(data)
        elif not self.dropped() and self.stack:
            self.sections[-1][2][-1].append(data)

    def result(self):
        title = " ".join("".join(self.title).split())
        out = []
        for section_id, heading, blocks in self.sections:
            paragraphs = [" ".join("".join(parts).split()) for parts in blocks]
            out.append((section_id, heading, [p for p in paragraphs if p]))
        return title, out


def passages(title, paragraphs, tokenizer):
    """Greedy packing of paragraphs (split at words when one alone is too long) under MAX_TOKENS."""
    def fits(text):
        return len(tokenizer.encode((title + " " + text).strip()).ids) <= MAX_TOKENS
    pieces = []
    for paragraph in paragraphs:
        if fits(paragraph):
            pieces.append(paragraph)
            continue
        words, current = paragraph.split(), []
        for word in words:
            if current and not fits(" ".join(current + [word])):
                pieces.append(" ".join(current))
                current = []
            current.append(word)
        if current:
            pieces.append(" ".join(current))
    packed, current = [], ""
    for piece in pieces:
        candidate = f"{current} {piece}".strip()
        if current and not fits(candidate):
            packed.append(current)
            candidate = piece
        current = candidate
    if current:
        packed.append(current)
    return [p for p in packed if fits(p)]  # a single word longer than the budget cannot be kept


def main():
    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    tokenizer.no_truncation()
    rng = random.Random(SEED)
    pages = sorted(p for p in SOURCE.glob("*.html") if p.name not in EXCLUDED_PAGES)
    rng.shuffle(pages)

    corpus, candidates, heading_uses = [], [], {}
    for page in pages:
        parser = Sections()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        title, sections = parser.result()
        page_passages, page_queries = [], []
        for section_id, heading, paragraphs in sections:
            texts = passages(title, paragraphs, tokenizer)
            ids = [f"{page.name}#{section_id or 'top'}-{n}" for n in range(len(texts))]
            page_passages += [{"_id": i, "title": title, "text": t} for i, t in zip(ids, texts)]
            words = heading.split()
            if heading and 2 <= len(words) <= 14 and sum(len(t.split()) for t in texts) >= MIN_WORDS:
                page_queries.append((heading, ids))
            if heading:
                heading_uses[heading.casefold()] = heading_uses.get(heading.casefold(), 0) + 1
        if not title or len(page_passages) < 3 or len(page_passages) > MAX_PAGE_PASSAGES:
            continue
        if len(corpus) + len(page_passages) > MAX_PASSAGES:
            continue
        corpus += page_passages
        candidates += page_queries
    candidates = [c for c in candidates if heading_uses[c[0].casefold()] == 1]
    chosen = sorted(rng.sample(candidates, min(MAX_QUERIES, len(candidates))), key=lambda c: c[1][0])

    (OUT / "qrels").mkdir(parents=True, exist_ok=True)
    with open(OUT / "corpus.jsonl", "w", encoding="utf-8") as f:
        for doc in corpus:
            f.write(json.dumps(doc, ensure_ascii=False) + "\n")
    with open(OUT / "queries.jsonl", "w", encoding="utf-8") as f, open(OUT / "qrels/test.tsv", "w") as q:
        q.write("query-id\tcorpus-id\tscore\n")
        for n, (heading, ids) in enumerate(chosen):
            qid = f"q{n + 1}"
            f.write(json.dumps({"_id": qid, "text": heading}, ensure_ascii=False) + "\n")
            for rank, doc_id in enumerate(ids):
                q.write(f"{qid}\t{doc_id}\t{2 if rank == 0 else 1}\n")
    size = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    lengths = sorted(len(tokenizer.encode((d["title"] + " " + d["text"]).strip()).ids) for d in corpus)
    print(f"{len(corpus)} passages from {len({d['_id'].split('#')[0] for d in corpus})} pages, {len(chosen)} queries, "
          f"{size} bytes; tokens per passage median {lengths[len(lengths) // 2]}, max {lengths[-1]}")


if __name__ == "__main__":
    main()
