//! Data loading: IDX files (valid, corrupt, truncated), image folders, mixtures, and the GPU
//! batch loader (values, coverage of an epoch, determinism, resume).
mod common;
use common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use tapegan::data::{self, idx, DataLoader, DataOptions, DataSpec, Mixture};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tapegan-data-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write_idx_images(path: &Path, count: u32, side: u32, body: &[u8]) {
    let mut f = std::fs::File::create(path).unwrap();
    for w in [0x0803u32, count, side, side] {
        f.write_all(&w.to_be_bytes()).unwrap();
    }
    f.write_all(body).unwrap();
}

fn write_idx_labels(path: &Path, labels: &[u8]) {
    let mut f = std::fs::File::create(path).unwrap();
    for w in [0x0801u32, labels.len() as u32] {
        f.write_all(&w.to_be_bytes()).unwrap();
    }
    f.write_all(labels).unwrap();
}

#[test]
fn shipped_mnist_subset_loads_with_labels() {
    let d = data::load(&"mnist".parse().unwrap(), &DataOptions::default()).unwrap();
    assert_eq!(
        (d.count, d.sample_shape.clone(), d.classes),
        (9000, vec![1, 28, 28], 10)
    );
    let labels = d.labels.as_ref().unwrap();
    for c in 0..10 {
        assert!(
            labels.iter().filter(|&&l| l == c).count() > 700,
            "digit {c} is rare"
        );
    }
    let t = data::load(&"mnist-test".parse().unwrap(), &DataOptions::default()).unwrap();
    assert_eq!(t.count, 1000);
    let opts = DataOptions {
        digits: Some(vec![7, 8]),
        image_size: 64,
        ..Default::default()
    };
    let d78 = data::load(&"mnist".parse().unwrap(), &opts).unwrap();
    assert_eq!(d78.sample_shape, vec![1, 64, 64]);
    assert!(d78.labels.unwrap().iter().all(|&l| l == 7 || l == 8));
}

