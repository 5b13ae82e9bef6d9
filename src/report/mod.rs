//! Results of a run: the `results.json` document ([`results`]), closed-form lower bounds
//! ([`bounds`]), charts ([`chart`]), and writing them all into an output directory without ever
//! leaving a partial set of files behind ([`output`]).

pub mod bounds;
pub mod chart;
pub mod csv;
pub mod html;
pub mod output;
pub mod overlay;
pub mod results;
pub mod timeline;
pub mod trace;
pub mod utilisation;

pub use results::{Percentiles, Results};

use std::path::Path;

/// The files of one run, rendered in memory before anything touches the disk.
pub struct RunOutputs {
    /// `(file name, contents)` pairs.
    pub files: Vec<(&'static str, Vec<u8>)>,
}

impl RunOutputs {
    /// Renders every output of a run: `results.json`, `nodes.csv`, `completion.svg` and
    /// `.png`, `timeline.svg`, `throughput.svg`, `index.html`, and `trace.json` when `trace`
    /// is set (the run should then have recorded its messages).
    pub fn render(run: &crate::Run, trace: bool) -> anyhow::Result<RunOutputs> {
        let results = &run.results;
        let chart_err = |name: &'static str| move |e: String| anyhow::anyhow!("rendering {name}: {e}");
        let mut json = serde_json::to_vec_pretty(results)?;
        json.push(b'\n');
        let completion = chart::completion_svg(results).map_err(chart_err("completion.svg"))?;
        let png = chart::completion_png(results).map_err(chart_err("completion.png"))?;
        let timeline = timeline::timeline_svg(&run.engine, results).map_err(chart_err("timeline.svg"))?;
        let throughput = timeline::throughput_svg(&run.engine, results).map_err(chart_err("throughput.svg"))?;
        let page = html::index_html(
            results,
            &[
                ("Completion of servers over time", &completion),
                ("Who received from whom", &timeline),
                ("Delivered throughput", &throughput),
            ],
        );
        let mut files = vec![
            ("results.json", json),
            ("nodes.csv", csv::nodes_csv(results)?),
            ("completion.svg", completion.into_bytes()),
            ("completion.png", png),
            ("timeline.svg", timeline.into_bytes()),
            ("throughput.svg", throughput.into_bytes()),
            ("index.html", page.into_bytes()),
        ];
        if trace {
            files.push(("trace.json", serde_json::to_vec(&trace::chrome_trace(&run.engine))?));
        }
        Ok(RunOutputs { files })
    }

    /// Writes every file into `dir` as one set (see [`output`]).
    pub fn write(&self, dir: &Path) -> Result<(), output::OutputError> {
        let files: Vec<(String, Vec<u8>)> = self.files.iter().map(|(n, b)| (n.to_string(), b.clone())).collect();
        output::write_outputs(dir, output::OutputKind::Run, &files)
    }
}
