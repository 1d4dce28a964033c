"""report.md and report.html (inline SVG charts, no external assets) from evaluation.json's numbers."""

from __future__ import annotations

import html

from .style import has_function_words


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


def _ratio(pair: dict) -> str:
    return f"{pair['adapter'] / pair['base']:.2f}x" if pair.get("base") and pair.get("adapter") is not None else "n/a"


PERPLEXITY = (("transcripts", "held-out transcripts (the creator's passages)"),
              ("answers", "the creator's real answers to held-out questions"),
              ("chats", "held-out LLM-written chats, assistant tokens"))


def perplexity_rows(evaluation: dict) -> list[tuple[str, str, str, str]]:
    """(text, base, adapter, adapter / base) for each perplexity measured."""
    return [(label, _shown(pair["base"]), _shown(pair["adapter"]), _ratio(pair))
            for key, label in PERPLEXITY if (pair := evaluation["perplexity"].get(key))]


def _shown(value) -> str:
    return "n/a" if value is None else f"{value:g}" if isinstance(value, (int, float)) else str(value)


def not_available(evaluation: dict) -> str:
    """How a measure that does not exist in the creator's language is shown."""
    return f"n/a (language {evaluation.get('language') or 'unknown'})"


PHRASES_ROW = "signature phrases per 100 words (ratio to the creator's: caricature above 2, too little below 0.5)"


def voice_rows(evaluation: dict) -> list[tuple[str, str, str, str]]:
    """(measure, creator, base, adapter) for the answers to held-out questions; a measure bound to a language
    the creator does not speak (function words, signature phrases) is "n/a (language xx)" in every column."""
    v, s = evaluation.get("voice") or {}, evaluation.get("style") or {}
    if not v:
        return []
    ph, rep, na = v["phrases"], v["repetition"], not_available(evaluation)
    rows = [(PHRASES_ROW, na, na, na) if ph is None else
            (PHRASES_ROW, f"{ph['creator_rate']:g} (in the {ph['creator_rate_from']})",
             *(f"{ph[side]['rate']:g} ({_shown(ph[side]['ratio'])}x, {ph[side]['flag']})" for side in ("base", "adapter"))),
            (f"share of words inside {v['copied']['run_words']}-word runs copied from the training text",
             *(_shown(v["copied"][side]) for side in ("creator", "base", "adapter"))),
            (f"Burrows' Delta to the creator's answers ({v['delta']['words']} most frequent words; lower = closer)",
             "0", _shown(v["delta"]["base"]), _shown(v["delta"]["adapter"])),
            ("repeated 4-grams per answer (mean share)",
             *(_shown(rep[side]["mean"]) for side in ("creator", "base", "adapter"))),
            ("answers that loop (20% or more of their 4-grams repeated)",
             *(str(rep[side]["looping"]) for side in ("creator", "base", "adapter")))]
    if s:
        js = [s[side]["function_word_js"] for side in ("base", "adapter")]
        rows += [("function-word profile divergence (JS, bits; lower = closer)", *((na, na, na) if None in js else
                                                                                 ("0", *map(_shown, js)))),
                 ("lexical richness (MATTR)", *(_shown(s[k]["mattr"]) for k in ("reference", "base", "adapter"))),
                 ("mean sentence length (words)",
                  *(_shown(s[k]["sentence_words"]["mean"]) for k in ("reference", "base", "adapter")))]
    return rows


def notes(evaluation: dict) -> list[str]:
    """What the figures say that a reader could miss: identical answers, caricature, loops, the judge."""
    v = evaluation.get("voice") or {}
    if not v:
        return ["No held-out own_words question: base and adapter answered nothing, so only perplexity on the "
                "held-out transcripts was measured (the answer measures need generate's own_words generator)."]
    said = []
    same = v["identical"]
    said.append(f"{same['count']} of {same['of']} adapter answers are word for word the base's."
                + (" The adapter changed no answer, so every style figure of base and adapter is identical."
                   if same["of"] and same["count"] == same["of"] else ""))
    for side in ("base", "adapter"):
        ph = (v["phrases"] or {}).get(side) or {"flag": None}
        if ph["flag"] in ("caricature", "too little"):
            said.append(f"The {side}'s signature-phrase rate is {ph['ratio']:g}x the creator's: {ph['flag']}.")
        rep = v["repetition"][side]
        if rep["looping"]:
            said.append(f"The {side} loops in {rep['looping']} of {v['answers']} answers, e.g. {rep['example']}.")
    copied = v["copied"]
    if copied.get("adapter") is not None and copied.get("creator") is not None and copied["adapter"] > copied["creator"]:
        said.append(f"The adapter copies more {copied['run_words']}-word runs from the training text than the creator "
                    f"does in new videos ({copied['adapter']} against {copied['creator']}): memorisation.")
    verdict = evaluation.get("judge")
    if verdict:
        rates = {side: verdict[side]["real_picked_rate"] for side in ("adapter", "base")}
        said.append("LLM judge, \"which is the real creator?\" asked in both orders: it picked the creator's real "
                    f"answer in {_percent(rates['adapter'])} of comparisons against the adapter "
                    f"({verdict['adapter']['told_apart']} told apart, {verdict['adapter']['fooled']} fooled, "
                    f"{verdict['adapter']['unsure']} unsure) and in {_percent(rates['base'])} against the base; "
                    "50% means it cannot tell them apart.")
    return said


