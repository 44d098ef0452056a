//! Every layer of `tapegan::nn` against PyTorch: forward values, gradients, buffer updates,
//! state-dict names and initialiser statistics. The goldens come from
//! `scripts/goldens_layers.py` (tests/goldens/layer_*.safetensors); each test loads the golden's
//! initial parameters into the layer so both sides start from identical values.
//!
//! One module per layer; `golden` reads the golden files. `norm_act` covers a normalisation
//! followed by a ReLU or leaky ReLU, which `Sequential` fuses; `linear_act` and `conv_act` a
//! Linear or Conv2d followed by an activation, fused the same way.
#[path = "../common/mod.rs"]
mod common;

mod golden;

mod activation;
mod attention;
mod batch_norm;
mod conv_act;
mod dropout;
mod init;
mod instance_norm;
mod linear;
mod linear_act;
mod norm_act;
mod norm_second_order;
mod spectral_norm;
mod state_dict;
