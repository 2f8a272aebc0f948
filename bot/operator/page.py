"""The operator page as HTML: charts drawn as SVG on the server (no script, no outside asset),
each with its figures as a table for screen readers, a period selector, the review list and the
CSV link."""

from __future__ import annotations

from html import escape
from typing import Any, Sequence

from bot.operator.figures import PERIODS

# Distinguishable in colour-blind palettes (Okabe-Ito), on white.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
WIDTH, HEIGHT, LEFT, BOTTOM = 640, 200, 40, 24
OUTCOME_NAMES = {"fallback": "fell back", "low_confidence": "low confidence"}


def _figure(chart_id: str, title: str, total_key: str, total: int, svg: str, table: str, note: str = "") -> str:
    return (
        f'<figure class="chart" id="{chart_id}" aria-labelledby="{chart_id}-title">'
        f'<figcaption id="{chart_id}-title"><h3>{escape(title)}</h3>'
        f'<p class="total">Total: <strong data-total="{total_key}">{total}</strong>{escape(note)}</p></figcaption>'
        f"{svg}<details><summary>{escape(title)} as a table</summary>{table}</details></figure>"
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f'<th scope="col">{escape(str(h))}</th>' for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _legend(names: Sequence[str]) -> str:
    items = "".join(
        f'<li><svg width="12" height="12" class="swatch"><rect width="12" height="12" fill="{COLOURS[i % len(COLOURS)]}"/></svg>'
        f"{escape(n)}</li>"
        for i, n in enumerate(names)
    )
    return f'<ul class="legend" aria-hidden="true">{items}</ul>' if len(names) > 1 else ""


def daily_chart(title: str, dates: Sequence[str], series: dict[str, Sequence[int]]) -> tuple[str, str, int]:
    """Stacked bars, one a day."""
    names = list(series) or ["none"]
    totals = [sum(series[n][i] for n in series) for i in range(len(dates))]
    top = max(totals + [1])
    slot = (WIDTH - LEFT) / max(len(dates), 1)
    bar = max(slot * 0.8, 1)
    shapes = []
    for i, date in enumerate(dates):
        y = HEIGHT - BOTTOM
        for s, name in enumerate(series):
            value = series[name][i]
            if not value:
                continue
            height = (HEIGHT - BOTTOM - 10) * value / top
            y -= height
            shapes.append(
                f'<rect x="{LEFT + i * slot:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" '
                f'fill="{COLOURS[s % len(COLOURS)]}"><title>{escape(date)}: {value} {escape(name)}</title></rect>'
            )
    ticks = [0, len(dates) - 1] if len(dates) > 1 else [0]
    labels = "".join(f'<text x="{LEFT + i * slot:.1f}" y="{HEIGHT - 6}" class="tick">{escape(dates[i][5:])}</text>' for i in ticks)
    svg = (
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}: {sum(totals)} in all, '
        f'at most {max(totals + [0])} on one day" preserveAspectRatio="xMinYMin meet">'
        f'<text x="0" y="12" class="tick">{top}</text><line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH}" '
        f'y2="{HEIGHT - BOTTOM}" class="axis"/>{"".join(shapes)}{labels}</svg>'
    )
    rows = [[date, *[series[n][i] for n in series], totals[i]] for i, date in enumerate(dates)]
    table = _table(["Date", *series, "Total"], rows)
    return svg + _legend(names), table, sum(totals)


def ranked_chart(title: str, items: Sequence[Sequence[Any]], label: str) -> tuple[str, str, int]:
    """Horizontal bars, largest first."""
    if not items:
        return '<p class="empty">Nothing in this period.</p>', _table([label, "Count"], []), 0
    top = max(count for _, count in items)
    row_height = 22
    height = row_height * len(items) + 4
    shapes = []
    for i, (name, count) in enumerate(items):
        y = i * row_height + 2
        width = (WIDTH - 230) * count / top
        shapes.append(
            f'<text x="0" y="{y + 15}" class="name">{escape(str(name))[:30]}</text>'
            f'<rect x="200" y="{y}" width="{max(width, 1):.1f}" height="{row_height - 6}" fill="{COLOURS[0]}">'
            f"<title>{escape(str(name))}: {count}</title></rect>"
            f'<text x="{205 + width:.1f}" y="{y + 15}" class="value">{count}</text>'
        )
    svg = (
        f'<svg viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" '
        f'preserveAspectRatio="xMinYMin meet">{"".join(shapes)}</svg>'
    )
    return svg, _table([label, "Count"], items), sum(count for _, count in items)


def _daily_figure(chart_id: str, title: str, total_key: str, figures: dict[str, Any], series: dict[str, list[int]], note: str = "") -> str:
    dates = [d["date"] for d in figures["daily"]]
    svg, table, total = daily_chart(title, dates, series)
    return _figure(chart_id, title, total_key, total, svg, table, note)


def _ranked_figure(chart_id: str, title: str, items: Sequence[Sequence[Any]], label: str) -> str:
    svg, table, total = ranked_chart(title, items, label)
    return _figure(chart_id, title, chart_id, total, svg, table)


