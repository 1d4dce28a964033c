"""report.md and report.html (inline SVG charts, no external assets) from evaluation.json's numbers."""

from __future__ import annotations

import html


def _bars(title: str, items: list[tuple[str, float | None]], unit: str = "") -> str:
    values = [v for _, v in items if v is not None]
    top = max(values) if values else 1.0
    rows = []
    for i, (label, value) in enumerate(items):
        width = 0 if value is None or top == 0 else 300 * value / top
        shown = "n/a" if value is None else f"{value:g}{unit}"
        rows.append(f'<text x="0" y="{30 + i * 28}" class="l">{html.escape(label)}</text>'
                    f'<rect x="170" y="{16 + i * 28}" width="{width:.1f}" height="18" class="b{i % 2}"/>'
                    f'<text x="{178 + width:.1f}" y="{30 + i * 28}" class="v">{shown}</text>')
    return (f'<figure><figcaption>{html.escape(title)}</figcaption><svg width="560" height="{30 + 28 * len(items)}" '
            f'role="img">{"".join(rows)}</svg></figure>')


def _curve(title: str, series: dict[str, list[tuple[int, float]]]) -> str:
    points = [p for s in series.values() for p in s]
    if not points:
        return f"<p>{html.escape(title)}: no points logged.</p>"
    xmax = max(x for x, _ in points) or 1
    ymin, ymax = min(y for _, y in points), max(y for _, y in points)
    span = (ymax - ymin) or 1.0
    lines = []
    for i, (name, pts) in enumerate(series.items()):
        coords = " ".join(f"{40 + 480 * x / xmax:.1f},{190 - 160 * (y - ymin) / span:.1f}" for x, y in pts)
        lines.append(f'<polyline points="{coords}" class="c{i}"/><text x="430" y="{20 + 16 * i}" class="k{i}">'
                     f'{html.escape(name)}</text>')
    return (f'<figure><figcaption>{html.escape(title)} (y from {ymin:.3g} to {ymax:.3g}, x: step up to {xmax})'
            f'</figcaption><svg width="560" height="210" role="img"><line x1="40" y1="190" x2="520" y2="190" '
            f'class="a"/>{"".join(lines)}</svg></figure>')


STYLE = """body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}
.l,.v{font-size:13px}.b0{fill:#4c78a8}.b1{fill:#f58518}.c0{fill:none;stroke:#4c78a8;stroke-width:2}
.c1{fill:none;stroke:#f58518;stroke-width:2}.k0{fill:#4c78a8;font-size:12px}.k1{fill:#f58518;font-size:12px}
.a{stroke:#888}figcaption{font-weight:600;margin:.5em 0}"""


def data_rows(data: dict) -> list[tuple[str, str, str, str]]:
    """(generator, attempted, accepted, rejections by reason) for every generator that ran."""
    rows = []
    for name, g in data.get("generators", {}).items():
        rejected = sorted((g.get("rejected") or {}).items(), key=lambda kv: (-kv[1], kv[0]))
        reasons = ", ".join(f"{reason}: {n}" for reason, n in rejected) or "none"
        rows.append((name, str(g.get("attempted")), str(g.get("accepted")), reasons))
    return rows


def data_note(data: dict) -> str:
    return (f"The adapter trained for {data.get('steps')} steps on {data.get('train_examples')} conversations "
            f"({data.get('eval_examples')} held out for the evaluation loss). Every generated candidate passed "
            f"through the generate stage's gates; rejected ones are not trained on:")


