//! A run's checkpoint directory, replaced as a whole.
//!
//! A checkpoint is several files (generator, discriminator, optimizers, run state) that must
//! belong to the same step. [`save_checkpoint_dir`] writes them into `checkpoint.new/` and
//! swaps directories with renames, so after a crash at any point [`latest_checkpoint_dir`]
//! still finds a complete set. The files themselves are safetensors state dicts
//! (`state_file.rs`).

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use super::state_file::write_state;
use super::sync_dir;
use crate::error::{Error, Result};
use crate::nn::HostValue;

/// Directory names inside a run directory.
const CURRENT: &str = "checkpoint";
const NEW: &str = "checkpoint.new";
const OLD: &str = "checkpoint.old";

/// One file of a checkpoint: its name inside the checkpoint directory, entries and metadata.
pub type CheckpointFile<'a> = (&'a str, Vec<(String, HostValue)>, BTreeMap<String, String>);

/// Saves a complete set of files as `run_dir/checkpoint/`, replacing the previous set only
/// once every new file is on disk.
///
/// Files go into `checkpoint.new/`; then `checkpoint` is renamed to `checkpoint.old`,
/// `checkpoint.new` to `checkpoint`, and `checkpoint.old` is removed (a failure to remove it
/// is a warning: the save is done). A crash at any point leaves either `checkpoint/` or
/// `checkpoint.old/` complete; see [`latest_checkpoint_dir`].
pub fn save_checkpoint_dir(run_dir: &Path, files: &[CheckpointFile<'_>]) -> Result<()> {
    let mut names = HashSet::new();
    for (name, _, _) in files {
        let plain = Path::new(name).file_name().is_some_and(|f| f == *name);
        if !plain || name.ends_with(".tmp") {
            return Err(Error::Config(format!(
                "checkpoint file name '{name}' must be a plain file name (no directories, not *.tmp)"
            )));
        }
        if !names.insert(*name) {
            return Err(Error::Config(format!(
                "checkpoint file '{name}' is listed twice"
            )));
        }
    }
    let (current, new, old) = (run_dir.join(CURRENT), run_dir.join(NEW), run_dir.join(OLD));
    // A leftover checkpoint.new is from a save that crashed: never trusted, start over.
    if new.exists() {
        fs::remove_dir_all(&new).map_err(|e| Error::io(&new, e))?;
    }
    fs::create_dir_all(&new).map_err(|e| Error::io(&new, e))?;
    for (name, entries, meta) in files {
        write_state(&new.join(name), entries, meta)?;
    }
    sync_dir(Some(&new));
    if current.exists() {
        // A stale checkpoint.old beside a complete checkpoint is from a crash after the swap.
        if old.exists() {
            fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
        }
        fs::rename(&current, &old).map_err(|e| Error::io(&current, e))?;
    }
    // If checkpoint was missing and checkpoint.old exists, old is the last complete set: it
    // stays until the new one is in place.
    fs::rename(&new, &current).map_err(|e| Error::io(&new, e))?;
    sync_dir(Some(run_dir));
    // The new set is in place, so the save succeeded: a previous set that cannot be removed
    // is never read while checkpoint/ exists, but the next save must clear it to swap.
    if old.exists() {
        if let Err(e) = fs::remove_dir_all(&old) {
            eprintln!(
                "warning: checkpoint saved, but the previous one at {} could not be removed \
                 ({e}); remove it by hand before the next save",
                old.display()
            );
        }
    }
    Ok(())
}

/// The newest complete checkpoint directory of a run: `checkpoint/`, or `checkpoint.old/` if
/// a crash in the middle of the swap left only that. `checkpoint.new/` is never returned: it
/// may be partial. `None` if the run has no checkpoint.
pub fn latest_checkpoint_dir(run_dir: &Path) -> Option<PathBuf> {
    [CURRENT, OLD]
        .iter()
        .map(|d| run_dir.join(d))
        .find(|d| d.is_dir())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::state_file::fixtures::{meta, sample};
    use crate::io::state_file::read_state;
    use crate::io::test_dir;

    fn files(step: &str) -> Vec<CheckpointFile<'static>> {
        vec![
            ("generator.safetensors", sample(), meta(step)),
            ("discriminator.safetensors", sample(), meta(step)),
        ]
    }

    fn step_of(dir: &Path) -> String {
        read_state(&dir.join("generator.safetensors")).unwrap().1["step"].clone()
    }

    #[test]
    fn checkpoint_dir_swap_and_crash_recovery() {
        let run = test_dir("ckpt");
        assert_eq!(latest_checkpoint_dir(&run), None);
        save_checkpoint_dir(&run, &files("1")).unwrap();
        save_checkpoint_dir(&run, &files("2")).unwrap();
        let latest = latest_checkpoint_dir(&run).unwrap();
        assert_eq!(latest, run.join("checkpoint"));
        assert_eq!(step_of(&latest), "2");
        assert!(!run.join("checkpoint.new").exists() && !run.join("checkpoint.old").exists());

        // Crash while writing checkpoint.new: a partial file there is ignored.
        fs::create_dir_all(run.join("checkpoint.new")).unwrap();
        fs::write(
            run.join("checkpoint.new/generator.safetensors"),
            b"\x10\x00\x00",
        )
        .unwrap();
        assert_eq!(step_of(&latest_checkpoint_dir(&run).unwrap()), "2");

        // Crash between the two renames: only checkpoint.old (and a checkpoint.new) remain.
        fs::rename(run.join("checkpoint"), run.join("checkpoint.old")).unwrap();
        let latest = latest_checkpoint_dir(&run).unwrap();
        assert_eq!(latest, run.join("checkpoint.old"));
        assert_eq!(step_of(&latest), "2");

        // The next save recovers: the partial new dir is discarded, old is kept until the swap.
        save_checkpoint_dir(&run, &files("3")).unwrap();
        assert_eq!(step_of(&latest_checkpoint_dir(&run).unwrap()), "3");
        assert!(!run.join("checkpoint.new").exists() && !run.join("checkpoint.old").exists());

        // A corrupt file in the checkpoint gives a clear error naming it.
        let g = run.join("checkpoint/generator.safetensors");
        let bytes = fs::read(&g).unwrap();
        fs::write(&g, &bytes[..bytes.len() / 2]).unwrap();
        let e = read_state(&g).unwrap_err().to_string();
        assert!(
            e.contains("generator.safetensors") && e.contains("truncated"),
            "{e}"
        );

        let bad = save_checkpoint_dir(&run, &[("../x.safetensors", vec![], BTreeMap::new())]);
        assert!(bad.is_err());
        fs::remove_dir_all(&run).unwrap();
    }
}
