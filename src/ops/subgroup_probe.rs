//! Whether the subgroup-sharing kernels (matmul_sg, conv_sg) may run on a device.
//!
//! They need a workgroup of SG invocations to be one full subgroup of size SG. The adapter's
//! reported subgroup size is necessary but not sufficient — wgpu lets drivers vary the size per
//! pipeline — so a probe kernel checks it once per device on the real hardware; if the probe
//! fails or cannot run, the register-blocked kernels are used instead.

use crate::gpu::{Gpu, Kernel};
use crate::tensor::Tensor;

const PROBE: Kernel = crate::kernel!("subgroup_probe", "subgroup_probe.wgsl");

/// Workgroups the probe runs: enough to spread over every thread of a CPU adapter.
const WORKGROUPS: usize = 256;

/// The subgroup size the sharing kernels use on `gpu`, or None where they must not run:
/// not a CPU adapter (GPUs run the register-blocked kernels), no subgroups, a size outside 4–8
/// (tiles are multiples of it; larger sizes make kernels with thousands of accumulators per
/// lane), or a failed probe. Computed once per device.
pub(crate) fn sharing_subgroup(gpu: &Gpu) -> Option<usize> {
    *gpu.0.sharing.get_or_init(|| {
        let sg = gpu.subgroup_size()? as usize;
        if !gpu.is_cpu() || !(4..=8).contains(&sg) {
            return None;
        }
        probe(gpu, sg).then_some(sg)
    })
}

impl Gpu {
    /// The subgroup size the load-sharing matmul and conv kernels run with on this device
    /// (None: the register-blocked kernels run). Probes the device on first use.
    pub fn sharing_subgroup(&self) -> Option<usize> {
        sharing_subgroup(self)
    }
}

fn probe(gpu: &Gpu, sg: usize) -> bool {
    let run = || -> crate::Result<bool> {
        let bad = Tensor::full_u32(gpu, &[WORKGROUPS], 0)?;
        let (sg_s, last) = (sg.to_string(), (sg - 1).to_string());
        let defs = [("SG", sg_s.as_str()), ("LAST", last.as_str())];
        gpu.launch(
            &PROBE,
            &defs,
            &[0u8; 16],
            &[bad.storage()],
            [WORKGROUPS as u32, 1, 1],
        )?;
        Ok(bad.to_vec_u32()?.iter().all(|&b| b == 0))
    };
    match run() {
        Ok(true) => true,
        Ok(false) => {
            eprintln!(
                "note: this adapter does not run workgroups of {sg} as full subgroups; \
                 using the register-blocked matmul and conv kernels"
            );
            false
        }
        Err(e) => {
            eprintln!("note: subgroup probe failed ({e}); using the register-blocked kernels");
            false
        }
    }
}
