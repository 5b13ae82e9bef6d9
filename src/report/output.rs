//! Writing a set of output files into a directory safely.
//!
//! The rules (the README's "Where outputs go" says the same for users):
//!
//! - **All or nothing.** Every file is rendered in memory first, then written into a fresh
//!   temporary directory (`.cascade-sim-XXXXXX`, created exclusively with an unpredictable
//!   name) and moved into place by `rename`. A new output directory is that
//!   temporary directory renamed as a whole (it is made inside the target's parent); into an
//!   existing directory the files are renamed one by one from a temporary directory made
//!   inside it (same filesystem, so every rename is atomic and no file is ever seen half
//!   written). A failure leaves the previous files as they were.
//! - **No link is followed.** Files are created with `O_EXCL` (a symlink at a temporary name
//!   makes the write fail instead of redirecting it), `rename` replaces a name rather than
//!   what it points to, and a target that is itself a symbolic link is refused.
//! - **The manifest.** Each output directory holds [`MANIFEST`], listing per kind of output
//!   (`run`, `compare`, `sweep`) the files cascade-sim wrote there. A new output of a kind
//!   removes the files the previous output of the same kind listed and did not write again
//!   (a `trace.json` from an earlier `--trace` run); files of other kinds stay.
//! - **Never touch what we did not write.** In an existing directory without a manifest,
//!   every entry must be a regular file with a name cascade-sim writes (an output directory
//!   of an older version); otherwise the directory is refused (think `--out .` or
//!   `--out $HOME`). With a manifest, other files are left alone, but a file at one of our
//!   names that the manifest does not list is refused rather than replaced.

use crate::scenario::limits::one_line;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The manifest's file name.
pub const MANIFEST: &str = ".cascade-sim-outputs.json";

/// Prefix of temporary directories.
const TEMP_PREFIX: &str = ".cascade-sim-";

/// The kind of an output set; the manifest keeps one file list per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    /// `run`: results.json, nodes.csv, charts, index.html, trace.json.
    Run,
    /// `compare`: compare.csv and two charts.
    Compare,
    /// `sweep` and `merge`: sweep.json, runs.csv, summary.csv and `<metric>_vs_<parameter>.svg`
    /// charts.
    Sweep,
    /// `report`: report.html and report_cdf.svg.
    Report,
}

const KINDS: [OutputKind; 4] = [OutputKind::Run, OutputKind::Compare, OutputKind::Sweep, OutputKind::Report];

/// The files of a run, `trace.json` (written with `--trace` only) last. `progress.svg` is
/// written when a job reported progress, `lag.svg` when a live job ran.
pub const RUN_FILES: [&str; 14] = [
    "results.json",
    "nodes.csv",
    "streams.csv",
    "throughput.csv",
    "progress.csv",
    "live.csv",
    "completion.svg",
    "completion.png",
    "timeline.svg",
    "throughput.svg",
    "progress.svg",
    "lag.svg",
    "index.html",
    "trace.json",
];

/// The files of `compare`.
pub const COMPARE_FILES: [&str; 5] =
    ["compare.csv", "compare_runs.csv", "compare_cdf.svg", "compare_makespan.svg", "compare.md"];

/// The files of `report`: the page, and the completion overlay of its runs (when it has runs).
pub const REPORT_FILES: [&str; 2] = ["report.html", "report_cdf.svg"];

/// The files a run may write, with or without `--trace`.
pub fn run_files(trace: bool) -> &'static [&'static str] {
    &RUN_FILES[..if trace { 14 } else { 13 }]
}

impl OutputKind {
    /// The kind's name in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            OutputKind::Run => "run",
            OutputKind::Compare => "compare",
            OutputKind::Sweep => "sweep",
            OutputKind::Report => "report",
        }
    }

    /// Whether this kind of output writes files named `file`.
    pub fn owns(self, file: &str) -> bool {
        match self {
            OutputKind::Run => RUN_FILES.contains(&file),
            OutputKind::Compare => COMPARE_FILES.contains(&file),
            OutputKind::Report => REPORT_FILES.contains(&file),
            OutputKind::Sweep => {
                file == "sweep.json"
                    || file == "runs.csv"
                    || file == "summary.csv"
                    || file.strip_suffix(".svg").is_some_and(|stem| {
                        stem.contains("_vs_") && stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    })
            }
        }
    }
}

