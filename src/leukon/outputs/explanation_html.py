"""An explanation as a self-contained HTML fragment or page: inline CSS, no scripts, no external URLs.

Every piece of text is escaped, including the medicines a person typed.

>>> from leukon import assess
>>> from leukon.knowledge import explain
>>> frag = to_html(explain(assess(wbc=6.4, anc=3.6), medicines=["<b>x</b>"]))
>>> frag.startswith('<section class="leukon-explanation"'), "<b>x</b>" in frag, "&lt;b&gt;x&lt;/b&gt;" in frag
(True, False, True)
"""

from __future__ import annotations

from html import escape

from leukon.knowledge.model import Explanation, Section

#: Scoped to the fragment's class so it can sit inside the report or the web page unchanged.
CSS = """
.leukon-explanation{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.5;
  max-width:46rem;color:#1b1b1b}
.leukon-explanation h2{font-size:1.35rem;margin:0 0 .75rem}
.leukon-explanation h3{font-size:1.05rem;margin:1.25rem 0 .35rem}
.leukon-explanation p{margin:.35rem 0}
.leukon-explanation ul{margin:.35rem 0 .35rem 1.25rem;padding:0}
.leukon-explanation .lx-urgent{border:2px solid #b00020;background:#fdecee;padding:.5rem .9rem;
  border-radius:.4rem}
.leukon-explanation .lx-urgent h3{color:#b00020;margin-top:.25rem}
.leukon-explanation .lx-sources{font-size:.9rem;color:#444}
.leukon-explanation .lx-disclaimer{font-style:italic;border-top:1px solid #ccc;padding-top:.5rem}
""".strip()


def _section(s: Section) -> str:
    out = [f'<section class="lx-section lx-{escape(s.id)}" data-section="{escape(s.id)}">']
    out.append(f"<h3>{escape(s.title)}</h3>")
    out += [f"<p>{escape(p)}</p>" for p in s.paragraphs]
    if s.items:
        out.append("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in s.items) + "</ul>")
    out.append("</section>")
    return "\n".join(out)


def to_html(e: Explanation, *, css: bool = True) -> str:
    """The explanation as one <section> element, with its <style> unless ``css=False``."""
    attrs = f'class="leukon-explanation" data-audience="{escape(e.audience)}" data-pattern="{escape(e.pattern)}"'
    parts = [f"<section {attrs}>"]
    if css:
        parts.append(f"<style>{CSS}</style>")
    parts.append(f"<h2>{escape(e.headline)}</h2>")
    parts += [_section(s) for s in e.sections]
    parts.append("</section>")
    return "\n".join(parts)


def to_html_page(e: Explanation, *, title: str | None = None) -> str:
    """A complete, self-contained HTML page holding the fragment."""
    t = escape(title or f"leukon: {e.headline}")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8"/>\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1"/>\n'
        f"<title>{t}</title>\n</head>\n<body>\n{to_html(e)}\n</body>\n</html>\n"
    )
