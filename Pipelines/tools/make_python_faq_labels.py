#!/usr/bin/env python3
"""Writes Pipelines/python-faq-eval.labels.jsonl: one labelled question per Python FAQ entry.

A FAQ entry is a leaf <section> (one with no nested section) in faq/*.html; its heading is the question and
the section itself (`faq/page.html#section-id`) is the relevant answer. The pipeline drops these headings from
the indexed text, so retrieval must find the answer from its body. A section with nothing but its heading
(e.g. gui.html#general-gui-questions, a category with no entries of its own) has no answer and is skipped.

    python3 Pipelines/tools/make_python_faq_labels.py [/usr/share/doc/python3.11/html]
"""
import html.parser
import json
import pathlib
import sys


class LeafSections(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []          # open sections: [id, has_child_section, heading_text or None, has_body_text]
        self.heading = None      # collecting text of the current section's first heading
        self.skip = 0            # inside a headerlink anchor ("¶")
        self.entries = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            if self.stack:
                self.stack[-1][1] = True
            self.stack.append([attrs.get("id"), False, None, False])
        elif tag in ("h2", "h3", "h4") and self.stack and self.stack[-1][2] is None:
            self.heading = []
        elif tag == "a" and "headerlink" in (attrs.get("class") or ""):
            self.skip += 1

    def handle_endtag(self, tag):
        if tag == "section" and self.stack:
            section_id, has_child, heading, has_body = self.stack.pop()
            if not has_child and section_id and heading and has_body:
                self.entries.append((section_id, heading))
        elif tag in ("h2", "h3", "h4") and self.heading is not None:
            self.stack[-1][2] = " ".join("".join(self.heading).split())
            self.heading = None
        elif tag == "a" and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if self.heading is not None:
            if not self.skip:
                self.heading.append(data)
        elif self.stack and data.strip():
            self.stack[-1][3] = True


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/doc/python3.11/html")
    out = pathlib.Path(__file__).resolve().parent.parent / "python-faq-eval.labels.jsonl"
    lines = []
    for page in sorted((root / "faq").glob("*.html")):
        if page.name == "index.html":
            continue
        parser = LeafSections()
        parser.feed(page.read_text(encoding="utf-8"))
        doc_id = f"faq/{page.name}"
        for section_id, question in parser.entries:
            lines.append(json.dumps({"id": f"{page.stem}:{section_id}", "question": question,
                                     "relevant": [f"{doc_id}#{section_id}"]}, ensure_ascii=False))
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} questions to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