/// Why outputs were not written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The target cannot be used as an output directory (a problem with the argument).
    #[error("{}: {}", one_line(.path), one_line(.reason))]
    Refused {
        /// The target.
        path: String,
        /// Why, and what to do instead.
        reason: String,
    },
    /// The system failed a read or write.
    #[error("{}: {source}", one_line(.path))]
    Io {
        /// The file or directory.
        path: String,
        /// The operating-system error.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io { path: path.display().to_string(), source }
}

fn refused(path: &Path, reason: impl Into<String>) -> OutputError {
    OutputError::Refused { path: path.display().to_string(), reason: reason.into() }
}

/// `name` as one safe path component for a default output directory: ASCII letters, digits,
/// `-`, `_` and `.` kept, anything else `_`, no leading dot (so never `.` or `..`), at most 100
/// characters, `scenario` when nothing is left.
pub fn safe_component(name: &str) -> String {
    let mapped: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).collect();
    let trimmed: String = mapped.trim_start_matches('.').chars().take(100).collect();
    if trimmed.is_empty() {
        "scenario".into()
    } else {
        trimmed
    }
}

/// Files per kind, as the manifest stores them.
type Listing = BTreeMap<String, BTreeSet<String>>;

fn manifest_bytes(listing: &Listing) -> Vec<u8> {
    let doc = serde_json::json!({ "written_by": "cascade-sim", "files": listing });
    let mut bytes = serde_json::to_vec_pretty(&doc).expect("manifest serialises");
    bytes.push(b'\n');
    bytes
}

/// Creates `path` with `contents`; fails if anything (a file, a symlink) is already there.
fn create_new(path: &Path, contents: &[u8]) -> Result<(), OutputError> {
    let mut f = fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(io(path))?;
    f.write_all(contents).map_err(io(path))
}

fn temp_dir_in(dir: &Path) -> Result<tempfile::TempDir, OutputError> {
    tempfile::Builder::new().prefix(TEMP_PREFIX).tempdir_in(dir).map_err(io(dir))
}

/// Writes `files` as the `kind` outputs of directory `target` by the rules of this module.
pub fn write_outputs<N: AsRef<str>, B: AsRef<[u8]>>(
    target: &Path,
    kind: OutputKind,
    files: &[(N, B)],
) -> Result<(), OutputError> {
    write_outputs_streamed(target, kind, files, &[])
}

/// Writes one file of an output set into the staging directory (for a file too big to render
/// in memory first, like a trace).
pub type StreamedFile<'a> = (&'a str, &'a dyn Fn(&mut dyn Write) -> std::io::Result<()>);

/// [`write_outputs`] with some files written by functions straight into the staging directory:
/// the same all-or-nothing rules hold (a failing function leaves nothing behind).
pub fn write_outputs_streamed<N: AsRef<str>, B: AsRef<[u8]>>(
    target: &Path,
    kind: OutputKind,
    files: &[(N, B)],
    streamed: &[StreamedFile],
) -> Result<(), OutputError> {
    let staged: Vec<Staged> = files
        .iter()
        .map(|(n, b)| Staged { name: n.as_ref(), contents: StagedContents::Bytes(b.as_ref()) })
        .chain(streamed.iter().map(|&(name, write)| Staged { name, contents: StagedContents::Written(write) }))
        .collect();
    for file in &staged {
        assert!(kind.owns(file.name), "{} is not a {} output", file.name, kind.name());
    }
    let names: Vec<&str> = staged.iter().map(|f| f.name).collect();
    match inspect(target, kind, &names)? {
        None => new_directory(target, kind, &staged),
        Some(listing) => existing_directory(target, kind, &staged, listing),
    }
}

/// A file to put into the staging directory.
struct Staged<'a> {
    name: &'a str,
    contents: StagedContents<'a>,
}

enum StagedContents<'a> {
    Bytes(&'a [u8]),
    Written(&'a dyn Fn(&mut dyn Write) -> std::io::Result<()>),
}

impl Staged<'_> {
    /// Creates the file in `dir` (exclusively, like [`create_new`]).
    fn stage(&self, dir: &Path) -> Result<(), OutputError> {
        let path = dir.join(self.name);
        match self.contents {
            StagedContents::Bytes(bytes) => create_new(&path, bytes),
            StagedContents::Written(write) => {
                let f = fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(io(&path))?;
                let mut out = std::io::BufWriter::new(f);
                write(&mut out).and_then(|()| out.flush()).map_err(io(&path))
            }
        }
    }
}

