"""The frame every HTML page of the exporter shares: styles, header with links, language switch,
self-refresh. Plain server-rendered HTML with a few lines of inline script; no build step."""

from __future__ import annotations

import html
from collections.abc import Mapping
from urllib.parse import urlencode

from aiohttp import web

from exporter import __version__
from exporter.web.i18n import LANGUAGES, Words, remember

CSS = """
:root{--ok:#1a7f37;--ok-bg:#dafbe1;--bad:#b42318;--bad-bg:#fee4e2;--warn:#9a6700;--warn-bg:#fff8c5;
--muted:#57606a;--line:#d0d7de;--panel:#f6f8fa}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","DejaVu Sans",sans-serif;
margin:0;color:#1f2328;background:#fff;font-size:15px;line-height:1.4}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.5em 1.5em;padding:.7em 1.5em;
background:#24292f;color:#fff}
header h1{font-size:1.25em;margin:0}
header a{color:#e6edf3}
header nav{display:flex;flex-wrap:wrap;gap:.3em 1em;flex:1}
.lang a,.lang strong{padding:.1em .45em;border-radius:4px}
.lang strong{background:#e6edf3;color:#24292f}
main{padding:1em 1.5em;max-width:1400px}
h2{font-size:1.1em;margin:1.4em 0 .5em;border-bottom:1px solid var(--line);padding-bottom:.2em}
table{border-collapse:collapse;width:100%}
td,th{padding:.3em .7em;text-align:left;vertical-align:top;border-bottom:1px solid var(--line)}
th{background:var(--panel);font-weight:600}
tr.ok td:nth-child(4){color:var(--ok);font-weight:600}
tr.failing td:nth-child(4){color:var(--bad);font-weight:600}
tr.failing{background:var(--bad-bg)}
tr.pending td:nth-child(4),tr.running td:nth-child(4){color:var(--warn)}
.badge{display:inline-block;padding:.05em .5em;border-radius:1em;font-size:.9em;font-weight:600;
white-space:nowrap}
.good{background:var(--ok-bg);color:var(--ok)}
.bad{background:var(--bad-bg);color:var(--bad)}
.warn{background:var(--warn-bg);color:var(--warn)}
.none{background:var(--panel);color:var(--muted)}
.tiles{display:flex;flex-wrap:wrap;gap:1em}
.tile{border:1px solid var(--line);border-radius:8px;padding:.7em 1em;min-width:15em;background:var(--panel)}
.tile h3{margin:0 0 .3em;font-size:1em}
.tile .big{font-size:1.8em;font-weight:700}
.tile ul{list-style:none;margin:.3em 0 0;padding:0}
.notes{color:var(--muted);font-size:.9em}
.notes p{margin:.2em 0}
form.search{display:flex;gap:.5em;margin:1em 0}
form.search input{flex:1;max-width:40em;font-size:1em;padding:.4em .6em;border:1px solid var(--line);
border-radius:6px}
form.search button{font-size:1em;padding:.4em 1em;border-radius:6px;border:1px solid var(--line);
background:var(--panel);cursor:pointer}
.cameras{display:grid;grid-template-columns:repeat(auto-fill,minmax(26em,1fr));gap:1em}
.camera{border:1px solid var(--line);border-radius:8px;padding:.8em 1em}
.camera h3{margin:0 0 .4em;font-size:1.05em}
.camera dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em .8em;margin:0}
.camera dt{color:var(--muted)}
.camera dd{margin:0;min-width:0}
img.thumb{max-width:min(240px,100%);max-height:135px;border-radius:4px;border:1px solid var(--line);
display:block}
table.evidence td:first-child{width:260px}
ul.problems{columns:2 28em;padding-left:1.2em}
ul.problems li{break-inside:avoid;margin:.1em 0}
footer{padding:1em 1.5em;color:var(--muted);font-size:.85em}
"""

# reload the page every `seconds`, unless the visitor is typing a search
REFRESH_SCRIPT = """<script>
(function(){{var box=document.getElementById("q");
function tick(){{if(box&&document.activeElement===box&&box.value!==box.defaultValue){{
setTimeout(tick,5000);return;}}location.reload();}}
setTimeout(tick,{ms});}})();
</script>"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def here(request: web.Request, **changes: str) -> str:
    """This page's relative URL with some query parameters changed."""
    query = dict(request.query)
    query.update(changes)
    return "?" + urlencode(query)


def lang_switch(request: web.Request, words: Words) -> str:
    parts = []
    for lang in LANGUAGES:
        label = lang.upper()
        if lang == words.lang:
            parts.append(f"<strong>{label}</strong>")
        else:
            parts.append(f'<a href="{esc(here(request, lang=lang))}" hreflang="{lang}">{label}</a>')
    return f'<span class="lang">{" ".join(parts)}</span>'


def render(
    request: web.Request,
    words: Words,
    *,
    title: str,
    body: str,
    nav: list[tuple[str, str]],
    refresh: int,
    set_cookie: bool,
    footer: str = "",
) -> web.Response:
    links = "".join(f'<a href="{esc(href)}">{esc(text)}</a>' for href, text in nav)
    page = f"""<!doctype html>
<html lang="{words.lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{esc(title)}</title><style>{CSS}</style>
<noscript><meta http-equiv="refresh" content="{refresh}"></noscript></head>
<body><header><h1>Vigil</h1><nav>{links}</nav>{lang_switch(request, words)}</header>
<main>{body}</main>
<footer>{footer} {esc(words.t("version"))} {esc(__version__)}</footer>
{REFRESH_SCRIPT.format(ms=refresh * 1000)}
</body></html>
"""
    response = web.Response(text=page, content_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    if set_cookie:
        remember(response, words.lang)
    return response


def nav_links(app_links: Mapping[str, str], words: Words, extra: list[tuple[str, str]]) -> list:
    return extra + [(href, words.t(key)) for key, href in app_links.items()]
