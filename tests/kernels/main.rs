//! Every kernel against a plain-Rust CPU reference (`tests/common/reference.rs`), at awkward
//! sizes (1, 7, 33, 300×784, and one op over more elements than one row of the dispatch grid
//! holds): elementwise maps, broadcasting arithmetic, comparisons, select, reductions, layout
//! copies, matrix products, index ops, the random generator, fills and readback.
//!
//! Tolerances are tight: exact for copies, comparisons and integer-valued data, about one
//! rounding for IEEE arithmetic, 1e-5 relative (plus 1e-6 absolute where WGSL only bounds the
//! absolute error) for transcendental functions, and a multiple of √k·ε·Σ|aᵢₖbₖⱼ| for products.
//!
//! One module per kernel family; `support` holds the checks and input generators.
#[path = "../common/mod.rs"]
mod common;
#[path = "../common/reference.rs"]
mod reference;

mod support;

mod binary;
mod creation;
mod index;
mod layout;
mod matmul;
mod random;
mod reduce;
mod unary;