/// An unnamed temporary file for data a run produces as it goes (a trace's messages), made
/// where `target`'s outputs will be staged: in `target` when it is a directory, else in its
/// nearest existing ancestor. It has no name (it is removed when closed), so it never shows in
/// the output directory, whatever happens.
pub fn spool_file(target: &Path) -> Result<fs::File, OutputError> {
    let mut dir = target;
    loop {
        if fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
            break;
        }
        match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => dir = p,
            _ => {
                dir = Path::new(".");
                break;
            }
        }
    }
    tempfile::tempfile_in(dir).map_err(io(dir))
}

/// Checks, before any work is done, that `kind` outputs named `names` could be written into
/// `target` (the same checks [`write_outputs`] makes).
pub fn check_target(target: &Path, kind: OutputKind, names: &[&str]) -> Result<(), OutputError> {
    inspect(target, kind, names).map(|_| ())
}

/// What the target holds: `None` when it does not exist, else the files of ours per kind.
fn inspect(target: &Path, kind: OutputKind, names: &[&str]) -> Result<Option<Listing>, OutputError> {
    if target.as_os_str().is_empty() {
        return Err(refused(target, "the output directory must not be an empty path"));
    }
    match fs::symlink_metadata(target) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(target)(e)),
        Ok(m) if m.file_type().is_symlink() => {
            Err(refused(target, "is a symbolic link; outputs never follow links: give the directory it points to"))
        }
        Ok(m) if !m.is_dir() => Err(refused(target, "exists and is not a directory")),
        Ok(_) => existing_listing(target, kind, names).map(Some),
    }
}

/// The target does not exist: a temporary directory beside it gets every file and is renamed
/// to the target in one step.
fn new_directory(target: &Path, kind: OutputKind, files: &[Staged]) -> Result<(), OutputError> {
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io(&parent))?;
    let tmp = temp_dir_in(&parent)?;
    for file in files {
        file.stage(tmp.path())?;
    }
    let listing = Listing::from([(kind.name().to_string(), files.iter().map(|f| f.name.to_string()).collect())]);
    create_new(&tmp.path().join(MANIFEST), &manifest_bytes(&listing))?;
    match fs::rename(tmp.path(), target) {
        Ok(()) => {
            // The directory lives on under its new name: nothing to remove.
            let _ = tmp.keep();
            Ok(())
        }
        Err(e) if target.exists() => {
            Err(refused(target, format!("appeared while the outputs were being written ({e}); run again")))
        }
        Err(e) => Err(io(target)(e)),
    }
}

/// What an existing directory holds: regular files by name, and other entries.
struct Contents {
    files: BTreeSet<String>,
    others: BTreeSet<String>,
}

fn contents(dir: &Path) -> Result<Contents, OutputError> {
    let mut c = Contents { files: BTreeSet::new(), others: BTreeSet::new() };
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // A temporary directory of an interrupted or concurrent run is ours: left alone.
        if name.starts_with(TEMP_PREFIX) && name != MANIFEST {
            continue;
        }
        let file_type = entry.file_type().map_err(io(dir))?;
        if file_type.is_file() && entry.file_name().to_str().is_some() {
            c.files.insert(name);
        } else {
            c.others.insert(name);
        }
    }
    Ok(c)
}

/// The files the manifest of `dir` lists that are still there as regular files.
fn read_manifest(dir: &Path, present: &BTreeSet<String>) -> Result<Listing, OutputError> {
    let path = dir.join(MANIFEST);
    let mut text = String::new();
    fs::File::open(&path).and_then(|f| f.take(1 << 20).read_to_string(&mut text)).map_err(io(&path))?;
    let bad = || refused(&path, "is not a cascade-sim manifest: remove it or choose another output directory");
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|_| bad())?;
    let listed = doc.get("files").and_then(serde_json::Value::as_object).ok_or_else(bad)?;
    let mut listing = Listing::new();
    for kind in KINDS {
        let names = listed.get(kind.name()).and_then(serde_json::Value::as_array).into_iter().flatten();
        let names: BTreeSet<String> = names
            .filter_map(serde_json::Value::as_str)
            .filter(|n| kind.owns(n) && present.contains(*n))
            .map(str::to_string)
            .collect();
        if !names.is_empty() {
            listing.insert(kind.name().to_string(), names);
        }
    }
    Ok(listing)
}

