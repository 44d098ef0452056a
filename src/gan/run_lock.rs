//! One process per run directory: a `lock` file holding the owner's process id.
//!
//! Two trainings into one folder would clear each other's outputs and interleave their
//! checkpoints, so a second `train` (or `--resume`) of a folder in use is refused. The lock is
//! removed when the trainer is dropped; a lock left by a process that no longer runs (killed
//! with SIGKILL, a power loss) is taken over.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The lock file's name inside a run directory.
pub const LOCK: &str = "lock";

/// Holds a run directory until dropped.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock of `run_dir` (which must exist) for this process.
    pub fn acquire(run_dir: &Path) -> Result<RunLock> {
        let path = run_dir.join(LOCK);
        // Two tries: the second after removing a lock whose owner has gone.
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    writeln!(f, "{}", std::process::id()).map_err(|e| Error::io(&path, e))?;
                    return Ok(RunLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let owner = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|t| t.trim().parse::<u32>().ok());
                    match owner {
                        Some(pid) if process_runs(pid) => {
                            return Err(Error::Config(format!(
                                "{} is in use by tapegan process {pid}; wait for it to end or \
                                 choose another --out",
                                run_dir.display()
                            )))
                        }
                        Some(_) => {
                            let _ = std::fs::remove_file(&path);
                        }
                        // Empty: its owner is writing its id this instant (or crashed doing so).
                        None => {
                            return Err(Error::Config(format!(
                                "{} is in use by another tapegan process; if none runs, delete \
                                 {}",
                                run_dir.display(),
                                path.display()
                            )))
                        }
                    }
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        Err(Error::Config(format!(
            "{}: another tapegan process took the run directory at the same time",
            run_dir.display()
        )))
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether a process with this id runs (on Unix, `kill(pid, 0)`; elsewhere every lock is
/// taken to be live, the safe answer).
#[cfg(unix)]
fn process_runs(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_runs(_pid: u32) -> bool {
    true
}
