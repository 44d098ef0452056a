//! `tapegan presets` and `tapegan devices`.

use std::process::ExitCode;

use tapegan::{Error, Result};

pub fn presets() -> Result<ExitCode> {
    for p in tapegan::models::presets() {
        println!("{:<14} {}", p.name, p.summary);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn devices() -> Result<ExitCode> {
    let list = tapegan::gpu::list_adapters();
    if list.is_empty() {
        return Err(Error::NoAdapter(tapegan::gpu::NO_ADAPTER_HELP.into()));
    }
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
    match tapegan::Gpu::new() {
        Ok(g) => println!("default choice: {}", g.adapter().describe()),
        Err(e) => println!("default choice: none ({e})"),
    }
    Ok(ExitCode::SUCCESS)
}
