"""The contract report as one self-contained HTML page, for a person to look at.

:func:`render` turns a report document (``schemas/contract-report.schema.json``, as
:meth:`~apollo_fake.report.Coverage.document` makes it) into a page that shows what
the document holds and nothing else: the verdict and totals, the coverage as a grid
of the eleven calls against their checks (outcomes, fields, report parameters,
continued-at), each kind of violation with its rule and first request, and the
untested list. ``apollo-fake run --html``, ``serve --html`` and
``GET /_fake/report.html`` serve it; the inspector page shows it in a frame.

The page needs nothing else: its style is inline, it has no script, and its
Content-Security-Policy forbids fetching anything, so that it can be opened from a
CI artifact, mailed, printed or shown through ``srcdoc``. Every value a client chose
(paths, messages, field names) is escaped. Plain Python: no Flask, no HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from . import report

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

# The groups of the grid's columns, in order: a check's kind, and its heading.
GROUPS = (
    ("status", "Outcomes (status)"),
    ("continued-at", "Paging"),
    ("field", "Fields sent"),
    ("parameter", "Report parameters"),
)

STYLE = """
:root {
  color-scheme: light dark;
  --bg: #fff; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --panel: #f6f8fa;
  --ok: #1a7f37; --ok-bg: #dafbe1; --bad: #cf222e; --bad-bg: #ffebe9;
  --warn: #9a6700; --warn-bg: #fff8c5;
  --s1: #d2f4db; --s2: #96e2aa; --s3: #4ac26b; --s3-fg: #04260f;
  --unseen: #fff1e5; --unseen-fg: #8a4600; --na: #eaeef2; --na-fg: #6e7781;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #3d444d; --panel: #151b23;
    --ok: #3fb950; --ok-bg: #12261e; --bad: #f85149; --bad-bg: #2d1214;
    --warn: #d29922; --warn-bg: #272115;
    --s1: #11331e; --s2: #1a5a2e; --s3: #2e8b46; --s3-fg: #f0fff4;
    --unseen: #33230f; --unseen-fg: #f0b072; --na: #1d232b; --na-fg: #7d8590;
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body {
  margin: 0; padding: 1rem; background: var(--bg); color: var(--fg);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  overflow-wrap: anywhere;
}
main { max-width: 88rem; margin: 0 auto; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; padding-bottom: .25rem;
     border-bottom: 1px solid var(--line); }
p { margin: .4rem 0; }
code, .path { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
              font-size: .92em; }
.muted { color: var(--muted); }
.sr { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0;
      overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
.verdict { display: inline-block; margin: .5rem 0; padding: .45rem .8rem; border-radius: 6px;
           font-weight: 600; border: 1px solid currentColor; }
.verdict.pass { color: var(--ok); background: var(--ok-bg); }
.verdict.fail { color: var(--bad); background: var(--bad-bg); }
.verdict.empty { color: var(--warn); background: var(--warn-bg); }
.totals { display: grid; grid-template-columns: repeat(auto-fill, minmax(10.5rem, 1fr));
          gap: .6rem; margin: 1rem 0 0; }
.totals div { background: var(--panel); border: 1px solid var(--line); border-radius: 6px;
              padding: .5rem .7rem; }
.totals dt { font-size: .85rem; color: var(--muted); }
.totals dd { margin: 0; font-size: 1.35rem; font-weight: 600; }
.totals dd small { font-size: .8rem; font-weight: 400; color: var(--muted); }
.totals .bad dd { color: var(--bad); }
progress { display: block; width: 100%; height: .5rem; margin-top: .3rem; accent-color: var(--ok); }
.legend { display: flex; flex-wrap: wrap; gap: .4rem 1rem; margin: .5rem 0; padding: 0;
          list-style: none; font-size: .85rem; }
.legend span { display: inline-block; min-width: 2.6rem; padding: 0 .3rem; margin-right: .3rem;
               text-align: center; border: 1px solid var(--line); border-radius: 3px; }
.scroll { position: relative; max-width: 100%; overflow-x: auto;
          border: 1px solid var(--line); border-radius: 6px; }
.scroll:focus { outline: 2px solid var(--ok); outline-offset: 2px; }
table.grid { border-collapse: separate; border-spacing: 0; font-size: .8rem; width: 100%; }
.grid th, .grid td { border-bottom: 1px solid var(--line); border-right: 1px solid var(--line);
                     padding: .25rem .3rem; }
.grid thead th { background: var(--panel); font-weight: 600; vertical-align: bottom; }
.grid thead tr:first-child th { text-align: center; white-space: nowrap; }
.grid th.check { padding: .4rem .15rem; }
.grid th.check span { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap;
                      font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
                      font-weight: 500; }
.grid tbody th { text-align: left; font-weight: 400; white-space: nowrap;
                 position: sticky; left: 0; z-index: 1; background: var(--bg); }
.grid thead th.call { position: sticky; left: 0; z-index: 2; text-align: left; }
.grid .method { font-weight: 700; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
.grid .title, .grid .answers { display: block; color: var(--muted); font-size: .95em; }
.grid td { text-align: center; white-space: nowrap; min-width: 1.8rem; padding: .2rem .1rem;
           font-variant-numeric: tabular-nums; }
.grid td.num { text-align: right; }
.grid td.num.bad { color: var(--bad); font-weight: 700; }
.grid td small { display: block; font-size: .85em; color: var(--muted); }
.seen { background: var(--s1); }
.seen.s2 { background: var(--s2); }
.seen.s3 { background: var(--s3); color: var(--s3-fg); }
.seen.s3 small { color: inherit; }
.unseen { background: var(--unseen); color: var(--unseen-fg); }
.na { background: var(--na); color: var(--na-fg); font-size: .9em;
      background-image: repeating-linear-gradient(135deg, transparent 0 5px,
                                                  rgba(127, 127, 127, .14) 5px 6px); }
.na abbr { text-decoration: none; }
.violation { border: 1px solid var(--line); border-left: 4px solid var(--bad); border-radius: 6px;
             padding: .6rem .8rem; margin: .7rem 0; background: var(--panel); }
.violation h3 { margin: 0 0 .35rem; font-size: 1rem; }
.violation h3 .status { color: var(--bad); }
.violation dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem .8rem;
                margin: 0; }
.violation dt { color: var(--muted); }
.violation dd { margin: 0; min-width: 0; }
.untested li { margin: .2rem 0; }
footer { margin-top: 2rem; font-size: .8rem; color: var(--muted); }
@media (max-width: 40rem) {
  body { padding: .6rem; font-size: 14px; }
  .violation dl { grid-template-columns: 1fr; }
  .violation dt { margin-top: .3rem; }
  .grid tbody th { white-space: normal; min-width: 9.5rem; max-width: 11rem; }
  .grid .path { font-size: .85em; }
}
@media print {
  @page { size: landscape; margin: 10mm; }
  :root {
    color-scheme: light;
    --bg: #fff; --fg: #000; --muted: #444; --line: #999; --panel: #fff;
    --ok: #1a7f37; --ok-bg: #fff; --bad: #a40e26; --bad-bg: #fff; --warn: #7a5200;
    --warn-bg: #fff; --s1: #e6f6ea; --s2: #bfe8c9; --s3: #8fd19e; --s3-fg: #000;
    --unseen: #fff; --unseen-fg: #000; --na: #eee; --na-fg: #444;
  }
  body { padding: 0; font-size: 9pt; }
  main { max-width: none; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .scroll { overflow: visible; border: 0; }
  table.grid { font-size: 7.5pt; }
  .grid td { min-width: 1.5rem; padding: .1rem; }
  .grid th.check { padding: .2rem 0; }
  .grid tbody th { position: static; }
  .grid thead th.call { position: static; }
  .grid thead { display: table-header-group; }
  .grid tr, .violation, .totals div { break-inside: avoid; }
  h2 { break-after: avoid; }
  progress { display: none; }
}
"""


def _e(value: Any) -> str:
    """Escape a value for HTML text or a quoted attribute."""
    return escape(str(value), quote=True)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def _columns(calls: Iterable[Mapping[str, Any]]) -> list[tuple[str, list[str]]]:
    """Return the grid's column groups: each kind of check, with the union of its names.

    Statuses are in numeric order; fields and parameters in the order the calls
    list them (the contract's order).
    """
    names: dict[str, list[str]] = {kind: [] for kind, _ in GROUPS}
    for call in calls:
        for check in call["checks"]:
            found = names.setdefault(check["kind"], [])
            if check["name"] not in found:
                found.append(check["name"])
    names["status"].sort(key=int)
    return [(kind, names[kind]) for kind, _ in GROUPS if names[kind]]


def _level(count: int) -> str:
    """Name the heat of a seen cell: s1 for once, s2 for under 10, s3 for 10 or more."""
    return "s1" if count == 1 else "s2" if count < 10 else "s3"


def _cell(call: str, kind: str, name: str, check: Mapping[str, Any] | None, field: str = "") -> str:
    """Render one cell of the grid: seen (with its heat), unseen, or n/a."""
    where = f'data-call="{_e(call)}" data-check="{_e(kind)}:{_e(name)}"'
    if field:
        where += f' data-field="{_e(field)}"'
    if check is None:
        return (
            f'<td class="na" {where}><abbr title="does not apply to this call">n/a</abbr>'
            '<span class="sr"> (does not apply)</span></td>'
        )
    seen = int(check["seen"])
    extra = ""
    if "offered" in check:
        extra = f"<small>{int(check['offered'])} offered</small>"
    if seen:
        return (
            f'<td class="seen {_level(seen)}" {where} data-count="{seen}">'
            f'<span aria-hidden="true">✓ </span><span class="sr">seen </span>{seen}{extra}</td>'
        )
    return (
        f'<td class="unseen" {where} data-count="0">'
        f'<span aria-hidden="true">✗ </span><span class="sr">unseen </span>0{extra}</td>'
    )


def _grid(doc: Mapping[str, Any]) -> list[str]:
    calls = doc["calls"]
    groups = _columns(calls)
    titles = dict(GROUPS)
    out = [
        '<div class="scroll" role="region" aria-labelledby="coverage" tabindex="0">',
        '<table class="grid">',
        '<caption class="sr">Each call of the contract against its checks: how many '
        "requests did each; n/a where a check does not apply to the call</caption>",
        '<colgroup><col></colgroup><colgroup span="4"></colgroup>',
    ]
    out += [f'<colgroup span="{len(names)}"></colgroup>' for _, names in groups]
    out.append("<thead><tr>")
    out.append('<th scope="col" rowspan="2" class="call">Call</th>')
    out.append('<th scope="colgroup" colspan="4">Requests</th>')
    for kind, names in groups:
        out.append(f'<th scope="colgroup" colspan="{len(names)}">{_e(titles[kind])}</th>')
    out.append("</tr><tr>")
    for label in ("all", "succeeded", "injected", "violating"):
        out.append(f'<th scope="col" class="check"><span>{label}</span></th>')
    for _, names in groups:
        out += [f'<th scope="col" class="check"><span>{_e(n)}</span></th>' for n in names]
    out.append("</tr></thead><tbody>")
    for call in calls:
        name = call["name"]
        answers = ", ".join(f"{_e(s)} ×{int(n)}" for s, n in call["statuses"].items())
        out.append(f'<tr data-call="{_e(name)}">')
        out.append(
            f'<th scope="row"><span class="method">{_e(call["method"])}</span> '
            f'<span class="path">{_e(call["path"])}</span>'
            f'<span class="title">{_e(call["title"])}</span>'
            f'<span class="answers">{"answered " + answers if answers else "never called"}'
            "</span></th>"
        )
        out.append(f'<td class="num" data-field="requests">{int(call["requests"])}</td>')
        # A call counts as a check once it succeeded: its cell is seen or unseen too.
        done = {"kind": "call", "name": name, "seen": call["succeeded"]}
        out.append(_cell(name, "call", "succeeded", done, field="succeeded"))
        out.append(f'<td class="num" data-field="injected">{int(call["injected"])}</td>')
        violating = int(call["violating"])
        bad = " bad" if violating else ""
        out.append(f'<td class="num{bad}" data-field="violating">{violating}</td>')
        checks = {(c["kind"], c["name"]): c for c in call["checks"]}
        for kind, names in groups:
            out += [_cell(name, kind, n, checks.get((kind, n))) for n in names]
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return out


def _verdict(doc: Mapping[str, Any]) -> tuple[str, str]:
    """Return the verdict's class and sentence."""
    requests = int(doc["requests"])
    violating = int(doc["violating-requests"])
    if report.failed(doc):
        return "fail", (
            f"Broke the contract: {violating} of {_plural(requests, 'request')} violated it"
        )
    if not requests:
        return "empty", "No request reached the Apollo calls: nothing was checked"
    return "pass", f"Kept the contract: none of the {_plural(requests, 'request')} broke it"


def _totals(doc: Mapping[str, Any]) -> list[str]:
    cov = doc["coverage"]
    checks = cov["checks"]

    def tile(key: str, label: str, value: str, bad: bool = False, more: str = "") -> str:
        cls = ' class="bad"' if bad else ""
        return f'<div{cls} data-total="{key}"><dt>{label}</dt><dd>{value}{more}</dd></div>'

    percent = f"{checks['percent']:g}"
    return [
        '<dl class="totals">',
        tile("requests", "Requests to the Apollo API", str(int(doc["requests"]))),
        tile(
            "violating-requests",
            "Violating requests",
            str(int(doc["violating-requests"])),
            bad=bool(doc["violating-requests"]),
        ),
        tile("outside", "Outside the contract", str(int(doc["outside"]))),
        tile(
            "expected-violations",
            "Deliberate violations (not counted)",
            str(int(doc["expected-violations"])),
        ),
        tile(
            "calls",
            "Calls exercised",
            f"{int(cov['exercised'])} <small>of {int(cov['calls'])}</small>",
        ),
        tile(
            "checks",
            "Checks exercised",
            f"{percent}% <small>({int(checks['exercised'])} of {int(checks['total'])})</small>",
            more=f'<progress max="{int(checks["total"])}" value="{int(checks["exercised"])}" '
            f'aria-label="checks exercised">{percent}%</progress>',
        ),
        "</dl>",
    ]


def _violations(doc: Mapping[str, Any]) -> list[str]:
    kinds = doc["violations"]
    count = _plural(len(kinds), "kind")
    out = [f'<h2 id="violations">Violations <span class="muted">({count})</span></h2>']
    if not kinds:
        out.append("<p>No request broke the contract.</p>")
        return out
    for v in kinds:
        field = v["field"]
        where = f"<code>{_e(field)}</code>" if field else "the request as a whole"
        call = "" if v["call"] is not None else ' <span class="muted">(outside the contract)</span>'
        example = v["example"]
        out.append('<article class="violation">')
        out.append(
            f'<h3><span class="status">{int(v["status"])}</span> '
            f'<span class="method">{_e(v["method"])}</span> '
            f'<span class="path">{_e(v["path"])}</span>{call}</h3>'
        )
        out.append("<dl>")
        out.append(f"<dt>Field</dt><dd>{where}</dd>")
        out.append(f'<dt>Rule</dt><dd class="rule">{_e(v["rule"])}</dd>')
        out.append(f'<dt>Count</dt><dd class="count">{_plural(int(v["count"]), "request")}</dd>')
        out.append(
            f'<dt>First request</dt><dd class="example"><code>{_e(v["method"])} '
            f"{_e(example['path'])}</code></dd>"
        )
        if example["message"] != v["rule"]:  # else the rule says it already
            out.append(f'<dt>Answered</dt><dd class="message">{_e(example["message"])}</dd>')
        out.append("</dl></article>")
    return out


def _untested(doc: Mapping[str, Any]) -> list[str]:
    gaps = doc["coverage"]["untested"]
    out = [f'<h2 id="untested">Untested <span class="muted">({len(gaps)})</span></h2>']
    if not gaps:
        out.append("<p>Every call, documented parameter, field and outcome was exercised.</p>")
        return out
    out.append('<ul class="untested">')
    out += [f'<li data-kind="{_e(g["kind"])}">{_e(g["text"])}</li>' for g in gaps]
    out.append("</ul>")
    return out


def render(doc: Mapping[str, Any]) -> bytes:
    """Render a contract report document as one self-contained HTML page (UTF-8 bytes)."""
    verdict, sentence = _verdict(doc)
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light dark">',
        # An icon that needs no request (img-src data:): else a browser opening the
        # page on a fake asks it for /favicon.ico, a request outside the contract.
        '<link rel="icon" href="data:,">',
        f"<title>apollo-fake contract report: {_e(sentence)}</title>",
        f"<style>{STYLE}</style>",
        "</head><body><main>",
        "<header><h1>apollo-fake contract report</h1>",
        f'<p class="verdict {verdict}" data-verdict="{verdict}">{_e(sentence)}</p>',
        "</header>",
        *_totals(doc),
        '<h2 id="coverage">Coverage</h2>',
        "<p>Each call of the contract against what the contract documents for it: the "
        "outcomes it answers, the fields a write may send, the report's parameters and the "
        "listings' later pages. A cell counts the requests that did it.</p>",
        '<ul class="legend" aria-label="legend">',
        '<li><span class="seen s2">✓ 3</span>seen, that many times</li>',
        '<li><span class="unseen">✗ 0</span>never seen</li>',
        '<li><span class="na">n/a</span>does not apply to the call</li>',
        "</ul>",
        *_grid(doc),
        *_violations(doc),
        *_untested(doc),
        f"<footer>{_e(doc['format'])}, version {int(doc['version'])}. The same document as "
        "JSON: <code>GET /_fake/report</code>, <code>--report FILE</code>.</footer>",
        "</main></body></html>",
    ]
    return ("\n".join(parts) + "\n").encode()
