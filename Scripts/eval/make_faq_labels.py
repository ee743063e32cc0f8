"""Python FAQ labels for SiftEval's tests, plus an audit that the evaluation is not trivial.

Labels: every leaf <section> of faq/*.html (Debian python3.11-doc) is a question (its h2/h3/h4 heading) whose
answer is that section, `faq/<page>.html#<section-id>`. The parsing is Pipelines/tools/make_python_faq_labels.py's
(imported, not copied), so the fixture and Pipelines/python-faq-eval.labels.jsonl agree line for line.

How the pipeline keeps the question text out of the index (Pipelines/python-faq-eval.yaml):
  - reader preset `sphinx` reads div.body and drops sidebars, relbars, "¶" links; `nav` (the page's local
    table of contents, which lists every question) is always skipped by the reader;
  - reader drop rule `//section[not(.//section)]/*[self::h2 or self::h3 or self::h4]` removes each leaf
    section's heading, i.e. the question itself. The section's `id` still gives the blocks their anchor;
  - heading_prefix may stay on: the remaining heading path holds only the page and category headings.
This script checks those rules on the HTML: it prints how many questions still occur verbatim (case-folded,
whitespace-normalised) in the kept text of their page, and how many answer sections contain inner `id`
targets (a reader that uses the *nearest preceding* id as a block's anchor would then label later blocks of
that answer with the inner id, and the label `page#section-id` would not match them).

Writes Tests/Fixtures/eval/python_faq_labels.jsonl.
Run: /work/venv/bin/python Scripts/eval/make_faq_labels.py [/usr/share/doc/python3.11/html]
"""
import html.parser
import importlib.util
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests/Fixtures/eval/python_faq_labels.jsonl"
SKIPPED = {"nav", "script", "style"}


def pipeline_parser():
    spec = importlib.util.spec_from_file_location("faq_labels", ROOT / "Pipelines/tools/make_python_faq_labels.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.LeafSections


class KeptText(html.parser.HTMLParser):
    """Text of div.body after the eval pipeline's drops, and the inner ids of each section."""

    def __init__(self, leaf_ids):
        super().__init__(convert_charrefs=True)
        self.leaf_ids = leaf_ids
        self.stack = []        # open elements: (tag, dropped, is div.body)
        self.sections = []     # open section ids
        self.in_body = 0
        self.text = []
        self.inner_ids = {}    # section id -> ids of descendants

    def handle_starttag(self, tag, attrs):
        if tag in ("br", "img", "hr", "meta", "link", "input", "wbr"):
            return
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        dropped = bool(self.stack and self.stack[-1][1]) or tag in SKIPPED or "headerlink" in classes
        if tag in ("h2", "h3", "h4") and self.sections and self.sections[-1] in self.leaf_ids:
            dropped = True
        is_body = tag == "div" and "body" in classes
        self.in_body += is_body
        if tag == "section":
            self.sections.append(attrs.get("id"))
        elif attrs.get("id") and self.sections and not dropped:
            self.inner_ids.setdefault(self.sections[-1], []).append(attrs["id"])
        self.stack.append((tag, dropped, is_body))

    def handle_endtag(self, tag):
        while self.stack:
            open_tag, _, is_body = self.stack.pop()
            self.in_body -= is_body
            if open_tag == "section" and self.sections:
                self.sections.pop()
            if open_tag == tag:
                break

    def handle_data(self, data):
        if self.in_body and not (self.stack and self.stack[-1][1]):
            self.text.append(data)


def normalise(text):
    return " ".join(text.split()).casefold()


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/doc/python3.11/html")
    LeafSections = pipeline_parser()
    lines, leaked, with_inner_ids = [], [], []
    for page in sorted((root / "faq").glob("*.html")):
        if page.name == "index.html":
            continue
        source = page.read_text(encoding="utf-8")
        parser = LeafSections()
        parser.feed(source)
        kept = KeptText({section_id for section_id, _ in parser.entries})
        kept.feed(source)
        kept_text = normalise(" ".join(kept.text))
        for section_id, question in parser.entries:
            lines.append(json.dumps({"id": f"{page.stem}:{section_id}", "question": question,
                                     "relevant": [f"faq/{page.name}#{section_id}"]}, ensure_ascii=False))
            if normalise(question) in kept_text:
                leaked.append(f"faq/{page.name}#{section_id}")
            if kept.inner_ids.get(section_id):
                with_inner_ids.append((f"faq/{page.name}#{section_id}", kept.inner_ids[section_id]))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} questions to {OUT}")
    print(f"questions still found verbatim in their page's kept text: {len(leaked)}")
    for target in leaked:
        print(f"  {target}")
    print(f"answer sections with inner id targets: {len(with_inner_ids)}")
    for target, ids in with_inner_ids:
        print(f"  {target}: {', '.join(ids[:5])}")


if __name__ == "__main__":
    main()