#[test]
fn plain_idx_files_load_and_bad_ones_are_named() {
    let dir = tmp("idx");
    let body: Vec<u8> = (0..3 * 4 * 4).map(|i| (i * 5) as u8).collect();
    write_idx_images(&dir.join("train-images-idx3-ubyte"), 3, 4, &body);
    write_idx_labels(&dir.join("train-labels-idx1-ubyte"), &[1, 2, 3]);
    let spec = DataSpec::Mnist {
        dir: dir.clone(),
        test_split: false,
    };
    let d = data::load(&spec, &DataOptions::default()).unwrap();
    assert_eq!((d.count, d.sample_shape.clone()), (3, vec![1, 4, 4]));

    // Bad magic.
    let bad = dir.join("bad");
    std::fs::write(&bad, [0u8, 0, 8, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 7]).unwrap();
    let e = idx::read_images(&bad).err().unwrap().to_string();
    assert!(
        e.contains("not an IDX image file") && e.contains("bad"),
        "{e}"
    );
    // Images of 0×0 pixels, and no images at all.
    for (count, side) in [(3, 0), (0, 4)] {
        write_idx_images(&dir.join("train-images-idx3-ubyte"), count, side, &[]);
        let e = data::load(&spec, &DataOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("holds no pixels"), "{e}");
    }
    // Truncated body.
    write_idx_images(&dir.join("train-images-idx3-ubyte"), 3, 4, &body[..20]);
    let e = data::load(&spec, &DataOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("truncated"), "{e}");
    // Corrupt gzip.
    std::fs::write(
        dir.join("train-images-idx3-ubyte"),
        [0x1f, 0x8b, 8, 0, 1, 2, 3],
    )
    .unwrap();
    let e = data::load(&spec, &DataOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("corrupt gzip"), "{e}");
    // Missing files.
    let e = data::load(
        &DataSpec::Mnist {
            dir: tmp("empty-mnist"),
            test_split: false,
        },
        &DataOptions::default(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("train-images-idx3-ubyte"), "{e}");
}

#[test]
fn image_folders_are_cropped_resized_and_errors_name_the_file() {
    let dir = tmp("folder");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let wide = image::RgbImage::from_fn(40, 20, |x, _| {
        image::Rgb([if x < 10 { 255 } else { 0 }, 128, 0])
    });
    wide.save(dir.join("a.png")).unwrap();
    image::RgbImage::from_pixel(16, 16, image::Rgb([10, 20, 30]))
        .save(dir.join("sub/b.jpg"))
        .unwrap();
    let opts = DataOptions {
        image_size: 8,
        channels: 3,
        ..Default::default()
    };
    let d = data::load(&DataSpec::Images { dir: dir.clone() }, &opts).unwrap();
    assert_eq!((d.count, d.sample_shape.clone()), (2, vec![3, 8, 8]));
    // The centre crop of `a` (columns 10..30) has no red.
    let data::Samples::Bytes(px) = &d.samples else {
        panic!("images load as bytes")
    };
    assert!(
        px[..64].iter().all(|&r| r == 0),
        "red channel of a.png after centre crop"
    );
    // Links back to a folder already read (itself, its parent) add nothing and end.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&dir, dir.join("sub/up")).unwrap();
        std::os::unix::fs::symlink("..", dir.join("sub/parent")).unwrap();
        // ... and so do links to images already read.
        std::os::unix::fs::symlink(dir.join("a.png"), dir.join("link-to-a.png")).unwrap();
        let d = data::load(&DataSpec::Images { dir: dir.clone() }, &opts).unwrap();
        assert_eq!(d.count, 2);
        // A file named like an image that is not a regular one (a FIFO would block the
        // decoder forever; a socket stands in) is skipped, and counted when nothing is left.
        let _socket = std::os::unix::net::UnixListener::bind(dir.join("sock.png")).unwrap();
        let d = data::load(&DataSpec::Images { dir: dir.clone() }, &opts).unwrap();
        assert_eq!(d.count, 2);
        let only = tmp("only-socket");
        let _socket = std::os::unix::net::UnixListener::bind(only.join("s.png")).unwrap();
        let e = data::load(&DataSpec::Images { dir: only.clone() }, &opts)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("skipped 1 named like images"), "{e}");
        std::fs::remove_dir_all(only).unwrap();
    }

    let nothing = tmp("nothing");
    let e = data::load(
        &DataSpec::Images {
            dir: nothing.clone(),
        },
        &opts,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("no PNG or JPEG images"), "{e}");
    std::fs::write(dir.join("broken.png"), b"not a png").unwrap();
    let e = data::load(&DataSpec::Images { dir: dir.clone() }, &opts)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("broken.png"), "{e}");
    for d in [dir, nothing] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn unknown_data_spec_lists_the_valid_ones() {
    let e = "cifar".parse::<DataSpec>().err().unwrap().to_string();
    assert!(
        e.contains("mnist") && e.contains("images:DIR") && e.contains("grid25"),
        "{e}"
    );
}

#[test]
fn loader_batches_match_the_host_data_and_cover_each_epoch_once() {
    let opts = DataOptions {
        limit: Some(50),
        ..Default::default()
    };
    let d = data::load(&"mnist".parse().unwrap(), &opts).unwrap();
    let data::Samples::Bytes(px) = &d.samples else {
        panic!()
    };
    let labels = d.labels.clone().unwrap();
    let mut loader = DataLoader::new(&gpu(), &d, 10, 7).unwrap();
    assert_eq!(loader.batches_per_epoch(), 5);
    let mut seen = vec![0; 50];
    for _ in 0..5 {
        let b = loader.next_batch().unwrap();
        assert_eq!(b.x.shape(), &[10, 1, 28, 28]);
        let x = b.x.to_vec().unwrap();
        let l = b.labels.unwrap().to_vec_u32().unwrap();
        for (r, img) in x.chunks(784).enumerate() {
            // Find the sample this row came from by its pixels and label.
            let i = (0..50)
                .find(|&i| {
                    labels[i] == l[r]
                        && px[i * 784..(i + 1) * 784]
                            .iter()
                            .zip(img)
                            .all(|(&p, &v)| (p as f32 / 127.5 - 1.0 - v).abs() < 1e-6)
                })
                .expect("row matches a sample");
            seen[i] += 1;
        }
    }
    assert!(
        seen.iter().all(|&s| s == 1),
        "each sample once per epoch: {seen:?}"
    );

    // Same seed → same order; restoring the position continues identically.
    let mut a = DataLoader::new(&gpu(), &d, 10, 7).unwrap();
    let mut b = DataLoader::new(&gpu(), &d, 10, 7).unwrap();
    for _ in 0..7 {
        a.next_batch().unwrap();
    }
    b.restore(a.state().0, a.state().1).unwrap();
    assert_eq!(
        a.next_batch().unwrap().x.to_vec().unwrap(),
        b.next_batch().unwrap().x.to_vec().unwrap()
    );
}

