//! Pictures of samples: grids, upscaling, GIFs of training progress and attention heat maps.
//!
//! Generator outputs are NCHW floats in [-1, 1] (tanh). [`grid_image`] tiles a batch like
//! torchvision's `make_grid`; [`upscale`] enlarges 28×28 digits without blurring;
//! [`write_gif`] animates the grids saved over a run; [`heatmap_beside`] and [`stack_rows`]
//! draw SAGAN's "where does the centre pixel look?" figure. [`viridis`] is the colour map
//! shared with the charts in [`super::plot`].

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::codecs::gif::{GifEncoder, Repeat};
use image::codecs::png::PngEncoder;
use image::{Delay, ExtendedColorType, Frame, ImageEncoder, Rgb, RgbImage};

use super::write_atomic;
use crate::error::{Error, Result};

/// Colour of the padding between tiles: dark grey rather than black so the tiles of MNIST's
/// black-background digits stay apart.
const PAD: Rgb<u8> = Rgb([48, 48, 48]);

/// A value in [-1, 1] as a byte (clamped; NaN is black).
fn to_byte(v: f32) -> u8 {
    if v.is_nan() {
        return 0;
    }
    ((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8
}

/// Colour of pixel (`y`, `x`) of a CHW image with 1 (grey) or 3 (RGB) channels.
fn pixel(chw: &[f32], channels: usize, h: usize, w: usize, y: usize, x: usize) -> Rgb<u8> {
    let at = |c: usize| to_byte(chw[(c * h + y) * w + x]);
    if channels == 1 {
        let g = at(0);
        Rgb([g, g, g])
    } else {
        Rgb([at(0), at(1), at(2)])
    }
}

/// Tiles `n` samples (NCHW, values in [-1, 1], clamped) into a grid of `cols` columns with
/// `pad` pixels of dark-grey padding around and between tiles, like torchvision's `make_grid`.
/// The last row is filled with padding colour where samples run out.
///
/// # Panics
/// If `channels` is not 1 or 3 or `data` does not hold `n·channels·h·w` values (a caller bug).
pub fn grid_image(
    data: &[f32],
    n: usize,
    channels: usize,
    h: usize,
    w: usize,
    cols: usize,
    pad: usize,
) -> RgbImage {
    assert!(
        channels == 1 || channels == 3,
        "grid_image: channels must be 1 or 3, got {channels}"
    );
    assert_eq!(
        data.len(),
        n * channels * h * w,
        "grid_image: data does not hold {n}×{channels}×{h}×{w} values"
    );
    let cols = cols.clamp(1, n.max(1));
    let rows = n.div_ceil(cols).max(1);
    let width = (cols * (w + pad) + pad).max(1) as u32;
    let height = (rows * (h + pad) + pad).max(1) as u32;
    let mut img = RgbImage::from_pixel(width, height, PAD);
    let per = channels * h * w;
    for (i, chw) in data.chunks_exact(per.max(1)).take(n).enumerate() {
        let (x0, y0) = (pad + (i % cols) * (w + pad), pad + (i / cols) * (h + pad));
        for y in 0..h {
            for x in 0..w {
                img.put_pixel(
                    (x0 + x) as u32,
                    (y0 + y) as u32,
                    pixel(chw, channels, h, w, y, x),
                );
            }
        }
    }
    img
}

/// Saves `img` as a PNG (atomically). Images whose pixels are all grey are stored as 8-bit
/// greyscale, a third of the size.
pub fn save_png(img: &RgbImage, path: &Path) -> Result<()> {
    let grey = img.pixels().all(|p| p[0] == p[1] && p[1] == p[2]);
    let mut buf = Vec::new();
    let enc = PngEncoder::new(&mut buf);
    let r = if grey {
        let luma: Vec<u8> = img.pixels().map(|p| p[0]).collect();
        enc.write_image(&luma, img.width(), img.height(), ExtendedColorType::L8)
    } else {
        enc.write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            ExtendedColorType::Rgb8,
        )
    };
    r.map_err(|e| Error::Data(format!("{}: cannot encode PNG: {e}", path.display())))?;
    write_atomic(path, &buf)
}

/// Enlarges `img` by an integer `factor` with nearest-neighbour sampling (each pixel becomes a
/// factor×factor block), so small samples stay crisp. A factor of 0 is treated as 1.
pub fn upscale(img: &RgbImage, factor: u32) -> RgbImage {
    let f = factor.max(1);
    RgbImage::from_fn(img.width() * f, img.height() * f, |x, y| {
        *img.get_pixel(x / f, y / f)
    })
}

/// Writes an endlessly looping animated GIF of `frames`, `delay_ms` per frame (atomically).
/// All frames must have the same size. Grey frames use an exact 256-grey palette; colour
/// frames are quantised (NeuQuant).
pub fn write_gif(frames: &[RgbImage], path: &Path, delay_ms: u32) -> Result<()> {
    let file = path.display();
    let first = frames
        .first()
        .ok_or_else(|| Error::Data(format!("{file}: a GIF needs at least one frame")))?;
    let size = first.dimensions();
    if size.0 > u16::MAX as u32 || size.1 > u16::MAX as u32 {
        return Err(Error::Data(format!(
            "{file}: frames of {}×{} exceed GIF's 65535 limit",
            size.0, size.1
        )));
    }
    if let Some((i, f)) = frames
        .iter()
        .enumerate()
        .find(|(_, f)| f.dimensions() != size)
    {
        return Err(Error::Data(format!(
            "{file}: frame {i} is {}×{} but frame 0 is {}×{}; all GIF frames must have the same size",
            f.width(),
            f.height(),
            size.0,
            size.1
        )));
    }
    let mut buf = Vec::new();
    {
        // Speed 10 of 30: only colour frames are quantised, and this is plenty for samples.
        let mut enc = GifEncoder::new_with_speed(Cursor::new(&mut buf), 10);
        let gif_err = |e: image::ImageError| Error::Data(format!("{file}: cannot encode GIF: {e}"));
        enc.set_repeat(Repeat::Infinite).map_err(gif_err)?;
        let delay = Delay::from_numer_denom_ms(delay_ms, 1);
        for f in frames {
            let rgba = image::DynamicImage::ImageRgb8(f.clone()).into_rgba8();
            enc.encode_frame(Frame::from_parts(rgba, 0, 0, delay))
                .map_err(gif_err)?;
        }
    }
    write_atomic(path, &buf)
}

/// [`write_gif`] of image files (e.g. the sample grids saved during a run), read in order.
pub fn write_gif_from_files(frames: &[PathBuf], path: &Path, delay_ms: u32) -> Result<()> {
    let imgs = frames
        .iter()
        .map(|p| {
            image::open(p)
                .map(|i| i.into_rgb8())
                .map_err(|e| Error::Data(format!("{}: cannot read image: {e}", p.display())))
        })
        .collect::<Result<Vec<_>>>()?;
    write_gif(&imgs, path, delay_ms)
}

/// Viridis anchors at 0, 0.1, …, 1 (matplotlib's values); [`viridis`] interpolates between
/// them. Perceptually uniform and readable in greyscale and by colour-blind readers.
const VIRIDIS: [[f32; 3]; 11] = [
    [0.267004, 0.004874, 0.329415],
    [0.282623, 0.140926, 0.457517],
    [0.253935, 0.265254, 0.529983],
    [0.206756, 0.371758, 0.553117],
    [0.163625, 0.471133, 0.558148],
    [0.127568, 0.566949, 0.550556],
    [0.134692, 0.658636, 0.517649],
    [0.266941, 0.748751, 0.440573],
    [0.477504, 0.821444, 0.318195],
    [0.741388, 0.873449, 0.149561],
    [0.993248, 0.906157, 0.143936],
];

/// The viridis colour of `t` in [0, 1] (clamped; NaN maps to 0).
pub fn viridis(t: f32) -> [u8; 3] {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) } * 10.0;
    let i = (t.floor() as usize).min(9);
    let f = t - i as f32;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    std::array::from_fn(|c| ((a[c] + (b[c] - a[c]) * f) * 255.0).round() as u8)
}

