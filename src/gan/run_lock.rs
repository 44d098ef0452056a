//! One process per run directory: an operating-system lock on `tapegan.lock` in the folder.
//!
//! Two trainings into one folder would clear each other's outputs and interleave their
//! checkpoints, so a second `train` (or `--resume`) of a folder in use is refused. The lock is
//! the kernel's (`flock` on Unix, `LockFileEx` on Windows), not the file's existence: it ends
//! with its process however that ends (a crash, SIGKILL, a second Ctrl-C), so a stale lock
//! cannot block a run, and process ids (reused after a reboot, 1 in every container) play no
//! part. The file stays; it holds the owner's id for the error message only.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

use crate::error::{Error, Result};

/// The lock file's name inside a run directory.
pub const LOCK: &str = "tapegan.lock";

/// Holds a run directory until dropped (or until the process ends).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock of `run_dir` (which must exist) for this process.
    pub fn acquire(run_dir: &Path) -> Result<RunLock> {
        let path = run_dir.join(LOCK);
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut owner = String::new();
                let _ = file.read_to_string(&mut owner);
                let owner = match owner.trim() {
                    "" => String::new(),
                    id => format!(" {id}"),
                };
                return Err(Error::Config(format!(
                    "{} is in use by tapegan process{owner}; wait for it to end or choose \
                     another --out",
                    run_dir.display()
                )));
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        // Informational: a failure to write the id costs only the id in a later message.
        let _ = file
            .set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| writeln!(file, "{}", std::process::id()));
        Ok(RunLock { _file: file })
    }
}
