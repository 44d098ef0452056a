//! The backward walk: `grad(outputs, wrt, create_graph)` with the meaning of
//! `torch.autograd.grad`.
//!
//! Tensor ids grow in creation order, so sorting the reachable tensors by descending id is a
//! topological order of the tape. Only nodes on a path to some `wrt` tensor run their rule, and
//! each rule is told which of its inputs need a gradient.

use std::collections::{HashMap, HashSet};

use super::{set_recording, Backward};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Options of [`grad_with`].
#[derive(Clone, Default)]
pub struct GradOptions {
    /// Record the backward computation so its result can be differentiated again.
    pub create_graph: bool,
    /// Return `None` for `wrt` tensors the outputs do not depend on, instead of an error.
    pub allow_unused: bool,
    /// Gradients with respect to each output; `None` means ones (outputs must be scalars).
    pub grad_outputs: Option<Vec<Tensor>>,
}

/// Gradients of the sum of scalar `outputs` with respect to each of `wrt`.
///
/// With `create_graph` the returned gradients are themselves part of the tape.
pub fn grad(outputs: &[&Tensor], wrt: &[&Tensor], create_graph: bool) -> Result<Vec<Tensor>> {
    let opts = GradOptions {
        create_graph,
        ..GradOptions::default()
    };
    grad_with(outputs, wrt, &opts)?
        .into_iter()
        .map(|g| g.ok_or_else(|| Error::Autograd("unreachable".into())))
        .collect()
}

/// [`grad`] with every option of `torch.autograd.grad`.
pub fn grad_with(
    outputs: &[&Tensor],
    wrt: &[&Tensor],
    opts: &GradOptions,
) -> Result<Vec<Option<Tensor>>> {
    if outputs.is_empty() {
        return Err(Error::Autograd("no outputs to differentiate".into()));
    }
    for (i, o) in outputs.iter().enumerate() {
        if !o.requires_grad() {
            return Err(Error::Autograd(format!(
                "output {i} (shape {:?}) does not require grad: it was computed without \
                 recording or from tensors that do not require grad",
                o.shape()
            )));
        }
    }
    for (i, w) in wrt.iter().enumerate() {
        if !w.requires_grad() {
            return Err(Error::Autograd(format!(
                "input {i} (shape {:?}) does not require grad",
                w.shape()
            )));
        }
    }

    // Everything reachable from the outputs through recorded nodes.
    let mut seen: HashMap<u64, Tensor> = HashMap::new();
    let mut stack: Vec<Tensor> = outputs.iter().map(|t| (*t).clone()).collect();
    while let Some(t) = stack.pop() {
        if seen.contains_key(&t.id()) {
            continue;
        }
        if let Some(node) = t.node() {
            stack.extend(node.inputs.iter().filter(|i| i.requires_grad()).cloned());
        }
        seen.insert(t.id(), t);
    }
    let mut order: Vec<Tensor> = seen.into_values().collect();
    order.sort_by_key(|t| t.id());

    // Which tensors lie on a path to a `wrt` tensor (ascending ids: inputs before outputs).
    let targets: HashSet<u64> = wrt.iter().map(|t| t.id()).collect();
    let mut reaches: HashSet<u64> = HashSet::new();
    for t in &order {
        let hit = targets.contains(&t.id())
            || t.node()
                .is_some_and(|n| n.inputs.iter().any(|i| reaches.contains(&i.id())));
        if hit {
            reaches.insert(t.id());
        }
    }

    let _mode = set_recording(opts.create_graph);
    let mut grads: HashMap<u64, Tensor> = HashMap::new();
    for (i, o) in outputs.iter().enumerate() {
        let g = match &opts.grad_outputs {
            Some(gs) => {
                let g = gs.get(i).ok_or_else(|| {
                    Error::Autograd(format!(
                        "{} grad_outputs given for {} outputs",
                        gs.len(),
                        outputs.len()
                    ))
                })?;
                if g.shape() != o.shape() {
                    return Err(Error::Autograd(format!(
                        "grad_outputs[{i}] has shape {:?}, output has shape {:?}",
                        g.shape(),
                        o.shape()
                    )));
                }
                g.clone()
            }
            None => {
                if o.numel() != 1 {
                    return Err(Error::Autograd(format!(
                        "output {i} has shape {:?}: gradients can be implied only for \
                         one-element outputs; pass grad_outputs",
                        o.shape()
                    )));
                }
                Tensor::full(o.gpu(), o.shape(), 1.0)?
            }
        };
        accumulate(&mut grads, o, g)?;
    }

    for t in order.iter().rev() {
        let Some(node) = t.node() else { continue };
        if !reaches.contains(&t.id()) {
            continue;
        }
        let Some(g) = (if targets.contains(&t.id()) {
            grads.get(&t.id()).cloned()
        } else {
            grads.remove(&t.id())
        }) else {
            continue;
        };
        let needs: Vec<bool> = node
            .inputs
            .iter()
            .map(|i| i.requires_grad() && reaches.contains(&i.id()))
            .collect();
        if !needs.iter().any(|&n| n) {
            continue;
        }
        let input_grads = (node.backward)(&Backward {
            inputs: &node.inputs,
            output: t,
            grad: &g,
            needs: &needs,
        })?;
        for ((input, gi), need) in node.inputs.iter().zip(input_grads).zip(&needs) {
            let (Some(gi), true) = (gi, *need) else {
                continue;
            };
            if gi.shape() != input.shape() {
                return Err(Error::Autograd(format!(
                    "backward of {} produced a gradient of shape {:?} for an input of shape {:?}",
                    node.op,
                    gi.shape(),
                    input.shape()
                )));
            }
            accumulate(&mut grads, input, gi)?;
        }
    }

    wrt.iter()
        .enumerate()
        .map(|(i, w)| match grads.remove(&w.id()) {
            Some(g) => Ok(Some(g)),
            None if opts.allow_unused => Ok(None),
            None => Err(Error::Autograd(format!(
                "input {i} (shape {:?}) was not used to compute the outputs; \
                 set allow_unused to get None",
                w.shape()
            ))),
        })
        .collect()
}

fn accumulate(grads: &mut HashMap<u64, Tensor>, t: &Tensor, g: Tensor) -> Result<()> {
    let next = match grads.remove(&t.id()) {
        Some(prev) => prev.add(&g)?,
        None => g,
    };
    grads.insert(t.id(), next);
    Ok(())
}
