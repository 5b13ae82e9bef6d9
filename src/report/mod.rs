//! Results of a run: the `results.json` document ([`results`]), closed-form lower bounds
//! ([`bounds`]), charts ([`chart`]), and writing them all into an output directory without ever
//! leaving a partial set of files behind.

pub mod bounds;
pub mod chart;
pub mod overlay;
pub mod results;

pub use results::{Percentiles, Results};

use std::path::Path;

/// The files of one run, rendered in memory before anything touches the disk.
pub struct RunOutputs {
    /// `(file name, contents)` pairs.
    pub files: Vec<(&'static str, Vec<u8>)>,
}

impl RunOutputs {
    /// Renders `results.json` and `completion.svg`.
    pub fn render(results: &Results) -> anyhow::Result<RunOutputs> {
        let mut json = serde_json::to_vec_pretty(results)?;
        json.push(b'\n');
        let svg = chart::completion_svg(results).map_err(|e| anyhow::anyhow!("rendering completion.svg: {e}"))?;
        Ok(RunOutputs { files: vec![("results.json", json), ("completion.svg", svg.into_bytes())] })
    }

    /// Writes every file into `dir` (created if needed). Each file is written to a temporary
    /// name and renamed into place, so an interrupted write never leaves a truncated file.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        for (name, contents) in &self.files {
            let tmp = dir.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, contents).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tmp.display()))?;
            std::fs::rename(&tmp, dir.join(name))
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", dir.join(name).display()))?;
        }
        Ok(())
    }
}
