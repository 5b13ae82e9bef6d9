//! Results of a run: the `results.json` document ([`results`]), closed-form lower bounds
//! ([`bounds`]), charts ([`chart`]), and writing them all into an output directory without ever
//! leaving a partial set of files behind ([`output`]).

pub mod bounds;
pub mod chart;
pub mod csv;
pub mod html;
pub mod live;
pub mod output;
pub mod overlay;
pub mod results;
pub mod scaling;
pub mod schema;
pub mod timeline;
pub mod trace;
pub mod utilisation;

pub use results::{Percentiles, Results};

use std::path::Path;

/// The files of one run, rendered in memory before anything touches the disk.
pub struct RunOutputs {
    /// `(file name, contents)` pairs.
    pub files: Vec<(&'static str, Vec<u8>)>,
    /// `nodes.csv` is not among `files`: the run has more (server, job) pairs than
    /// [`results::PER_SERVER_LIST_LIMIT`], and [`RunOutputs::write`] streams the file from the
    /// run into the staging directory row by row.
    pub streams_nodes_csv: bool,
}

impl RunOutputs {
    /// Renders every output of a run: `results.json`, the CSV files (`nodes`, `streams`,
    /// `throughput`, `progress`, `live`), the charts (`completion.svg` and `.png`,
    /// `timeline.svg`, `throughput.svg`, `progress.svg` when a job reported progress, `lag.svg`
    /// when a live job ran), `index.html`, and `trace.json` when `trace` is set (the run should
    /// then have recorded its messages). `log_x` forces a logarithmic time axis on the
    /// completion chart (it is chosen by itself when the jobs' scales differ by 10×).
    pub fn render(run: &crate::Run, trace: bool, log_x: bool) -> anyhow::Result<RunOutputs> {
        let results = &run.results;
        let chart_err = |name: &'static str| move |e: String| anyhow::anyhow!("rendering {name}: {e}");
        let mut json = serde_json::to_vec_pretty(results)?;
        json.push(b'\n');
        let completion = chart::completion_svg(results, log_x).map_err(chart_err("completion.svg"))?;
        let png = chart::completion_png(results, log_x).map_err(chart_err("completion.png"))?;
        let timeline = timeline::timeline_svg(&run.engine, results).map_err(chart_err("timeline.svg"))?;
        let bins = timeline::throughput_bins(&run.engine, results);
        let throughput = timeline::throughput_svg(&run.engine, results).map_err(chart_err("throughput.svg"))?;
        let progress = overlay::progress_svg(results).transpose().map_err(chart_err("progress.svg"))?;
        let lag_rows = live::lag_rows(&run.engine, results);
        let lag = live::lag_svg(results, &lag_rows).transpose().map_err(chart_err("lag.svg"))?;
        let mut charts: Vec<(&str, &str, &str)> = vec![
            ("Completion of servers", "completion.svg", &completion),
            ("Who received from whom", "timeline.svg", &timeline),
            ("Delivered throughput", "throughput.svg", &throughput),
        ];
        if let Some(lag) = &lag {
            charts.insert(1, ("Live streams: delivery lag", "lag.svg", lag));
        }
        if let Some(p) = &progress {
            charts.push(("The jobs as the client sees them", "progress.svg", p));
        }
        let page = html::index_html(results, &charts);
        let streams_nodes_csv = results.per_server_lists_omitted;
        let mut files = vec![("results.json", json)];
        if !streams_nodes_csv {
            files.push(("nodes.csv", csv::nodes_csv(&run.engine)?));
        }
        files.extend([
            ("streams.csv", csv::streams_csv(&run.engine, results)?),
            ("throughput.csv", csv::throughput_csv(&bins)?),
            ("progress.csv", csv::progress_csv(results)?),
            ("live.csv", csv::live_csv(&lag_rows)?),
            ("completion.svg", completion.into_bytes()),
            ("completion.png", png),
            ("timeline.svg", timeline.into_bytes()),
            ("throughput.svg", throughput.into_bytes()),
        ]);
        if let Some(p) = progress {
            files.push(("progress.svg", p.into_bytes()));
        }
        if let Some(l) = lag {
            files.push(("lag.svg", l.into_bytes()));
        }
        files.push(("index.html", page.into_bytes()));
        if trace {
            files.push(("trace.json", trace::chrome_trace_bytes(&run.engine)?));
        }
        Ok(RunOutputs { files, streams_nodes_csv })
    }

    /// Writes every file of `run` into `dir` as one set (see [`output`]).
    pub fn write(&self, dir: &Path, run: &crate::Run) -> Result<(), output::OutputError> {
        self.write_streamed(dir, run, None)
    }

    /// Writes every file into `dir` as one set, with `trace.json` of `run` written straight
    /// into the staging directory from the messages `spool` took during the run (render the
    /// other files with `trace` off).
    pub fn write_with_trace(
        &self,
        dir: &Path,
        run: &crate::Run,
        spool: &trace::TraceSpool,
    ) -> Result<(), output::OutputError> {
        self.write_streamed(dir, run, Some(spool))
    }

    fn write_streamed(
        &self,
        dir: &Path,
        run: &crate::Run,
        spool: Option<&trace::TraceSpool>,
    ) -> Result<(), output::OutputError> {
        let nodes = |out: &mut dyn std::io::Write| csv::write_nodes_csv(&run.engine, out);
        let trace = |out: &mut dyn std::io::Write| trace::write_chrome_trace(&run.engine, spool, out);
        let mut streamed: Vec<output::StreamedFile> = Vec::new();
        if self.streams_nodes_csv {
            streamed.push(("nodes.csv", &nodes));
        }
        if spool.is_some() {
            streamed.push(("trace.json", &trace));
        }
        output::write_outputs_streamed(dir, output::OutputKind::Run, &self.files, &streamed)
    }

    /// The names of the files [`RunOutputs::write`] writes (`trace.json` when `trace`).
    pub fn names(&self, trace: bool) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.files.iter().map(|(n, _)| *n).collect();
        if self.streams_nodes_csv {
            names.insert(1, "nodes.csv");
        }
        if trace {
            names.push("trace.json");
        }
        names
    }
}