def _percent(rate) -> str:
    return "n/a" if rate is None else f"{100 * rate:.0f}%"


def _md_table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    return [f"| {' | '.join(head)} |", "|" + "---|" * len(head)] + [f"| {' | '.join(r)} |" for r in rows]


def _html_table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    return ("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
            + "</table>")


PPL_HEAD = ("text", "base", "adapter", "adapter / base")
VOICE_HEAD = ("measure", "creator", "base", "adapter")
DATA_HEAD = ("generator", "candidates", "accepted", "rejected, by reason")


def render(evaluation: dict, curves: dict[str, list[tuple[int, float]]]) -> tuple[str, str]:
    p, v = evaluation["perplexity"], evaluation.get("voice") or {}
    held = (f"Held-out videos: {', '.join(evaluation['eval_videos']) or 'none'} ({evaluation.get('eval_passages', 0)} "
            f"passages; {evaluation.get('eval_questions', 0)} questions written for them, answered greedily by base "
            f"and adapter). Base model `{evaluation['base_model']}`.")
    answers_intro = ("The creator column is the creator's real answers: the held-out passages the questions were "
                     "written for.")
    data = evaluation.get("data") or {}
    md = [f"# Does the adapter sound like {evaluation['creator']}?", "", held, "",
          "## Perplexity (lower is better)", "", *_md_table(PPL_HEAD, perplexity_rows(evaluation)), "",
          "## Answers to held-out questions", "", answers_intro, "", *_md_table(VOICE_HEAD, voice_rows(evaluation)), "",
          *[f"- {n}" for n in notes(evaluation)]]
    md += ["", "## The data behind it", "", data_note(data), "", *_md_table(DATA_HEAD, data_rows(data))]
    mined = (", ".join(evaluation["signature_phrases"]) or "none") if has_function_words(evaluation.get("language")) \
        else not_available(evaluation)
    md += ["", f"Signature phrases mined from the training text: {mined}.",
           "", "## Side by side", ""]
    for i, sample in enumerate(evaluation["samples"], 1):
        md += [f"### Sample {i}", "", f"**Question:** {sample['prompt']}", "",
               f"**Creator (the real held-out passage):** {sample['reference']}", "",
               f"**Base:** {sample['base']}", "", f"**Adapter:** {sample['adapter']}", ""]
    bars = [_bars(f"Perplexity on {label}", [("base", pair["base"]), ("adapter", pair["adapter"])])
            for key, label in PERPLEXITY if (pair := p.get(key))]
    if v and v["phrases"] is not None:
        bars += [_bars("Signature-phrase rate as a ratio to the creator's (1 = the creator's own)",
                       [(side, v["phrases"][side]["ratio"]) for side in ("base", "adapter")], "x")]
    if v:
        bars += [_bars("Burrows' Delta to the creator's answers (lower = closer)",
                       [(side, v["delta"][side]) for side in ("base", "adapter")]),
                 _bars(f"Words inside {v['copied']['run_words']}-word runs copied from the training text",
                       [(side, v["copied"][side]) for side in ("creator", "base", "adapter")])]
    body = [f"<h1>Does the adapter sound like {html.escape(evaluation['creator'])}?</h1>",
            f"<p>{html.escape(held)}</p>",
            _curve("Training and evaluation loss (from the TensorBoard logs)", curves),
            "<h2>Perplexity (lower is better)</h2>", _html_table(PPL_HEAD, perplexity_rows(evaluation)), *bars,
            f"<h2>Answers to held-out questions</h2><p>{html.escape(answers_intro)}</p>",
            _html_table(VOICE_HEAD, voice_rows(evaluation)),
            "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes(evaluation)) + "</ul>",
            f"<h2>The data behind it</h2><p>{html.escape(data_note(data))}</p>", _html_table(DATA_HEAD, data_rows(data)),
            "<h2>Side by side</h2>",
            _html_table(("question", "creator (the real held-out passage)", "base", "adapter"),
                        [tuple(sample[k] for k in ("prompt", "reference", "base", "adapter"))
                         for sample in evaluation["samples"]])]
    page = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>tube2lora evaluation</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>")
    return "\n".join(md) + "\n", page
