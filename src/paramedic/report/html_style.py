"""The report page's stylesheet, inline so the page needs nothing but a browser (and prints)."""

CSS = """
:root { --ink:#1e293b; --muted:#64748b; --line:#e2e8f0; --ok:#15803d; --warn:#b45309;
  --bad:#b91c1c; --none:#64748b; --bg:#f8fafc; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 0 0 10px; display:flex; align-items:center; gap:10px; flex-wrap:wrap; }
h3 { font-size: 15px; margin: 16px 0 6px; }
.meta, .muted { color: var(--muted); }
section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:16px 20px;
  margin: 16px 0; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-weight:600; color:var(--muted); background:#f1f5f9; }
td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
.cards { display:flex; gap:12px; flex-wrap:wrap; margin-top:14px; }
.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:8px 14px; min-width:120px; }
.card b { display:block; font-size:22px; }
.score { display:inline-block; min-width:46px; text-align:center; border-radius:6px; color:#fff;
  font-weight:700; padding:1px 8px; }
.s-good { background: var(--ok); } .s-fair { background: var(--warn); }
.s-poor { background: var(--bad); } .s-none { background: var(--none); }
.verdict { font-weight:600; padding:1px 8px; border-radius:10px; font-size:12px; border:1px solid; }
.v-proven { color: var(--ok); } .v-stale { color: var(--warn); }
.v-missed, .v-never { color: var(--bad); } .v-unknown { color: var(--warn); }
.unknown { color: var(--warn); font-weight:600; }
.badge-down { background: var(--bad); color:#fff; font-weight:700; font-size:11px;
  padding:1px 6px; border-radius:4px; margin-left:6px; white-space:nowrap; }
section.alert { border-color: var(--bad); border-width: 2px; }
section.alert h2 { color: var(--bad); }
section.alert ul { margin: 0; padding-left: 18px; }
li.down a { color: var(--bad); font-weight:600; }
p.down-line { color: var(--bad); font-weight:600; margin: 0 0 8px; }
.incident { border-top: 1px solid var(--line); padding-top: 6px; margin-top: 10px; }
.incident h4 { font-size: 14px; margin: 4px 0; }
.incident .reason { margin: 2px 0 6px; overflow-wrap: anywhere; }
:target { background: #fef9c3; }
.met { color: var(--ok); font-weight:600; } .missed { color: var(--bad); font-weight:600; }
.sev-high { color: var(--bad); font-weight:700; } .sev-medium { color: var(--warn); font-weight:700; }
.sev-low { color: var(--muted); font-weight:700; }
.facts { margin: 0 0 8px; color: var(--muted); }
.facts b { color: var(--ink); font-weight:600; }
ul.verdicts { margin: 6px 0 10px; padding-left: 18px; }
.charts { display:flex; gap:16px; flex-wrap:wrap; margin: 8px 0; }
svg.chart { background:#fff; border:1px solid var(--line); border-radius:6px; font-size:11px;
  max-width:100%; height:auto; }
svg.chart .title { font-size: 12px; }
.explain { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size:12px;
  background:#f1f5f9; padding:6px 8px; border-radius:4px; overflow-wrap:anywhere; }
pre.formula { background:#f1f5f9; padding:10px 12px; border-radius:6px; font-size:12px;
  white-space: pre-wrap; }
@media print {
  body { background:#fff; font-size: 11px; }
  main { padding: 0; max-width: none; }
  section { border: none; padding: 0; margin: 12px 0; break-inside: avoid-page; }
  section.component { break-before: page; }
  a { color: inherit; text-decoration: none; }
}
"""
