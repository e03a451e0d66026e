"""The audit report as one self-contained HTML file: summary with an MFA-coverage chart, then the table.

Self-contained on purpose: auditors attach the file to a ticket or open it offline, so there are no
external stylesheets, fonts, scripts or images (the chart is inline SVG). Every value that comes
from the account (user names, ARNs, reasons, approvers, parameter names) passes through `_e`, so a
reason such as `<script>` is shown, never run.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import UTC, datetime

from chalicelib.cli.evidence import STANDING_LABEL, AuditReport, Standing, Summary, UserEvidence
from chalicelib.core.model import iso

COLORS = {
    Standing.MFA: "#1a7f4b",
    Standing.EXEMPT: "#b7791f",
    Standing.QUARANTINED: "#5a55c8",
    Standing.EXPOSED: "#c53030",
}
TABLE_ORDER = (Standing.EXPOSED, Standing.QUARANTINED, Standing.EXEMPT, Standing.MFA)
RING_EMPTY = "#d9dde3"
COLUMNS = (  # header, width in percent: fixed layout, so a long name wraps instead of widening the page
    ("User", 20),
    ("MFA", 6),
    ("Standing", 17),
    ("Quarantined since", 14),
    ("Exemption", 22),
    ("Approved by", 10),
    ("Exemption expires", 11),
)

CSS = """
:root { --ink:#1f2933; --muted:#5f6b7a; --line:#e3e7ec; --bg:#f6f7f9; --card:#fff; }
* { box-sizing:border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font:14px/1.45 -apple-system, "Segoe UI", "DejaVu Sans", Roboto, Helvetica, Arial, sans-serif; }
main { max-width:1180px; margin:0 auto; padding:28px 32px 40px; }
h1 { font-size:24px; margin:0 0 4px; }
h2 { font-size:17px; margin:28px 0 10px; }
.meta { color:var(--muted); margin:0; }
.meta b { color:var(--ink); font-weight:600; }
.summary { display:flex; gap:24px; align-items:stretch; margin-top:20px; flex-wrap:wrap; }
.panel { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:18px 20px; }
.chart { display:flex; gap:22px; align-items:center; flex:0 0 auto; }
.chart svg { width:168px; height:168px; display:block; }
.legend { list-style:none; margin:0; padding:0; }
.legend li { display:flex; align-items:center; gap:8px; margin:6px 0; white-space:nowrap; }
.legend .sw { width:12px; height:12px; border-radius:3px; display:inline-block; }
.legend .n { font-weight:600; min-width:2.2em; text-align:right; font-variant-numeric:tabular-nums; }
.cards { display:grid; grid-template-columns:repeat(2, minmax(170px, 1fr)); gap:12px; flex:1 1 360px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:12px 16px; }
.card .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card .v { font-size:22px; font-weight:650; margin-top:2px; }
.card.bad { border-color:#f1b5b5; background:#fff6f6; }
.card.good { border-color:#b9e2cb; background:#f4fbf7; }
.card.unknown { border-color:#e3e7ec; background:#fafbfc; }
.card .sub { color:var(--muted); font-size:12.5px; }
.warn { background:#fff8e6; border:1px solid #f0d48a; border-radius:8px; padding:10px 14px; margin-top:18px; }
.warn ul { margin:4px 0 0 18px; padding:0; }
.table-wrap { overflow-x:auto; border-radius:10px; }
table { width:100%; min-width:1000px; table-layout:fixed; border-collapse:separate; border-spacing:0;
  background:var(--card); border:1px solid var(--line); border-radius:10px; overflow:hidden; font-size:13px; }
th, td { text-align:left; padding:9px 10px; border-bottom:1px solid var(--line); vertical-align:top;
  overflow-wrap:anywhere; }
th { background:#eef1f5; font-size:12px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); }
tr:last-child td { border-bottom:0; }
td .arn { color:var(--muted); font-size:11.5px; font-weight:400; overflow-wrap:anywhere; }
td.user { font-weight:600; }
td .sub { color:var(--muted); font-size:12px; }
.nowrap { white-space:nowrap; }
.badge { display:inline-block; padding:1px 7px; border-radius:999px; font-size:11.5px; font-weight:600;
  color:#fff; max-width:100%; overflow-wrap:normal; word-break:keep-all; }
.b-mfa { background:#1a7f4b; } .b-exempt { background:#b7791f; } .b-quarantined { background:#5a55c8; }
.b-exposed { background:#c53030; } .b-no { background:#c53030; } .b-yes { background:#1a7f4b; }
.b-active { background:#1a7f4b; } .b-expiring { background:#b7791f; } .b-expired { background:#7a8594; }
.none { color:#9aa5b1; }
.reason { max-width:360px; }
footer { color:var(--muted); font-size:12px; margin-top:22px; }
@media print { body { background:#fff; } .panel, .card, table { break-inside:avoid; } }
"""


def _e(value: object) -> str:
    """HTML-escape anything, quotes included (values also land in attributes)."""
    return html.escape(str(value), quote=True)


def donut(summary: Summary) -> str:
    """Inline SVG ring: one arc per standing, MFA coverage in the middle.

    A circle of radius 15.9155 has a circumference of 100, so each arc's dash length is its percent.
    """
    total = summary.console_users
    arcs = []
    if total:
        offset = 25.0  # start at twelve o'clock
        for standing in (Standing.MFA, Standing.EXEMPT, Standing.QUARANTINED, Standing.EXPOSED):
            count = summary.by_standing.get(standing, 0)
            if not count:
                continue
            share = 100.0 * count / total
            arcs.append(
                f'<circle cx="21" cy="21" r="15.9155" fill="none" stroke="{COLORS[standing]}" stroke-width="5.5" '
                f'stroke-dasharray="{share:.3f} {100 - share:.3f}" stroke-dashoffset="{offset:.3f}">'
                f"<title>{_e(STANDING_LABEL[standing])}: {count}</title></circle>"
            )
            offset -= share
    label = _e(summary.coverage_text())
    aria = f"MFA coverage {summary.coverage_text()}: {summary.with_mfa} of {total} console users have MFA"
    return (
        f'<svg viewBox="0 0 42 42" role="img" aria-label="{_e(aria)}">'
        f'<circle cx="21" cy="21" r="15.9155" fill="none" stroke="{RING_EMPTY}" stroke-width="5.5"/>'
        + "".join(arcs)
        + f'<text x="21" y="21.2" text-anchor="middle" font-size="6.4" font-weight="700" fill="#1f2933">{label}</text>'
        '<text x="21" y="27" text-anchor="middle" font-size="3.1" fill="#5f6b7a">MFA coverage</text>'
        "</svg>"
    )


def _legend(summary: Summary) -> str:
    items = [
        f'<li><span class="sw" style="background:{COLORS[s]}"></span>'
        f'<span class="n">{summary.by_standing.get(s, 0)}</span> {_e(STANDING_LABEL[s])}</li>'
        for s in (Standing.MFA, Standing.EXEMPT, Standing.QUARANTINED, Standing.EXPOSED)
    ]
    return '<ul class="legend">' + "".join(items) + "</ul>"


def _card(key: str, value: object, *, state: str = "", sub: str = "") -> str:
    sub_html = f'<div class="sub">{_e(sub)}</div>' if sub else ""
    return f'<div class="card {state}"><div class="k">{_e(key)}</div><div class="v">{_e(value)}</div>{sub_html}</div>'


def _cards(report: AuditReport) -> str:
    summary = report.summary
    exposed = summary.by_standing.get(Standing.EXPOSED, 0)
    root_state = {None: "unknown", True: "good", False: "bad"}[report.root.ok]
    root_value = {None: "Unknown", True: "Protected", False: "At risk"}[report.root.ok]
    if report.root.credentials_absent:
        root_value = "No credentials"
    return (
        '<div class="cards">'
        + _card("Console users", summary.console_users, sub=f"{summary.with_mfa} with MFA")
        + _card(
            "Without MFA",
            summary.without_mfa,
            state="bad" if summary.without_mfa else "good",
            sub=f"{summary.by_standing.get(Standing.EXEMPT, 0)} exempt, "
            f"{summary.by_standing.get(Standing.QUARANTINED, 0)} quarantined",
        )
        + _card(
            "Not contained",
            exposed,
            state="bad" if exposed else "good",
            sub="no MFA, not exempt, not quarantined (yet: grace period)",
        )
        + _card("Root account", root_value, state=root_state, sub=report.root.label)
        + "</div>"
    )


def _badge(kind: str, text: str) -> str:
    return f'<span class="badge b-{_e(kind)}">{_e(text)}</span>'


def _none(text: str = "—") -> str:
    return f'<span class="none">{_e(text)}</span>'


def when(text: str | None) -> str:
    """`2026-11-23T12:14:55Z` -> `2026-11-23 12:14 UTC`, short enough not to wrap; other text as is."""
    if text is None:
        return ""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def arn_html(arn: str) -> str:
    """The ARN, escaped, with break opportunities after `/` so a narrow column wraps at the name."""
    return "/<wbr>".join(_e(part) for part in arn.split("/"))


def _row(user: UserEvidence) -> str:
    ex = user.exemption
    if user.quarantined:
        since = (
            f'<span title="{_e(user.quarantined_since)}">{_e(when(user.quarantined_since))}</span>'
            if user.quarantined_since
            else _none("tag missing")
        )
        quarantine = f"{since}<div class='sub'>via {_e(user.quarantined_via)}</div>"
    else:
        quarantine = _none("no")
    if ex is None:
        exemption, expires = _none(), _none()
    else:
        exemption = f"{_e(ex.label)} <span class='sub'>#{ex.index}</span><div class='reason'>{_e(ex.reason)}</div>"
        ends = f'<span class="nowrap">{_e(ex.expires_text)}</span>' if ex.expires_text else "never"
        expires = f"{_badge(ex.status, ex.status)}<div>{ends}</div>"
    return (
        "<tr>"
        f'<td class="user">{_e(user.user)}<div class="arn">{arn_html(user.arn)}</div></td>'
        f"<td>{_badge('yes', 'yes') if user.mfa else _badge('no', 'no')}</td>"
        f"<td>{_badge(user.standing.value, STANDING_LABEL[user.standing])}</td>"
        f"<td>{quarantine}</td>"
        f"<td>{exemption}</td>"
        f"<td>{_e(ex.approved_by) if ex and ex.approved_by else _none()}</td>"
        f"<td>{expires}</td>"
        "</tr>"
    )


def _table(users: Iterable[UserEvidence]) -> str:
    ordered = sorted(users, key=lambda u: (TABLE_ORDER.index(u.standing), u.user.lower()))
    cols = "".join(f'<col style="width:{w}%">' for _, w in COLUMNS)
    head = "".join(f"<th>{h}</th>" for h, _ in COLUMNS)
    body = "".join(_row(u) for u in ordered) or '<tr><td colspan="7">No IAM user has console access.</td></tr>'
    table = f"<table><colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="table-wrap">{table}</div>'


def _warnings(warnings: Iterable[str]) -> str:
    items = "".join(f"<li>{_e(w)}</li>" for w in warnings)
    return f'<div class="warn"><b>Read with care</b><ul>{items}</ul></div>' if items else ""


def render(report: AuditReport) -> str:
    """The whole document."""
    summary = report.summary
    report_time = iso(report.report_generated_at) if report.report_generated_at else "unknown"
    version = f" (version {report.exemptions_version})" if report.exemptions_version is not None else " (not set)"
    source = (
        "quarantine policy attachments"
        if report.quarantine_source == "policy"
        else "the bot's quarantine tag (no policy ARN was given)"
    )
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>MFA evidence — AWS account {_e(report.account_id)}</title>"
        f"<style>{CSS}</style></head><body><main>"
        "<h1>MFA evidence for IAM console users</h1>"
        f'<p class="meta">AWS account <b>{_e(report.account_id)}</b> · generated <b>{_e(iso(report.generated_at))}</b>'
        f" · credential report of {_e(report_time)}</p>"
        f'<p class="meta">Exemptions from <b>{_e(report.exemptions_parameter)}</b>{_e(version)}'
        f" · quarantine status from {_e(source)}</p>"
        + _warnings(report.warnings)
        + '<section class="summary">'
        + f'<div class="panel chart">{donut(summary)}{_legend(summary)}</div>'
        + _cards(report)
        + "</section>"
        + f"<h2>Console users ({summary.console_users})</h2>"
        + _table(report.users)
        + "<footer>Generated by <code>mfa-enforcer report --format html</code>. MFA status comes from the IAM "
        "credential report; users it lists without MFA were re-checked live with ListMFADevices. "
        "Standing: MFA, else an active exemption, else the quarantine policy, else not contained.</footer>"
        "</main></body></html>\n"
    )