/// The files of ours in the existing directory `target`, per kind; refuses a directory with
/// foreign files and no manifest, and a foreign entry at one of `names`.
fn existing_listing(target: &Path, kind: OutputKind, names: &[&str]) -> Result<Listing, OutputError> {
    let present = contents(target)?;
    let listing = if present.files.contains(MANIFEST) {
        read_manifest(target, &present.files)?
    } else {
        // No manifest: only an output directory of ours (an older version wrote none).
        let foreign: Vec<&String> =
            present.files.iter().filter(|n| !KINDS.iter().any(|k| k.owns(n))).chain(present.others.iter()).collect();
        if let Some(example) = foreign.first() {
            return Err(refused(
                target,
                format!(
                    "is not empty and holds {} entr{} cascade-sim did not write (e.g. `{example}`) and no {MANIFEST}; \
                     choose a new or empty directory",
                    foreign.len(),
                    if foreign.len() == 1 { "y" } else { "ies" }
                ),
            ));
        }
        let mut listing = Listing::new();
        for name in &present.files {
            for k in KINDS.iter().filter(|k| k.owns(name)) {
                listing.entry(k.name().to_string()).or_default().insert(name.clone());
            }
        }
        listing
    };
    let ours: BTreeSet<&String> = listing.values().flatten().collect();
    for name in names {
        let name = name.to_string();
        if present.others.contains(&name) || (present.files.contains(&name) && !ours.contains(&name)) {
            return Err(refused(
                target,
                format!("`{name}` is there and cascade-sim did not write it (not in {MANIFEST}); move it away first"),
            ));
        }
    }
    debug_assert!(names.iter().all(|n| kind.owns(n)));
    Ok(listing)
}

/// The target is a directory whose files of ours are `listing`: rename the new files in from a
/// temporary directory inside it, remove this kind's stale files, and update the manifest.
fn existing_directory(
    target: &Path,
    kind: OutputKind,
    files: &[Staged],
    mut listing: Listing,
) -> Result<(), OutputError> {
    let new: BTreeSet<String> = files.iter().map(|f| f.name.to_string()).collect();
    let stale: Vec<String> =
        listing.get(kind.name()).map_or_else(Vec::new, |old| old.difference(&new).cloned().collect());

    let tmp = temp_dir_in(target)?;
    for file in files {
        file.stage(tmp.path())?;
    }
    // While files move, the manifest lists the old and the new ones: whatever happens, every
    // file of ours in the directory is listed.
    let mut during = listing.clone();
    during.entry(kind.name().to_string()).or_default().extend(new.iter().cloned());
    let install_manifest = |l: &Listing, step: &str| -> Result<(), OutputError> {
        let staged = tmp.path().join(format!("{MANIFEST}.{step}"));
        create_new(&staged, &manifest_bytes(l))?;
        fs::rename(&staged, target.join(MANIFEST)).map_err(io(&target.join(MANIFEST)))
    };
    install_manifest(&during, "during")?;
    for name in &new {
        fs::rename(tmp.path().join(name), target.join(name)).map_err(io(&target.join(name)))?;
    }
    for name in &stale {
        match fs::remove_file(target.join(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&target.join(name))(e)),
            _ => {}
        }
    }
    listing.insert(kind.name().to_string(), new);
    install_manifest(&listing, "after")
}

/// Writes one file by creating a temporary file beside it (exclusive, unpredictable name) and
/// renaming it over `path`, so that readers see the old or the new contents and a symlink at
/// `path` is replaced, not followed.
pub fn write_file_atomically(path: &Path, contents: &[u8]) -> Result<(), OutputError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new().prefix(TEMP_PREFIX).tempfile_in(dir).map_err(io(dir))?;
    tmp.write_all(contents).map_err(io(path))?;
    tmp.persist(path).map_err(|e| io(path)(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_become_one_safe_component() {
        assert_eq!(safe_component(".."), "scenario");
        assert_eq!(safe_component("."), "scenario");
        assert_eq!(safe_component(""), "scenario");
        assert_eq!(safe_component("/etc/passwd"), "_etc_passwd");
        assert_eq!(safe_component("../../x"), "_.._x");
        assert_eq!(safe_component("a\nb c"), "a_b_c");
        assert_eq!(safe_component("quickstart"), "quickstart");
        assert_eq!(safe_component(&"x".repeat(300)).len(), 100);
    }

    #[test]
    fn kinds_own_their_names_only() {
        assert!(OutputKind::Run.owns("trace.json") && !OutputKind::Run.owns("runs.csv"));
        assert!(OutputKind::Sweep.owns("makespan_s_vs_network_groups_0_count.svg"));
        assert!(!OutputKind::Sweep.owns("../x_vs_y.svg") && !OutputKind::Sweep.owns("notes.svg"));
        assert!(!KINDS.iter().any(|k| k.owns(MANIFEST)));
    }
}
