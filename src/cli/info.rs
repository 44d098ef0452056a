//! `tapegan presets` and `tapegan devices`.

use std::process::ExitCode;

use tapegan::{Error, Result};

pub fn presets() -> Result<ExitCode> {
    for p in tapegan::models::presets() {
        println!("{:<14} {}", p.name, p.summary);
    }
    Ok(ExitCode::SUCCESS)
}

/// Lists the adapters and the one a device-opening command would pick: the best, or the one
/// `selector` (`--adapter`) names.
pub fn devices(selector: Option<&str>) -> Result<ExitCode> {
    let list = tapegan::gpu::list_adapters();
    if list.is_empty() {
        return Err(Error::NoAdapter(tapegan::gpu::NO_ADAPTER_HELP.into()));
    }
    let (label, chosen) = match selector {
        Some(sel) => (
            format!("--adapter {sel} picks"),
            tapegan::Gpu::with_selector(Some(sel)),
        ),
        None => ("default choice".to_string(), tapegan::Gpu::new()),
    };
    // A selector that matches no adapter is refused, as by every other command (the error
    // lists the adapters there are).
    let chosen = match (selector, chosen) {
        (Some(_), Err(e @ Error::NoAdapter(_))) => return Err(e),
        (_, chosen) => chosen,
    };
    for a in &list {
        println!("[{}] {}", a.index, a.describe());
        println!("    driver: {}", a.driver);
        println!(
            "    max storage binding: {} MiB, workgroup storage: {} KiB, invocations per workgroup: {}, storage buffers per stage: {}, timestamp queries: {}",
            a.max_storage_binding >> 20,
            a.max_workgroup_storage >> 10,
            a.max_invocations,
            a.max_storage_buffers,
            if a.timestamps { "yes" } else { "no" }
        );
    }
    match chosen {
        Ok(g) => println!("{label}: {}", g.adapter().describe()),
        Err(e) => println!("{label}: none ({e})"),
    }
    Ok(ExitCode::SUCCESS)
}
