//! Tiles of the subgroup-sharing convolution kernels on CPU adapters (`conv_sg.rs`,
//! `conv_sg_wgrad.rs`): the candidates, how one is chosen for a GEMM shape, and when the
//! vec4 variants (channels-last copies, four channels per load) pay.

use super::conv_family::forced_vec4;

/// Rows per lane (own side) and loads per lane of the shared side: the tile is SG·R × SG·CB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Tile {
    pub r: usize,
    pub cb: usize,
}

/// Candidate tiles, best first. 8×8 keeps 512 accumulators per lane (spilled, but a spill is
/// far cheaper than a storage load here) and compiles in ~5 s on lavapipe; 8×16 compiled for
/// 25 s and ran no faster (Conv(128→256): 770 CPU ms at 8×8, 840 at 8×16, 1000 at 8×4). The
/// narrow ones serve dimensions of 8–32 without wasting most of a tile.
pub(super) const TILES: [Tile; 7] = [
    Tile { r: 8, cb: 8 },
    Tile { r: 8, cb: 4 },
    Tile { r: 4, cb: 8 },
    Tile { r: 8, cb: 2 },
    Tile { r: 2, cb: 8 },
    Tile { r: 8, cb: 1 },
    Tile { r: 1, cb: 8 },
];

/// Candidate tiles of the vec4 variant, whose reduction step is four channels (four times
/// the FMAs per iteration). Measured on lavapipe (AVX-512, `cargo bench --bench conv`),
/// dcgan-64 ConvT(512→256) forward with each accumulator's four FMAs in a row
/// (`Gen::body_vec4`): 4×8 57.9 ms, 4×4 68.8, 8×4 62.5–68.4, 4×12 79.4, 4×16 75.4, 6×8 90.1,
/// 2×16 86.6, 8×8 84.4; 4×8 was also the fastest on every other large layer of dcgan-64
/// (10–15 % ahead of 4×4).
pub(super) const TILES_VEC4: [Tile; 6] = [
    Tile { r: 4, cb: 8 },
    Tile { r: 4, cb: 4 },
    Tile { r: 4, cb: 2 },
    Tile { r: 2, cb: 4 },
    Tile { r: 4, cb: 1 },
    Tile { r: 1, cb: 4 },
];

/// FMAs of a call from which the vec4 variants (channels-last copies, four channels per
/// load) run. Measured on lavapipe (AVX-512, `cargo bench --bench conv`, both variants, ms
/// per call): they win on dcgan-64's layers (2–4·10^9 FMAs each; ConvT(512→256) forward
/// 94.7 → 67.4, Conv(64→128) 82.1 → 73.4, weight gradients 66–91 → 57–73) and lose on
/// dcgan-28's (≤ 1.3·10^8; ConvT(128→64) forward 3.2 → 3.6, Conv(64→128) 2.4 → 2.8), where
/// the copies and the smaller tile weigh more than the loads saved.
const VEC4_MIN_FMAS: usize = 1 << 29;

/// Whether a convolution kernel of `fmas` FMAs over `channels` (all the channel counts its
/// vec4 loads run along) reads channels-last copies four channels per load: by size, or
/// when `narrow` (the scalar kernel's tile is no larger than the vec4 one), unless
/// `TAPEGAN_CONV_BLOCKS=vec4|scalar` says (`conv_family::forced_vec4`).
pub(super) fn vec4_pays(fmas: usize, channels: &[usize], narrow: bool) -> bool {
    let wanted = forced_vec4().unwrap_or(fmas >= VEC4_MIN_FMAS || narrow);
    wanted && channels.iter().all(|c| c.is_multiple_of(4))
}

/// Whether the best vec4 tile for an `m` × `n` GEMM repeated `batch` times feeds as many
/// FMAs per load as the best scalar tile, counting a vec4 load as one element. Then the
/// vec4 kernel does the same work for a quarter of the loads, and pays below
/// [`VEC4_MIN_FMAS`] too. Why: with 32 output channels the scalar gather kernel's tile
/// shrinks to 64 px × 32 channels, the vec4 tile's size. Measured on lavapipe (`cargo bench
/// --bench conv -- dcgan-28`, CPU ms per call, copies included): ConvT(64→32) 7→14 forward
/// and the input gradient of Conv(32→64) 14→7 (the same kernel) 8.1 → 7.0; the layers with
/// 64 channels or more on a side keep a 64 × 64 scalar tile and lose with vec4 (Conv(32→64)
/// forward 6.3 → 6.8, Conv(64→128) 4.5 → 5.6).
pub(super) fn vec4_tile_no_smaller(sg: usize, m: usize, n: usize, batch: usize) -> bool {
    match (
        choose(sg, &TILES, m, n, batch),
        choose(sg, &TILES_VEC4, m, n, batch),
    ) {
        (Some((_, _, scalar)), Some((_, _, vec4))) => vec4 >= scalar,
        _ => false,
    }
}

/// Workgroups below which a tiling is penalised (the adapter's threads would idle).
const MIN_TILES: usize = 4;

/// How well `t` suits an `m` × `n` GEMM repeated `batch` times with the own side along `m`:
/// useful FMAs per loaded element, halved when it leaves cores idle.
fn score(sg: usize, t: Tile, m: usize, n: usize, batch: usize) -> f64 {
    let (to, ts) = (sg * t.r, sg * t.cb);
    let tiles = m.div_ceil(to) * n.div_ceil(ts) * batch;
    let used = (m * n) as f64 / (m.div_ceil(to) * to * n.div_ceil(ts) * ts) as f64;
    let per_load = (sg * t.r * t.cb) as f64 / (t.r + t.cb) as f64;
    used * per_load * if tiles >= MIN_TILES { 1.0 } else { 0.5 }
}

/// The best tile for an `m` × `n` GEMM repeated `batch` times, whether its own side (rows) is
/// along `m` (else `n`), and its score; `None` when a dimension is narrower than a subgroup,
/// where sharing has nothing to share and the register-blocked kernels do better.
pub(super) fn choose(
    sg: usize,
    tiles: &[Tile],
    m: usize,
    n: usize,
    batch: usize,
) -> Option<(Tile, bool, f64)> {
    if m < sg || n < sg {
        return None;
    }
    let mut best: Option<(Tile, bool, f64)> = None;
    for &t in tiles {
        for own_m in [true, false] {
            let s = if own_m {
                score(sg, t, m, n, batch)
            } else {
                score(sg, t, n, m, batch)
            };
            if best.is_none_or(|(_, _, b)| s > b) {
                best = Some((t, own_m, s));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::vec4_tile_no_smaller;

    /// dcgan-28's ConvT(64→32) 7→14 (32 channels × 64·49 pixels per phase) reads vec4s; its
    /// Conv(32→64) 14→7 (64 channels) keeps the larger scalar tile; narrower than a
    /// subgroup, neither kernel applies.
    #[test]
    fn vec4_where_the_scalar_tile_is_no_larger() {
        assert!(vec4_tile_no_smaller(8, 32, 64 * 49, 1));
        assert!(!vec4_tile_no_smaller(8, 64, 64 * 49, 1));
        assert!(!vec4_tile_no_smaller(8, 4, 64 * 49, 1));
    }
}