/// Index of the centre query position in an `ha`×`wa` attention map, row-major: the row of
/// a SAGAN attention map to pass to [`heatmap_beside`] (see `nn::AttentionMap::rows`).
pub fn centre_query(ha: usize, wa: usize) -> usize {
    (ha / 2) * wa + wa / 2
}

/// Draws a red cross with arms of `arm` pixels and lines `2·half+1` pixels thick, outlined in
/// white so it stays visible on dark and bright pixels alike; clipped to the image.
fn mark(img: &mut RgbImage, cx: i64, cy: i64, arm: i64, half: i64) {
    let mut put = |x: i64, y: i64, c: Rgb<u8>| {
        if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
            img.put_pixel(x as u32, y as u32, c);
        }
    };
    for (reach, width, c) in [
        (arm + 1, half + 1, Rgb([255, 255, 255])),
        (arm, half, Rgb([230, 30, 30])),
    ] {
        for d in -reach..=reach {
            for o in -width..=width {
                put(cx + d, cy + o, c);
                put(cx + o, cy + d, c);
            }
        }
    }
}

/// A sample (CHW in [-1, 1], 1 or 3 channels) on the left and, on the right, the attention
/// weights of one query position (`ha`×`wa`, row-major) stretched to the sample's size with
/// nearest-neighbour sampling and coloured with [`viridis`] (0 → dark purple, the map's
/// largest weight → yellow). Both halves are enlarged by `scale`; a cross marks the query,
/// the centre position [`centre_query`], on both.
///
/// # Panics
/// If the slices do not hold `channels·h·w` and `ha·wa` values (a caller bug).
#[allow(clippy::too_many_arguments)] // mirrors the sample's and the map's layouts explicitly
pub fn heatmap_beside(
    sample: &[f32],
    channels: usize,
    h: usize,
    w: usize,
    attention: &[f32],
    ha: usize,
    wa: usize,
    scale: u32,
) -> RgbImage {
    assert!(
        channels == 1 || channels == 3,
        "heatmap_beside: channels must be 1 or 3, got {channels}"
    );
    assert_eq!(
        sample.len(),
        channels * h * w,
        "heatmap_beside: sample is not {channels}×{h}×{w}"
    );
    assert_eq!(
        attention.len(),
        ha * wa,
        "heatmap_beside: attention is not {ha}×{wa}"
    );
    let gap = 4u32;
    let max = attention
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0f32, f32::max);
    let norm = if max > 0.0 { 1.0 / max } else { 0.0 };
    let mut pair = RgbImage::from_pixel(2 * w as u32 + gap, h as u32, PAD);
    for y in 0..h {
        for x in 0..w {
            pair.put_pixel(x as u32, y as u32, pixel(sample, channels, h, w, y, x));
            let (ay, ax) = (y * ha / h, x * wa / w);
            let c = viridis(attention[ay * wa + ax] * norm);
            pair.put_pixel((w + x) as u32 + gap, y as u32, Rgb(c));
        }
    }
    let s = scale.max(1);
    let mut out = upscale(&pair, s);
    // Centre of the query's cell, in output pixels.
    let (qy, qx) = (ha / 2, wa / 2);
    let cy = ((2 * qy + 1) * h * s as usize / (2 * ha)) as i64;
    let cx = ((2 * qx + 1) * w * s as usize / (2 * wa)) as i64;
    let (arm, half) = ((3 * s as i64).clamp(3, 12), (s as i64 / 3).min(2));
    mark(&mut out, cx, cy, arm, half);
    mark(&mut out, cx + ((w as u32 + gap) * s) as i64, cy, arm, half);
    out
}

