"""The bench report as one HTML file with nothing outside it: charts inlined as data URIs, no
script, no stylesheet or font fetched, so it can be mailed, attached or opened offline."""

from __future__ import annotations

import base64
from html import escape

STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: right; }
td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; display: block; margin: 1em 0; }
.note { color: #555; max-width: 50em; }
"""


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def report_html(
    title: str,
    notes: list[str],
    header: list[str],
    rows: list[list[str]],
    charts: list[tuple[str, bytes]],
) -> str:
    """``charts``: (caption, PNG bytes), in the order shown."""
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    figures = "".join(
        f'<h2>{escape(caption)}</h2><img alt="{escape(caption)}" src="{data_uri(png)}">'
        for caption, png in charts
    )
    paragraphs = "".join(f'<p class="note">{escape(note)}</p>' for note in notes)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>{paragraphs}"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{figures}"
        "</body></html>\n"
    )
