//! Self-contained HTML pages: `index.html` of one run (the summary, live streams, the per-job
//! table with the accountability account, the charts inlined as SVG, links to the data files
//! beside it) and the page of `cascade-sim report` putting several runs side by side. No
//! scripts, no external resources, so they render offline.

use super::results::Results;

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn secs(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.3}"))
}

/// The page's head and style, opened `<body>`.
pub fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>body{{font-family:sans-serif;margin:2em;max-width:1400px}}table{{border-collapse:collapse;margin:1em 0;font-size:14px}}\
         .scroll{{overflow-x:auto}}td,th{{border:1px solid #bbb;padding:3px 8px;text-align:right}}th{{background:#eee}}\
         td.l,th.l{{text-align:left;min-width:5em}}\
         figure{{margin:2em 0}}svg{{max-width:100%;height:auto}}.bad{{color:#b00;font-weight:bold}}\
         .side{{display:flex;flex-wrap:wrap;gap:1em}}.side figure{{flex:1 1 560px;margin:0}}\
         p.note{{color:#555}}</style></head><body>\n",
        esc(title)
    )
}

/// An SVG document ready to inline (without its XML declaration).
pub fn inline_svg(svg: &str) -> &str {
    let body = svg.trim_start_matches(|c| c != '<');
    body.strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>").unwrap_or(body)
}

/// The run's headline figures, as (column, value) pairs, for the summary row of a run.
pub fn headline(r: &Results) -> Vec<(&'static str, String)> {
    let o = &r.job_outcomes;
    let not_run = o.denied + o.unanswered + o.not_requested;
    vec![
        ("seed", r.seed.to_string()),
        ("strategy", esc(&r.strategy)),
        ("makespan (s)", secs(r.makespan_s)),
        ("lower bound (s)", secs(r.lower_bound_s)),
        ("ratio", r.ratio_to_bound.map_or_else(|| "–".into(), |x| format!("{x:.3}"))),
        ("p50 (s)", secs(r.completion_s.p50)),
        ("p99 (s)", secs(r.completion_s.p99)),
        ("deliveries", r.deliveries.to_string()),
        ("complete", r.completion_s.count.to_string()),
        ("unfinished", r.unfinished.to_string()),
        ("jobs not run", not_run.to_string()),
        ("faults", r.faults_total.to_string()),
        ("recoveries", r.recoveries_total.to_string()),
        ("events", r.events.to_string()),
        ("trace hash", esc(&r.trace_hash)),
    ]
}

/// A table in a box that scrolls sideways when it is wider than the page.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut h = String::from("<div class=scroll><table><tr>");
    for c in header {
        h.push_str(&format!("<th>{c}</th>"));
    }
    h.push_str("</tr>\n");
    for row in rows {
        h.push_str("<tr>");
        for (i, c) in row.iter().enumerate() {
            let class = if i == 0 || c.parse::<f64>().is_err() && c != "–" { " class=l" } else { "" };
            h.push_str(&format!("<td{class}>{c}</td>"));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table></div>\n");
    h
}

/// The live-stream table of a run: per live job, the rate, the bound, who kept up and the lag.
pub fn live_table(results: &Results) -> Option<String> {
    let rows: Vec<Vec<String>> = results
        .jobs
        .iter()
        .filter_map(|j| j.live_stream.as_ref().map(|l| (j, l)))
        .map(|(j, l)| {
            vec![
                esc(&j.name),
                format!("{:.3}", l.rate_mbps),
                format!("{:.3}", l.sustainable_rate_bound_mbps),
                format!("{} of {}", l.servers_sustained, j.servers),
                format!("{:.3}", l.playout_buffer_s),
                secs(l.lag_s.p50),
                secs(l.lag_s.p90),
                secs(l.lag_s.p99),
                secs(l.lag_s.max),
            ]
        })
        .collect();
    (!rows.is_empty()).then(|| {
        table(
            &[
                "live job",
                "rate (Mbit/s)",
                "sustainable bound (Mbit/s)",
                "servers that kept up",
                "playout buffer (s)",
                "lag p50 (s)",
                "lag p90 (s)",
                "lag p99 (s)",
                "lag max (s)",
            ],
            &rows,
        )
    })
}

/// Renders `index.html`; `charts` are (title, file name, SVG document) triples shown in order.
pub fn index_html(results: &Results, charts: &[(&str, &str, &str)]) -> String {
    let mut h = head(&format!("cascade-sim: {}", results.scenario));
    h.push_str(&format!("<h1>{}</h1>\n", esc(&results.scenario)));
    let figures = headline(results);
    let header: Vec<&str> = figures.iter().map(|f| f.0).collect();
    h.push_str(&table(&header, &[figures.iter().map(|f| f.1.clone()).collect()]));
    h.push_str(
        "<p class=note>Times of a job count from its request (<code>_s</code>); the run clock \
         (<code>_at_s</code>) counts from the start of the run. Deliveries are (server, job) pairs of the \
         jobs that ran; jobs denied, unanswered or never requested are listed below and counted in no total.</p>\n",
    );
    if let Some(live) = live_table(results) {
        h.push_str("<h2>Live streams</h2>\n");
        h.push_str(&live);
    }
    h.push_str("<h2>Jobs and the base server's account</h2>\n");
    let rows: Vec<Vec<String>> = results
        .jobs
        .iter()
        .map(|j| {
            let v = j.accountability.as_ref().map(|a| a.verdicts.clone()).unwrap_or_default();
            let consistent = j.accountability.as_ref().is_none_or(|a| a.consistent);
            let account = match (&j.outcome_reason, consistent) {
                (Some(reason), _) => format!("{}: {}", esc(&j.outcome), esc(reason)),
                (None, true) => format!("{}, account true", esc(&j.outcome)),
                (None, false) => "<span class=bad>NOT consistent</span>".into(),
            };
            vec![
                esc(&j.name),
                esc(&j.client),
                esc(&j.strategy),
                j.servers.to_string(),
                j.completed.to_string(),
                secs(j.requested_at_s),
                secs(j.created_s),
                secs(j.closed_s),
                secs(j.client_notified_s),
                secs(j.makespan_s),
                format!("{:.3}", j.lower_bound_s),
                j.ratio_to_bound.map_or_else(|| "–".into(), |r| format!("{r:.3}")),
                v.completed.to_string(),
                v.completed_after_fault.to_string(),
                v.repaired_then_completed.to_string(),
                v.failed.to_string(),
                account,
            ]
        })
        .collect();
    h.push_str(&table(
        &[
            "job",
            "client",
            "strategy",
            "servers",
            "content received",
            "requested at (run clock, s)",
            "created (s)",
            "closed (s)",
            "client told (s)",
            "makespan (s)",
            "bound (s)",
            "ratio",
            "completed",
            "after a fault",
            "repaired",
            "failed",
            "outcome",
        ],
        &rows,
    ));
    for (job, a) in results.jobs.iter().filter_map(|j| j.accountability.as_ref().map(|a| (j, a))) {
        if a.client_notices.is_empty() {
            continue;
        }
        h.push_str(&format!("<h3>What the client of {} was told</h3><ul>", esc(&job.name)));
        for n in &a.client_notices {
            h.push_str(&format!("<li>{:.3} s after the request: {}</li>", n.t_s, esc(&n.notice)));
        }
        h.push_str("</ul>\n");
    }
    h.push_str(
        "<h2>Data</h2><p><a href=\"results.json\">results.json</a> · <a href=\"nodes.csv\">nodes.csv</a> · \
         <a href=\"streams.csv\">streams.csv</a> · <a href=\"throughput.csv\">throughput.csv</a> · \
         <a href=\"progress.csv\">progress.csv</a> · <a href=\"live.csv\">live.csv</a></p>\n",
    );
    for (title, file, svg) in charts {
        h.push_str(&format!(
            "<figure><figcaption>{} (<a href=\"{}\">{}</a>)</figcaption>\n{}\n</figure>\n",
            esc(title),
            esc(file),
            esc(file),
            inline_svg(svg)
        ));
    }
    h.push_str("</body></html>\n");
    h
}
