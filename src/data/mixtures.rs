//! The 2-D toy distributions of the WGAN experiments: Gaussian mixtures on a 5×5 grid and on a
//! ring of 8, generated in code from a seed.

use rand::{Rng, SeedableRng};

/// Which mixture.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mixture {
    /// 25 Gaussians centred on {−4, −2, 0, 2, 4}².
    Grid25,
    /// 8 Gaussians evenly spaced on a circle of radius 2.
    Ring8,
}

impl Mixture {
    /// The mode centres, before scaling.
    pub fn centres(self) -> Vec<[f32; 2]> {
        match self {
            Mixture::Grid25 => (0..25)
                .map(|i| [(i / 5) as f32 * 2.0 - 4.0, (i % 5) as f32 * 2.0 - 4.0])
                .collect(),
            Mixture::Ring8 => (0..8)
                .map(|i| {
                    let a = i as f32 * std::f32::consts::TAU / 8.0;
                    [2.0 * a.cos(), 2.0 * a.sin()]
                })
                .collect(),
        }
    }
}

/// `per_mode` points around each centre with standard deviation `std`, all divided by
/// `scale` (the WGAN-GP toy code divides the grid by 2.828), shuffled. Row-major `[n, 2]`.
pub fn sample(mix: Mixture, per_mode: usize, std: f32, scale: f32, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let centres = mix.centres();
    let mut pts: Vec<[f32; 2]> = Vec::with_capacity(centres.len() * per_mode);
    for c in &centres {
        for _ in 0..per_mode {
            let (a, b) = gaussian_pair(&mut rng);
            pts.push([(c[0] + std * a) / scale, (c[1] + std * b) / scale]);
        }
    }
    // Fisher–Yates with the same generator keeps the whole set a function of the seed.
    for i in (1..pts.len()).rev() {
        pts.swap(i, rng.random_range(0..=i));
    }
    pts.into_iter().flatten().collect()
}

/// Two independent standard normals (Box–Muller).
fn gaussian_pair(rng: &mut impl Rng) -> (f32, f32) {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    let r = (-2.0 * u1.ln()).sqrt();
    let t = std::f64::consts::TAU * u2;
    ((r * t.cos()) as f32, (r * t.sin()) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_has_25_centres_on_the_lattice() {
        let c = Mixture::Grid25.centres();
        assert_eq!(c.len(), 25);
        assert!(c.contains(&[-4.0, 4.0]) && c.contains(&[0.0, 0.0]));
    }

    #[test]
    fn samples_cluster_at_the_centres() {
        let pts = sample(Mixture::Ring8, 100, 0.02, 1.0, 3);
        assert_eq!(pts.len(), 8 * 100 * 2);
        let centres = Mixture::Ring8.centres();
        for p in pts.chunks(2) {
            let d = centres
                .iter()
                .map(|c| ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2)).sqrt())
                .fold(f32::MAX, f32::min);
            assert!(d < 0.2, "point {p:?} is {d} from the nearest centre");
        }
        assert_eq!(pts, sample(Mixture::Ring8, 100, 0.02, 1.0, 3));
    }
}
