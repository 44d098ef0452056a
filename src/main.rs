//! The `tapegan` command line.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("devices") => devices(),
        _ => {
            eprintln!("usage: tapegan devices");
            ExitCode::from(2)
        }
    }
}

fn devices() -> ExitCode {
    let list = tapegan::gpu::list_adapters();
    if list.is_empty() {
        eprintln!("error: {}", tapegan::gpu::NO_ADAPTER_HELP);
        return ExitCode::FAILURE;
    }
    for a in &list {
        println!("[{}] {}", a.index, a.describe());
        println!("    driver: {}", a.driver);
        println!(
            "    max storage binding: {} MiB, workgroup storage: {} KiB, invocations/workgroup: {}, storage buffers/stage: {}, timestamps: {}",
            a.max_storage_binding >> 20,
            a.max_workgroup_storage >> 10,
            a.max_invocations,
            a.max_storage_buffers,
            if a.timestamps { "yes" } else { "no" }
        );
    }
    ExitCode::SUCCESS
}
