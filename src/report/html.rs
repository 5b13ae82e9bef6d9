//! `index.html`: one self-contained page per run — the summary, the per-job table with the
//! accountability account, and the charts inlined as SVG. No scripts, no external resources,
//! so it renders offline.

use super::results::Results;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn secs(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.3}"))
}

/// Renders the page; `charts` are (title, SVG document) pairs shown in order.
pub fn index_html(results: &Results, charts: &[(&str, &str)]) -> String {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.push_str(&format!("<title>cascade-sim: {}</title>", esc(&results.scenario)));
    h.push_str(
        "<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:1em 0}\
         td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}th{background:#eee}td.l{text-align:left}\
         figure{margin:2em 0}svg{max-width:100%;height:auto}.bad{color:#b00;font-weight:bold}</style></head><body>\n",
    );
    h.push_str(&format!("<h1>{}</h1>\n", esc(&results.scenario)));
    h.push_str("<table><tr><th>seed</th><th>strategy</th><th>makespan (s)</th><th>lower bound (s)</th><th>ratio</th>");
    h.push_str(
        "<th>p50 (s)</th><th>p99 (s)</th><th>unfinished</th><th>faults</th><th>events</th><th>trace hash</th></tr>",
    );
    h.push_str(&format!(
        "<tr><td>{}</td><td class=l>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=l>{}</td></tr></table>\n",
        results.seed,
        esc(&results.strategy),
        secs(results.makespan_s),
        secs(results.lower_bound_s),
        results.ratio_to_bound.map_or_else(|| "–".into(), |r| format!("{r:.3}")),
        secs(results.completion_s.p50),
        secs(results.completion_s.p99),
        results.unfinished,
        results.faults_total,
        results.events,
        esc(&results.trace_hash)
    ));
    h.push_str("<h2>Jobs and the base server's account</h2>\n<table><tr><th>job</th><th>client</th><th>strategy</th>");
    h.push_str(
        "<th>servers</th><th>content received</th><th>created (s)</th><th>closed (s)</th><th>client told (s)</th>",
    );
    h.push_str("<th>makespan (s)</th><th>bound (s)</th><th>ratio</th><th>completed</th><th>after a fault</th><th>repaired</th><th>failed</th><th>account</th></tr>\n");
    for j in &results.jobs {
        let (mut done, mut after_fault, mut repaired, mut failed, mut consistent) = (0, 0, 0, 0, true);
        if let Some(a) = &j.accountability {
            done = a.servers.iter().filter(|s| s.state == "completed").count();
            after_fault = a.servers.iter().filter(|s| s.state == "completed_after_fault").count();
            repaired = a.servers.iter().filter(|s| s.state == "repaired_then_completed").count();
            failed = a.servers.iter().filter(|s| s.state == "failed").count();
            consistent = a.consistent;
        }
        let account = match (&j.outcome_reason, consistent) {
            (Some(reason), _) => format!("{}: {}", esc(&j.outcome), esc(reason)),
            (None, true) => "true".into(),
            (None, false) => "<span class=bad>NOT consistent</span>".into(),
        };
        h.push_str(&format!(
            "<tr><td class=l>{}</td><td class=l>{}</td><td class=l>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{}</td><td>{done}</td><td>{after_fault}</td><td>{repaired}</td><td>{failed}</td><td class=l>{account}</td></tr>\n",
            esc(&j.name),
            esc(&j.client),
            esc(&j.strategy),
            j.servers,
            j.completed,
            secs(j.created_s),
            secs(j.closed_s),
            secs(j.client_notified_s),
            secs(j.makespan_s),
            j.lower_bound_s,
            j.ratio_to_bound.map_or_else(|| "–".into(), |r| format!("{r:.3}")),
        ));
    }
    h.push_str("</table>\n");
    for j in results.jobs.iter().filter_map(|j| j.accountability.as_ref().map(|a| (j, a))) {
        let (job, a) = j;
        if a.client_notices.is_empty() {
            continue;
        }
        h.push_str(&format!("<h3>What the client of {} was told</h3><ul>", esc(&job.name)));
        for n in &a.client_notices {
            h.push_str(&format!("<li>{:.3} s: {}</li>", n.t_s, esc(&n.notice)));
        }
        h.push_str("</ul>\n");
    }
    for (title, svg) in charts {
        // The SVG documents are inlined as they are (plotters writes plain SVG).
        let body = svg.trim_start_matches(|c| c != '<');
        let body = body.strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>").unwrap_or(body);
        h.push_str(&format!("<figure><figcaption>{}</figcaption>\n{}\n</figure>\n", esc(title), body));
    }
    h.push_str("</body></html>\n");
    h
}
