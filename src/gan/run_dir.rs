//! The folder of a new run: which folders may become one, and how a run that fails to start
//! leaves the file system as it found it.
//!
//! A new run goes into a missing folder (created with its missing parents), an empty one, or
//! the folder of a run that stopped before its first checkpoint (its `config.toml` parses and
//! there is nothing to resume; its old outputs are cleared so they do not mix with the new
//! run's). Any other folder holds someone else's files and is refused.

use std::path::{Component, Path, PathBuf};

use super::config::TrainConfig;
use super::run_lock::{self, RunLock};
use crate::error::{Error, Result};

/// Every file and folder a run writes beside its checkpoints.
const OUTPUTS: [&str; 13] = [
    "config.toml",
    "losses.csv",
    "losses.png",
    "samples",
    "samples.gif",
    "toy",
    "attention",
    "metrics.csv",
    "metrics.png",
    "metrics_kl.png",
    "metrics_fd.png",
    "metrics.json",
    "checkpoint.new",
];

/// A folder made ready for a new run; [`NewRunDir::abandon`] undoes it.
pub(crate) struct NewRunDir {
    path: PathBuf,
    /// Folders this call created, the run folder first, then its parents outwards.
    created: Vec<PathBuf>,
    lock: RunLock,
    /// Whether this call made the lock file (removed with the rest on a failed start).
    lock_created: bool,
}

/// Checks that `run_dir` may hold a new run and creates it.
pub(crate) fn prepare(run_dir: &Path) -> Result<NewRunDir> {
    if run_dir.exists() && !run_dir.is_dir() {
        return Err(Error::Config(format!(
            "{} is a file; --out names the run's folder",
            run_dir.display()
        )));
    }
    refuse_parent_of_missing(run_dir)?;
    // Someone else's folder is refused before anything is written into it.
    let occupied = || {
        std::fs::read_dir(run_dir).is_ok_and(|d| {
            d.flatten()
                .any(|e| e.file_name() != std::ffi::OsStr::new(run_lock::LOCK))
        })
    };
    if occupied() && TrainConfig::read_run(run_dir).is_err() {
        return Err(Error::Config(format!(
            "{} is not empty and is not a tapegan run; choose another --out or empty it",
            run_dir.display()
        )));
    }
    let created: Vec<PathBuf> = run_dir
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
        .map(Path::to_path_buf)
        .collect();
    std::fs::create_dir_all(run_dir).map_err(|e| Error::io(run_dir, e))?;
    // Taken before the old outputs are cleared: a run being trained there would otherwise
    // look like one that stopped before its first checkpoint, and lose its outputs. (On
    // failure nothing is undone: the folder is the other process's.)
    let lock_file = run_dir.join(run_lock::LOCK);
    let lock_created = !lock_file.exists();
    let lock = RunLock::acquire(run_dir)?;
    if occupied() {
        clear_outputs(run_dir)?;
    }
    Ok(NewRunDir {
        path: run_dir.to_path_buf(),
        created,
        lock,
        lock_created,
    })
}

/// A run inside an image folder it trains on would read its own sample grids and charts as
/// training images when resumed: refused.
pub(crate) fn refuse_inside_data(run_dir: &Path, data_dir: &Path) -> Result<()> {
    let Ok(data) = std::fs::canonicalize(data_dir) else {
        return Ok(()); // a missing data folder is reported when the data is read
    };
    // The run folder may not exist yet: its nearest existing ancestor, resolved, plus the rest.
    let absolute = std::path::absolute(run_dir).map_err(|e| Error::io(run_dir, e))?;
    let resolved = absolute.ancestors().find_map(|a| {
        let rest = absolute.strip_prefix(a).ok()?;
        std::fs::canonicalize(a).ok().map(|c| c.join(rest))
    });
    if resolved.is_some_and(|r| r.starts_with(&data)) {
        return Err(Error::Config(format!(
            "--out {} is inside the data folder {}: the run's images would become training \
             data; choose an --out outside it",
            run_dir.display(),
            data_dir.display()
        )));
    }
    Ok(())
}

/// `missing/..` names an existing folder only once `missing` is created, so none of the
/// checks above would see it, and undoing a failed start would remove that existing folder.
fn refuse_parent_of_missing(run_dir: &Path) -> Result<()> {
    let mut prefix = PathBuf::new();
    let mut missing = false;
    for c in run_dir.components() {
        if missing && c == Component::ParentDir {
            return Err(Error::Config(format!(
                "{}: '..' comes after {}, which does not exist; give the run folder's path \
                 without it",
                run_dir.display(),
                prefix.display()
            )));
        }
        prefix.push(c);
        missing = missing || !prefix.try_exists().map_err(|e| Error::io(&prefix, e))?;
    }
    Ok(())
}

impl NewRunDir {
    /// The run started: its trainer keeps the lock.
    pub(crate) fn into_lock(self) -> RunLock {
        self.lock
    }

    /// Removes what the failed start wrote: the run folder if this call created it (else the
    /// run's outputs inside it), then each parent it created while that parent is empty —
    /// another run started meanwhile beside this one keeps its folder.
    pub(crate) fn abandon(self) {
        match self.created.split_first() {
            Some((run, parents)) => {
                let _ = std::fs::remove_dir_all(run);
                for p in parents {
                    if std::fs::remove_dir(p).is_err() {
                        break;
                    }
                }
            }
            None => {
                let _ = clear_outputs(&self.path);
                if self.lock_created {
                    let _ = std::fs::remove_file(self.path.join(run_lock::LOCK));
                }
            }
        }
    }
}

/// Removes a run's outputs (never its checkpoints or other files) from `dir`.
fn clear_outputs(dir: &Path) -> Result<()> {
    for name in OUTPUTS {
        let p = dir.join(name);
        let removed = if p.is_dir() {
            std::fs::remove_dir_all(&p)
        } else if p.exists() {
            std::fs::remove_file(&p)
        } else {
            Ok(())
        };
        removed.map_err(|e| Error::io(&p, e))?;
    }
    Ok(())
}
