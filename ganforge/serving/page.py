"""The HTML page of ``ganforge serve``: a sample grid and a form to pick class, count, seed
and truncation. Plain HTML; the only script is the "new seed" button."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from ganforge.artifacts.sampling import grid_columns
from ganforge.serving.query import MAX_SAMPLES, MIN_TRUNCATION, SampleQuery

#: the grid is shown at most this wide (CSS pixels), scaled up by a whole factor, at most 4.
DISPLAY_WIDTH = 760


@dataclass
class PageInfo:
    """What the page says about the model."""

    title: str
    details: str
    class_names: list[str]
    image_size: tuple[int, int] | None  # (height, width) of one sample, None for non-image data


def page_count(num_classes: int) -> int:
    """Samples the page shows when no count is asked for: full rows, four per class."""
    return min(MAX_SAMPLES, 4 * num_classes) if num_classes else 36


def render_page(info: PageInfo, query: SampleQuery | None, error: str | None = None) -> str:
    """The page for ``query`` (the form filled with it, and its grid), or for an error."""
    query = query or SampleQuery()
    return _PAGE.format(
        title=escape(info.title),
        details=escape(info.details),
        class_field=_class_field(info.class_names, query.label),
        n=query.n,
        max_n=MAX_SAMPLES,
        seed=query.seed,
        truncation="" if query.truncation is None else query.truncation,
        min_truncation=MIN_TRUNCATION,
        picture=f'<p class="error">{escape(error)}</p>' if error else _picture(info, query),
    )


def _class_field(class_names: list[str], label: int | None) -> str:
    if not class_names:
        return ""
    options = ['<option value="">every class</option>']
    for i, name in enumerate(class_names):
        selected = " selected" if i == label else ""
        options.append(f'<option value="{escape(name)}"{selected}>{i}: {escape(name)}</option>')
    return f'<label>class <select name="class">{"".join(options)}</select></label>'


def _picture(info: PageInfo, query: SampleQuery) -> str:
    src = escape(query.url("/sample"))
    caption = f"{query.n} samples, seed {query.seed}"
    if query.class_name is not None:
        caption += f", class {query.class_name}"
    elif info.class_names:
        caption += ", one class per column"
    if query.truncation is not None:
        caption += f", truncation {query.truncation}"
    size = ""
    if info.image_size:
        columns = grid_columns(query.n, len(info.class_names), query.label is not None)
        rows = -(-query.n // columns)
        height, width = info.image_size
        grid_w, grid_h = columns * (width + 2) + 2, rows * (height + 2) + 2
        scale = max(1, min(4, DISPLAY_WIDTH // grid_w))
        size = f' width="{grid_w * scale}" height="{grid_h * scale}"'
    return f'<figure><img src="{src}" alt="{escape(caption)}"{size}><figcaption>{escape(caption)}</figcaption></figure>'


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>{title} · ganforge</title>
<style>
  body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; background: #fafafa; }}
  h1 {{ font-size: 1.4rem; margin: 0 0 .2rem; }}
  .details {{ color: #666; margin: 0 0 1rem; font-size: .9rem; }}
  form {{ display: flex; flex-wrap: wrap; gap: 1rem; align-items: end; margin-bottom: 1rem; }}
  label {{ display: flex; flex-direction: column; font-size: .85rem; gap: .2rem; }}
  input, select, button {{ font-size: 1rem; padding: .25rem .4rem; }}
  input[type=number] {{ width: 7rem; }}
  img {{ image-rendering: pixelated; background: #000; }}
  figcaption {{ color: #666; font-size: .85rem; margin-top: .3rem; }}
  figure {{ margin: 0; }}
  .error {{ color: #b00020; font-weight: 600; }}
  footer {{ margin-top: 1rem; font-size: .8rem; color: #888; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p class="details">{details}</p>
<form method="get" action="/">
  {class_field}
  <label>count <input type="number" name="n" min="1" max="{max_n}" value="{n}"></label>
  <label>seed <input type="number" name="seed" min="0" value="{seed}" id="seed"></label>
  <label>truncation <input type="number" name="truncation" min="{min_truncation}" step="0.05" value="{truncation}" placeholder="off"></label>
  <button type="submit">Show</button>
  <button type="button" onclick="document.getElementById('seed').value = Math.floor(Math.random() * 1e9); this.form.submit();">New seed</button>
</form>
{picture}
<footer>JSON: <a href="/classes">/classes</a> · PNG: /sample?class=…&amp;n=16&amp;seed=3&amp;truncation=0.7</footer>
</body>
</html>
"""