def _review_section(review: list[dict[str, Any]], with_text: bool, intents: Sequence[str], days: int) -> str:
    if not with_text:
        intro = (
            "Message text is hidden: the deployer has not turned review on (<code>TRUST_REVIEW=1</code>). "
            "Crisis and check-in turns are never listed."
        )
    else:
        intro = (
            "Label a turn with the intent it should have had; <code>make export-review</code> writes the labelled "
            "ones as Rasa NLU candidates for a person to check. Crisis and check-in turns are never listed."
        )
    header = ["When (UTC)", "Channel", "Best guess", "Confidence", "What happened"] + (["Message", "Label"] if with_text else [])
    rows = []
    for row in review:
        cells = [
            row["when"],
            row["channel"],
            row["guessed_intent"],
            "" if row["confidence"] is None else row["confidence"],
            OUTCOME_NAMES.get(row["outcome"], row["outcome"]),
        ]
        html_cells = "".join(f"<td>{escape(str(c))}</td>" for c in cells)
        if with_text:
            options = "".join(
                f'<option value="{escape(i)}"{" selected" if i == row["label"] else ""}>{escape(i)}</option>' for i in intents
            )
            html_cells += (
                f'<td class="text">{escape(row["text"])}</td><td><form method="post" action="/operator/label">'
                f'<input type="hidden" name="turn" value="{row["id"]}"><input type="hidden" name="days" value="{days}">'
                f'<label class="visually-hidden" for="label-{row["id"]}">Intent for the message of {escape(row["when"])}</label>'
                f'<select id="label-{row["id"]}" name="intent"><option value="">(none)</option>{options}</select> '
                f'<button type="submit">Save</button></form></td>'
            )
        rows.append(f'<tr data-turn="{row["id"]}">{html_cells}</tr>')
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in header)
    body = "".join(rows) or f'<tr><td colspan="{len(header)}">Nothing to review.</td></tr>'
    return (
        f'<section aria-labelledby="review-title"><h2 id="review-title">What it did not understand</h2>'
        f'<p>{intro}</p><div class="scroll"><table id="review"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div></section>"
    )


def render(figures: dict[str, Any], review: list[dict[str, Any]], with_text: bool, intents: Sequence[str], notice: str = "") -> str:
    days = figures["days"]
    daily = figures["daily"]
    current = ' aria-current="page"'
    periods = "".join(f'<li><a href="/operator?days={p}"{current if p == days else ""}>{p} days</a></li>' for p in PERIODS)
    kinds = figures["kinds"]
    fell_back_share = figures["totals"]["fell_back"] / figures["totals"]["messages"] if figures["totals"]["messages"] else 0
    sections = [
        '<section aria-labelledby="activity-title"><h2 id="activity-title">Activity</h2>',
        _daily_figure(
            "conversations",
            "Conversations started per day",
            "conversations",
            figures,
            {"conversations": [d["conversations"] for d in daily]},
        ),
        _daily_figure("messages", "Messages per day", "messages", figures, {"messages": [d["messages"] for d in daily]}),
        _ranked_figure("conversations-by-channel", "Conversations by channel", figures["conversations_by_channel"], "Channel"),
        "</section>",
        '<section aria-labelledby="crisis-title"><h2 id="crisis-title">Crisis referrals and check-in questions</h2>',
        _daily_figure(
            "referrals", "Referrals per day, by kind", "referrals", figures, {k: [d["referrals"][k] for d in daily] for k in kinds}
        ),
        _daily_figure(
            "check-ins", "Check-in questions per day, by kind", "check_ins", figures, {k: [d["check_ins"][k] for d in daily] for k in kinds}
        ),
        _ranked_figure("referrals-by-country", "Referrals by country", figures["referrals_by_country"], "Country"),
        _ranked_figure("referrals-by-channel", "Referrals by channel", figures["referrals_by_channel"], "Channel"),
        _ranked_figure("check-ins-by-country", "Check-ins by country", figures["check_ins_by_country"], "Country"),
        "</section>",
        '<section aria-labelledby="understanding-title"><h2 id="understanding-title">Understanding</h2>',
        _daily_figure(
            "fell-back",
            "Turns it did not understand, per day",
            "fell_back",
            figures,
            {"fell back or low confidence": [d["fell_back"] for d in daily]},
            f" ({fell_back_share:.1%} of messages)",
        ),
        _ranked_figure(
            "fell-back-by-intent", "Not understood, by the intent it guessed", figures["fell_back_by_guessed_intent"], "Best guess"
        ),
        _ranked_figure(
            "conversation-ends", "Where conversations end (the assistant's last step)", figures["conversation_ends"], "Last step"
        ),
        "</section>",
        _review_section(review, with_text, intents, days),
    ]
    notice_html = f'<p class="notice" role="status">{escape(notice)}</p>' if notice else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<title>How the assistant is doing</title><link rel="stylesheet" href="/static/operator.css"></head><body>'
        '<a class="skip" href="#main">Skip to the figures</a>'
        f"<header><h1>How the assistant is doing</h1><p>{escape(figures['from'])} to {escape(figures['to'])} (UTC)</p>"
        f'<nav aria-label="Period"><ul class="periods">{periods}</ul></nav>'
        f'<p><a href="/operator/daily.csv?days={days}" download>Download the daily figures (CSV)</a></p></header>'
        f'<main id="main">{notice_html}{"".join(sections)}</main></body></html>'
    )


def login_page(failed: bool) -> str:
    message = '<p class="error" role="alert">That token is not right.</p>' if failed else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<title>Operator sign-in</title><link rel="stylesheet" href="/static/operator.css"></head><body><main>'
        f"<h1>Operator page</h1>{message}<p>This page needs the deployment's API token (<code>TRUST_API_TOKEN</code>).</p>"
        '<form method="post" action="/operator/sign-in"><label for="token">Token</label> '
        '<input id="token" name="token" type="password" autocomplete="current-password" required> '
        '<button type="submit">Sign in</button></form></main></body></html>'
    )