#[test]
fn loader_gathers_rows_of_any_byte_width() {
    // Rows of 9 bytes (3×3 images) straddle the packing words, so they take the per-byte
    // kernel; 4×4 rows start on a word and take the four-bytes-per-invocation one.
    for side in [3u32, 4] {
        let dir = tmp(&format!("width{side}"));
        let (count, px) = (7usize, (side * side) as usize);
        let body: Vec<u8> = (0..count * px).map(|i| (i * 37 % 256) as u8).collect();
        write_idx_images(
            &dir.join("train-images-idx3-ubyte"),
            count as u32,
            side,
            &body,
        );
        write_idx_labels(&dir.join("train-labels-idx1-ubyte"), &[0; 7]);
        let spec = DataSpec::Mnist {
            dir,
            test_split: false,
        };
        let d = data::load(&spec, &DataOptions::default()).unwrap();
        let mut loader = DataLoader::new(&gpu(), &d, count, 3).unwrap();
        let x = loader.next_batch().unwrap().x.to_vec().unwrap();
        // Back to bytes (each value must be one of byte/127.5 − 1), then compare the rows
        // as a set: a batch holds every sample once, in shuffled order.
        let byte = |v: f32| {
            let b = ((v + 1.0) * 127.5).round();
            assert!((b / 127.5 - 1.0 - v).abs() < 1e-6, "{v} is no byte value");
            b as u8
        };
        let mut rows: Vec<Vec<u8>> = x
            .chunks(px)
            .map(|r| r.iter().map(|&v| byte(v)).collect())
            .collect();
        rows.sort();
        let mut want: Vec<Vec<u8>> = body.chunks(px).map(<[u8]>::to_vec).collect();
        want.sort();
        assert_eq!(rows, want, "rows of {px} bytes");
    }
}

#[test]
fn mixtures_load_as_points_with_scaled_centres() {
    let opts = DataOptions {
        toy_scale: 2.828,
        toy_per_mode: 10,
        ..Default::default()
    };
    let d = data::load(&DataSpec::Mixture(Mixture::Grid25), &opts).unwrap();
    assert_eq!((d.count, d.sample_shape.clone()), (250, vec![2]));
    let c = d.centres.clone().unwrap();
    assert!((c.iter().map(|p| p[0]).fold(0.0f32, f32::max) - 4.0 / 2.828).abs() < 1e-6);
    let mut loader = DataLoader::new(&gpu(), &d, 25, 0).unwrap();
    let b = loader.next_batch().unwrap();
    assert_eq!(b.x.shape(), &[25, 2]);
    assert!(b.labels.is_none());
}

#[test]
fn batch_larger_than_the_data_set_is_an_error() {
    let opts = DataOptions {
        limit: Some(5),
        ..Default::default()
    };
    let d = data::load(&"mnist".parse().unwrap(), &opts).unwrap();
    let e = DataLoader::new(&gpu(), &d, 10, 0)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("batch size 10"), "{e}");
}

#[test]
fn data_folders_are_stored_absolute_so_runs_resume_from_anywhere() {
    let here = std::env::current_dir().unwrap();
    assert_eq!(
        data::absolute_spec("images:faces").unwrap(),
        format!("images:{}", here.join("faces").display())
    );
    #[cfg(unix)]
    assert_eq!(
        data::absolute_spec("mnist-test:/data/mnist").unwrap(),
        "mnist-test:/data/mnist"
    );
    for plain in ["mnist", "mnist-test", "grid25", "ring8"] {
        assert_eq!(data::absolute_spec(plain).unwrap(), plain);
    }
    // The shipped subset is found in the source tree, not in the current folder.
    let shipped = data::default_mnist_dir();
    assert!(shipped.is_absolute(), "{shipped:?}");
    let e = data::absolute_spec("mnist:").unwrap_err().to_string();
    assert!(e.contains("names no folder after the colon"), "{e}");
}