/// Stacks images top to bottom, left-aligned, with a few pixels of padding colour between and
/// around them; narrower images are padded on the right.
pub fn stack_rows(images: &[RgbImage]) -> RgbImage {
    let gap = 4u32;
    let width = images.iter().map(RgbImage::width).max().unwrap_or(0) + 2 * gap;
    let height = images.iter().map(|i| i.height() + gap).sum::<u32>() + gap;
    let mut out = RgbImage::from_pixel(width, height, PAD);
    let mut y = gap;
    for img in images {
        image::imageops::replace(&mut out, img, gap as i64, y as i64);
        y += img.height() + gap;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::test_dir;
    use std::fs;

    #[test]
    fn grid_layout_and_values() {
        // Three 1×2×2 samples in 2 columns with 1 pixel of padding: 7×7 pixels.
        let data = [
            -1.0, 1.0, 0.0, 5.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0,
        ];
        let img = grid_image(&data, 3, 1, 2, 2, 2, 1);
        assert_eq!(img.dimensions(), (7, 7));
        assert_eq!(img.get_pixel(1, 1), &Rgb([0, 0, 0]));
        assert_eq!(img.get_pixel(2, 1), &Rgb([255, 255, 255]));
        assert_eq!(img.get_pixel(1, 2), &Rgb([128, 128, 128]));
        assert_eq!(img.get_pixel(2, 2), &Rgb([255, 255, 255]), "clamped");
        assert_eq!(img.get_pixel(4, 1), &Rgb([255, 255, 255]), "second tile");
        assert_eq!(
            img.get_pixel(1, 4),
            &Rgb([0, 0, 0]),
            "third tile, second row"
        );
        assert_eq!(img.get_pixel(0, 0), &PAD);
        assert_eq!(img.get_pixel(4, 4), &PAD, "missing fourth tile");
        // RGB: channel planes map to the colour components.
        let rgb = grid_image(&[1.0, -1.0, -1.0], 1, 3, 1, 1, 1, 0);
        assert_eq!(rgb.get_pixel(0, 0), &Rgb([255, 0, 0]));
    }

    #[test]
    fn png_upscale_and_gif() {
        let d = test_dir("images");
        let img = grid_image(&[0.5; 16], 4, 1, 2, 2, 2, 1);
        let big = upscale(&img, 3);
        assert_eq!(big.dimensions(), (21, 21));
        assert_eq!(big.get_pixel(4, 4), img.get_pixel(1, 1));
        let p = d.join("g.png");
        save_png(&big, &p).unwrap();
        let back = image::open(&p).unwrap().into_rgb8();
        assert_eq!(back, big);

        let frames: Vec<RgbImage> = (0..4)
            .map(|i| grid_image(&[i as f32 / 4.0; 16], 4, 1, 2, 2, 2, 1))
            .collect();
        let g = d.join("a.gif");
        write_gif(&frames, &g, 200).unwrap();
        let bytes = fs::read(&g).unwrap();
        assert_eq!(&bytes[..6], b"GIF89a");
        write_gif_from_files(&[p.clone(), p], &d.join("b.gif"), 100).unwrap();

        let odd = vec![frames[0].clone(), RgbImage::new(3, 3)];
        let e = write_gif(&odd, &d.join("c.gif"), 100)
            .unwrap_err()
            .to_string();
        assert!(e.contains("same size"), "{e}");
        assert!(write_gif(&[], &d.join("c.gif"), 100).is_err());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn heatmap_pair_and_stack() {
        let sample = vec![0.0; 8 * 8];
        let mut att = vec![0.0; 4 * 4];
        att[0] = 0.5;
        let pair = heatmap_beside(&sample, 1, 8, 8, &att, 4, 4, 2);
        assert_eq!(pair.dimensions(), ((8 + 8 + 4) * 2, 16));
        let right = |x: u32, y: u32| *pair.get_pixel((8 + 4) * 2 + x, y);
        assert_eq!(right(0, 0).0, viridis(1.0), "largest weight is yellow");
        assert_eq!(right(15, 15).0, viridis(0.0), "zero weight is dark");
        // The query marker sits at the centre of cell (2, 2): pixel 10 at scale 2.
        assert_eq!(pair.get_pixel(10, 10), &Rgb([230, 30, 30]));
        assert_eq!(centre_query(4, 4), 10);

        let stacked = stack_rows(&[pair.clone(), upscale(&pair, 2)]);
        assert_eq!(stacked.width(), pair.width() * 2 + 8);
        assert_eq!(stacked.height(), pair.height() * 3 + 12);
        assert_eq!(viridis(0.0), [68, 1, 84]);
        assert_eq!(viridis(1.0), [253, 231, 37]);
    }
}
