//! The fused update launch: one dispatch steps up to [`MAX_TENSORS`] parameter tensors.
//!
//! A step over a model's parameters is dominated by per-dispatch cost, not arithmetic: a
//! dcgan-28 generator has 14 tensors of a few hundred to a few hundred thousand elements. So
//! the tensors are batched, as many per dispatch as the adapter's storage-buffer limit allows
//! (four buffers each). The kernel is generated per (element type, tensor count): every tensor
//! gets its own bindings and a copy of the update rule (`shaders/optim_tensor.wgsl`), and each
//! workgroup finds its tensor from the uniform table of start offsets.

use std::sync::OnceLock;

use crate::error::Result;
use crate::gpu::{grid, render, substitute, Compiled, Gpu};
use crate::ops::env_override;
use crate::tensor::Tensor;

/// Tensor slots in the uniform table (`n` and `start` in `shaders/optim.wgsl`).
pub(super) const MAX_TENSORS: usize = 16;
const WORKGROUP: u32 = 256;
const KERNEL: &str = include_str!("../../shaders/optim.wgsl");
const PER_TENSOR: &str = include_str!("../../shaders/optim_tensor.wgsl");

/// The update rule's constants for one step, shared by every tensor.
#[derive(Clone, Copy)]
pub(super) struct Rule {
    pub kind: u32,
    pub first: bool,
    pub clip: Option<f32>,
    pub step: f32,
    pub b1: f32,
    pub b2: f32,
    pub eps: f32,
    pub vscale: f32,
    pub momentum: f32,
    pub weight_decay: f32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    _pad: u32,
    kind: u32,
    first: u32,
    clip_on: u32,
    step: f32,
    b1: f32,
    b2: f32,
    eps: f32,
    vscale: f32,
    momentum: f32,
    wd: f32,
    clip: f32,
    n: [u32; MAX_TENSORS],
    start: [u32; MAX_TENSORS],
}

/// One tensor's buffers: parameter, gradient, and the two moment buffers.
pub(super) type Slot<'a> = [&'a Tensor; 4];

/// Updates every slot's parameter and moments in place, in as few dispatches as the adapter's
/// binding limit allows. Tensors whose size is a multiple of 4 go four elements per invocation.
pub(super) fn update(gpu: &Gpu, rule: &Rule, slots: &[Slot]) -> Result<()> {
    let per_dispatch = tensors_per_dispatch(gpu);
    let (wide, narrow): (Vec<Slot>, Vec<Slot>) = slots.iter().partition(|s| s[0].numel() % 4 == 0);
    // Every variant is compiled before the first dispatch is recorded: a failure leaves every
    // tensor as it was, so the caller may retry the step.
    let batches = (wide.chunks(per_dispatch).map(|c| (c, 4)))
        .chain(narrow.chunks(per_dispatch).map(|c| (c, 1)))
        .map(|(batch, width)| {
            let (key, ty) = variant(batch.len(), width);
            let kernel = gpu.generated(&key, || source(ty, batch.len()))?;
            Ok((batch, width, kernel))
        })
        .collect::<Result<Vec<_>>>()?;
    for (batch, width, kernel) in batches {
        launch(gpu, rule, batch, width, &kernel)?;
    }
    Ok(())
}

/// The cache key and element type of the kernel for `count` tensors of `width` floats.
fn variant(count: usize, width: usize) -> (String, &'static str) {
    let ty = if width == 4 { "vec4<f32>" } else { "f32" };
    (format!("optim|T={ty}|tensors={count}"), ty)
}

/// How many tensors one dispatch updates. On a GPU, as many as the binding limit allows (four
/// storage buffers each, at most [`MAX_TENSORS`]): a workgroup branches to its tensor at no
/// cost, and each dispatch saved is CPU encoding time. On a CPU adapter, one: lavapipe runs
/// every tensor's branch under a lane mask, so a batch of k tensors costs k times the
/// arithmetic, far more than the dispatches saved (docs/PERFORMANCE.md). The environment
/// variable `TAPEGAN_OPTIM_KERNEL=batched|single` forces either, for tests and benchmarks.
fn tensors_per_dispatch(gpu: &Gpu) -> usize {
    static OVERRIDE: OnceLock<Option<String>> = OnceLock::new();
    let batched = match env_override(&OVERRIDE, "TAPEGAN_OPTIM_KERNEL") {
        Some("batched") => true,
        Some("single") => false,
        _ => !gpu.is_cpu(),
    };
    if batched {
        (gpu.max_storage_buffers() as usize / 4).clamp(1, MAX_TENSORS)
    } else {
        1
    }
}

fn launch(gpu: &Gpu, rule: &Rule, slots: &[Slot], width: usize, kernel: &Compiled) -> Result<()> {
    let mut params = Params {
        kind: rule.kind,
        first: rule.first as u32,
        clip_on: rule.clip.is_some() as u32,
        _pad: 0,
        step: rule.step,
        b1: rule.b1,
        b2: rule.b2,
        eps: rule.eps,
        vscale: rule.vscale,
        momentum: rule.momentum,
        wd: rule.weight_decay,
        clip: rule.clip.unwrap_or(0.0),
        n: [0; MAX_TENSORS],
        start: [0; MAX_TENSORS],
    };
    // Each tensor starts on a workgroup of its own, so the branch that picks it is uniform.
    let mut workgroups = 0u64;
    for (j, slot) in slots.iter().enumerate() {
        let n = (slot[0].numel() / width) as u64;
        params.n[j] = n as u32;
        params.start[j] = workgroups as u32;
        workgroups += n.div_ceil(WORKGROUP as u64);
    }
    let buffers: Vec<_> = slots.iter().flatten().map(|t| t.storage()).collect();
    gpu.launch_compiled(
        kernel,
        bytemuck::bytes_of(&params),
        &buffers,
        grid(workgroups * WORKGROUP as u64, WORKGROUP),
    )
}

/// The kernel for `count` tensors of element type `ty`: the shared header, then one set of
/// bindings and one update function per tensor, and the branch that picks the tensor.
fn source(ty: &str, count: usize) -> String {
    let mut dispatch = String::new();
    // Last tensor first: the first start not above the workgroup's index is its tensor.
    for j in (0..count).rev() {
        let at = format!("[{}][{}]", j / 4, j % 4);
        dispatch.push_str(&format!(
            "    if (wg >= p.start{at}) {{\n        let i = (wg - p.start{at}) * 256u + lid;\n        \
             if (i < p.n{at}) {{ update{j}(i); }}\n        return;\n    }}\n"
        ));
    }
    let mut out = render(KERNEL, &[("T", ty), ("DISPATCH", &dispatch)]);

    for j in 0..count {
        let binding = |k: usize| (4 * j + k).to_string();
        out.push_str(&substitute(
            PER_TENSOR,
            &[
                ("J", &j.to_string()),
                ("W", &binding(1)),
                ("G", &binding(2)),
                ("M", &binding(3)),
                ("V", &binding(4)),
            ],
        ));
    }
    out
}