def render(evaluation: dict, curves: dict[str, list[tuple[int, float]]]) -> tuple[str, str]:
    p, s = evaluation["perplexity"], evaluation["style"]
    md = [f"# Does the adapter sound like {evaluation['creator']}?", "",
          f"Held-out videos: {', '.join(evaluation['eval_videos']) or 'none'} "
          f"({evaluation['eval_chats']} conversations). Base model `{evaluation['base_model']}`.", "",
          "## Perplexity (lower is better)", "", "| text | base | adapter |", "|---|---|---|",
          f"| held-out chats, assistant tokens | {p['chats']['base']} | {p['chats']['adapter']} |",
          f"| held-out transcripts | {p['transcripts']['base']} | {p['transcripts']['adapter']} |", "",
          "## Style of greedy answers to held-out prompts, against the creator's held-out words", "",
          "| measure | creator | base | adapter |", "|---|---|---|---|"]
    for key, label in (("function_word_js", "function-word profile divergence (JS, bits; lower = closer)"),
                       ("mattr", "lexical richness (MATTR)"),
                       ("signature_phrases_per_100_words", "signature phrases per 100 words")):
        md.append(f"| {label} | {s['reference'].get(key, 0)} | {s['base'][key]} | {s['adapter'][key]} |")
    md.append(f"| mean sentence length (words) | {s['reference']['sentence_words']['mean']} | "
              f"{s['base']['sentence_words']['mean']} | {s['adapter']['sentence_words']['mean']} |")
    verdict = evaluation.get("judge")
    if verdict:
        md += ["", f"LLM judge: the adapter's answer sounded more like the creator in {verdict['adapter_wins']} of "
                   f"{verdict['adapter_wins'] + verdict['base_wins'] + verdict['ties']} prompts, the base's in "
                   f"{verdict['base_wins']}, {verdict['ties']} ties (the two orders disagreed); win rate "
                   f"{verdict['adapter_win_rate']}."]
    data = evaluation.get("data") or {}
    md += ["", "## The data behind it", "", data_note(data), "", "| generator | candidates | accepted | rejected, by reason |",
           "|---|---|---|---|"] + [f"| {' | '.join(row)} |" for row in data_rows(data)]
    md += ["", f"Signature phrases mined from the training transcripts: {', '.join(evaluation['signature_phrases']) or 'none'}.",
           "", "## Side by side", ""]
    for i, sample in enumerate(evaluation["samples"], 1):
        md += [f"### Sample {i}", "", f"**Prompt:** {sample['prompt']}", "", f"**Creator:** {sample['reference']}", "",
               f"**Base:** {sample['base']}", "", f"**Adapter:** {sample['adapter']}", ""]
    body = [f"<h1>Does the adapter sound like {html.escape(evaluation['creator'])}?</h1>",
            f"<p>Held-out videos: {html.escape(', '.join(evaluation['eval_videos']) or 'none')} "
            f"({evaluation['eval_chats']} conversations). Base model <code>{html.escape(evaluation['base_model'])}</code>.</p>",
            _curve("Training and evaluation loss (from the TensorBoard logs)", curves),
            _bars("Perplexity on held-out chats (assistant tokens)",
                  [("base", p["chats"]["base"]), ("adapter", p["chats"]["adapter"])]),
            _bars("Perplexity on held-out transcripts", [("base", p["transcripts"]["base"]),
                                                         ("adapter", p["transcripts"]["adapter"])]),
            _bars("Function-word divergence from the creator (lower = closer)",
                  [("base", s["base"]["function_word_js"]), ("adapter", s["adapter"]["function_word_js"])]),
            _bars("Signature phrases per 100 words", [("creator", s["reference"]["signature_phrases_per_100_words"]),
                                                      ("base", s["base"]["signature_phrases_per_100_words"]),
                                                      ("adapter", s["adapter"]["signature_phrases_per_100_words"])]),
            (f"<p>LLM judge: adapter win rate {verdict['adapter_win_rate']} ({verdict['adapter_wins']} wins, "
             f"{verdict['base_wins']} losses, {verdict['ties']} ties with positions swapped).</p>" if verdict else ""),
            f"<h2>The data behind it</h2><p>{html.escape(data_note(data))}</p><table><tr><th>generator</th>"
            "<th>candidates</th><th>accepted</th><th>rejected, by reason</th></tr>"
            + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in data_rows(data))
            + "</table>",
            "<h2>Side by side</h2><table><tr><th>prompt</th><th>creator</th><th>base</th><th>adapter</th></tr>"]
    for sample in evaluation["samples"]:
        body.append("<tr>" + "".join(f"<td>{html.escape(sample[k])}</td>" for k in ("prompt", "reference", "base",
                                                                                      "adapter")) + "</tr>")
    body.append("</table>")
    page = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>tube2lora evaluation</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>")
    return "\n".join(md) + "\n", page
