//! The `tapegan` command line: train presets, sample from runs, list presets and adapters.
//!
//! Every failure is one line on stderr (`error: …`) and a non-zero exit status.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Output piped into a reader that stops early (`tapegan profile … | head`) ends the
    // process quietly, as it does any Unix tool. Rust ignores SIGPIPE, so a print to the
    // closed pipe would panic instead. Files are written before the reports that name them,
    // and atomically, so stopping at a print loses nothing.
    #[cfg(unix)]
    // SAFETY: restoring the default action of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tapegan::gpu::quiet_platform_probes();
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: internal error: {msg}{at} (this is a bug in tapegan; please report it)");
    }));
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
