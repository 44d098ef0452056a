//! Host-side files of a training run: checkpoints, images, charts and arrays.
//!
//! - [`state_file`]: safetensors state dicts that PyTorch loads unchanged.
//! - [`checkpoint`]: a checkpoint directory that is replaced as a whole, so a crash never
//!   leaves a half-written set.
//! - [`images`]: sample grids, nearest-neighbour upscaling, animated GIFs of the grids over
//!   training, and SAGAN's attention heat maps.
//! - [`plot`]: PNG charts with axes, tick labels and legends (loss curves, the toy
//!   mixture's samples and the critic's potential), drawn with an embedded font.
//! - [`npy`]: NumPy `.npy` files for raw arrays (samples, potentials) to analyse elsewhere.
//!
//! Every writer goes through [`write_atomic`]: a run killed mid-write leaves the previous file
//! intact rather than a truncated one that a later resume or viewer would choke on.

pub mod checkpoint;
pub mod images;
pub mod npy;
pub mod plot;
pub mod state_file;

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub use checkpoint::{latest_checkpoint_dir, save_checkpoint_dir};
pub use images::{
    centre_query, grid_image, heatmap_beside, save_png, stack_rows, upscale, viridis, write_gif,
    write_gif_from_files,
};
pub use npy::{read_npy_f32, read_npy_i64, write_npy_f32, write_npy_i64};
pub use plot::{loss_curves, metric_curves, plane_grid, potential_heatmap, scatter_over_centres};
pub use state_file::{read_state, write_state};

/// `<path>.tmp`: the temporary sibling a writer fills before renaming it over `path`.
///
/// It lives in the same directory so the final rename never crosses file systems (a rename
/// across file systems is a copy, which is not atomic).
pub(crate) fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Writes `bytes` to `path` atomically: into `<path>.tmp` in the same directory, flushed to
/// disk, then renamed over `path`. Readers see either the old file or the complete new one.
///
/// The parent directory is created if missing. On failure the temporary file is removed and
/// the error names the file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let tmp = tmp_path(path);
    let result = (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        // Without the sync, a power loss after the rename can leave an empty file under the
        // final name (the rename reaches the disk before the data on some file systems).
        f.sync_all()?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        // Named by the file the caller asked for; the temporary name would only puzzle.
        return Err(Error::io(path, e));
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    sync_dir(path.parent());
    Ok(())
}

/// Flushes a directory's entries (the rename itself) to disk. Best effort: not every platform
/// can open a directory for syncing, and the data is already safe in the file.
pub(crate) fn sync_dir(dir: Option<&Path>) {
    #[cfg(unix)]
    {
        let dir = match dir {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if let Ok(f) = File::open(dir) {
            let _ = f.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// A fresh, empty directory under the system temp dir for one test.
#[cfg(test)]
pub(crate) fn test_dir(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "tapegan-io-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// A file or folder shipped in the source tree (`rel` from its root): the source tree's copy,
/// or `./rel` for a binary moved away from its source tree. The source tree comes first, so
/// the current folder does not change which copy is used.
pub fn shipped_asset(rel: &str) -> std::path::PathBuf {
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    if built.exists() {
        built
    } else {
        std::path::PathBuf::from(rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_and_leaves_no_temp() {
        let d = test_dir("atomic");
        let p = d.join("sub").join("a.bin");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        assert!(!tmp_path(&p).exists());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn write_atomic_error_names_the_file() {
        let d = test_dir("atomic-err");
        // A directory where the file should go makes the rename fail.
        let p = d.join("taken");
        fs::create_dir_all(p.join("x")).unwrap();
        let err = write_atomic(&p, b"data").unwrap_err().to_string();
        assert!(err.contains("taken"), "{err}");
        assert!(!tmp_path(&p).exists());
        fs::remove_dir_all(&d).unwrap();
    }
}
