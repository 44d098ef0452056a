//! Shuffled batches assembled on the GPU.
//!
//! The data set is uploaded once (images as bytes, four to a word; floats as they are) and
//! each batch is gathered there by index, so a training step moves no sample data across the
//! bus. Each epoch visits every sample once in an order drawn from (seed, epoch); the last
//! incomplete batch of an epoch is dropped so every batch has the configured size. A data set
//! larger than one storage binding stays in host memory and each batch is uploaded instead.

use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::{HostData, Samples};
use crate::error::{Error, Result};
use crate::gpu::{grid, Gpu, Kernel};
use crate::kernel;
use crate::tensor::Tensor;

const GATHER_U8: Kernel = kernel!("gather_u8", "gather_u8.wgsl");
const GATHER_U8_WORDS: Kernel = kernel!("gather_u8_words", "gather_u8_words.wgsl");

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct GatherParams {
    rows: u32,
    width: u32,
    n: u32,
    pad: u32,
    scale: f32,
    shift: f32,
    pad2: [u32; 2],
}

/// One batch: samples `[B, ...sample_shape]` and, for labelled data, labels `[B]` (u32).
pub struct Batch {
    pub x: Tensor,
    pub labels: Option<Tensor>,
}

enum Store {
    /// Image bytes on the GPU, packed four to a u32.
    GpuBytes(Tensor),
    /// Float samples on the GPU, `[count, width]`.
    GpuFloats(Tensor),
    /// Image bytes kept on the host (too large for one binding).
    HostBytes(Vec<u8>),
}

pub struct DataLoader {
    gpu: Gpu,
    store: Store,
    labels: Option<Tensor>,
    host_labels: Option<Vec<u32>>,
    count: usize,
    width: usize,
    sample_shape: Vec<usize>,
    batch: usize,
    seed: u64,
    epoch: u64,
    pos: usize,
    order: Vec<u32>,
    order_gpu: Option<Tensor>,
}

fn pack_bytes(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks(4)
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(w)
        })
        .collect()
}

impl DataLoader {
    pub fn new(gpu: &Gpu, data: &HostData, batch: usize, seed: u64) -> Result<DataLoader> {
        if batch == 0 || batch > data.count {
            return Err(Error::Config(format!(
                "batch size {batch} must be between 1 and the number of samples ({})",
                data.count
            )));
        }
        let width = data.sample_len();
        let store = match &data.samples {
            Samples::Bytes(b) if (b.len() as u64) <= gpu.max_binding_bytes() => {
                let words = pack_bytes(b);
                Store::GpuBytes(Tensor::from_u32(gpu, &words, &[words.len()])?)
            }
            Samples::Bytes(b) => Store::HostBytes(b.clone()),
            Samples::Floats(f) => {
                Store::GpuFloats(Tensor::from_slice(gpu, f, &[data.count, width])?)
            }
        };
        let labels = match &data.labels {
            Some(l) => Some(Tensor::from_u32(gpu, l, &[l.len()])?),
            None => None,
        };
        Ok(DataLoader {
            gpu: gpu.clone(),
            store,
            labels,
            host_labels: data.labels.clone(),
            count: data.count,
            width,
            sample_shape: data.sample_shape.clone(),
            batch,
            seed,
            epoch: 0,
            pos: 0,
            order: Vec::new(),
            order_gpu: None,
        })
    }

    pub fn batch_size(&self) -> usize {
        self.batch
    }

    /// Full batches per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        self.count / self.batch
    }

    /// (epoch, position within it): enough to resume the exact batch sequence.
    pub fn state(&self) -> (u64, usize) {
        (self.epoch, self.pos)
    }

    /// Samples in the data set.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Continues from a saved [`DataLoader::state`].
    pub fn restore(&mut self, epoch: u64, pos: usize) -> Result<()> {
        if pos > self.count {
            return Err(Error::Data(format!(
                "data position {pos} exceeds the data set size {}",
                self.count
            )));
        }
        self.epoch = epoch;
        self.pos = pos;
        self.order.clear();
        self.order_gpu = None;
        Ok(())
    }

    fn shuffle(&mut self) -> Result<()> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(
            self.seed ^ (self.epoch + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        self.order = (0..self.count as u32).collect();
        self.order.shuffle(&mut rng);
        self.order_gpu = match self.store {
            Store::HostBytes(_) => None,
            _ => Some(Tensor::from_u32(&self.gpu, &self.order, &[self.count])?),
        };
        Ok(())
    }

    /// The next batch; starts a new epoch (new order) when the current one is used up.
    pub fn next_batch(&mut self) -> Result<Batch> {
        if self.pos + self.batch > self.count {
            self.epoch += 1;
            self.pos = 0;
            self.order.clear();
        }
        if self.order.is_empty() {
            self.shuffle()?;
        }
        let (start, b) = (self.pos, self.batch);
        self.pos += b;
        let mut shape = vec![b];
        shape.extend_from_slice(&self.sample_shape);
        let x = match &self.store {
            Store::GpuBytes(words) => {
                let idx = self
                    .order_gpu
                    .as_ref()
                    .expect("order uploaded")
                    .narrow(0, start, b)?;
                self.gather_bytes(words, &idx, &shape)?
            }
            Store::GpuFloats(data) => {
                let idx = self
                    .order_gpu
                    .as_ref()
                    .expect("order uploaded")
                    .narrow(0, start, b)?;
                data.gather_rows(&idx)?.reshape(&shape)?
            }
            Store::HostBytes(bytes) => {
                let mut chunk = Vec::with_capacity(b * self.width);
                for &i in &self.order[start..start + b] {
                    let i = i as usize;
                    chunk.extend_from_slice(&bytes[i * self.width..(i + 1) * self.width]);
                }
                let words = pack_bytes(&chunk);
                let data = Tensor::from_u32(&self.gpu, &words, &[words.len()])?;
                let iota: Vec<u32> = (0..b as u32).collect();
                let idx = Tensor::from_u32(&self.gpu, &iota, &[b])?;
                self.gather_bytes(&data, &idx, &shape)?
            }
        };
        let labels = match (&self.labels, &self.store) {
            (Some(_), Store::HostBytes(_)) => {
                let l = self.host_labels.as_ref().expect("labels on host");
                let picked: Vec<u32> = self.order[start..start + b]
                    .iter()
                    .map(|&i| l[i as usize])
                    .collect();
                Some(Tensor::from_u32(&self.gpu, &picked, &[b])?)
            }
            (Some(l), _) => {
                let idx = self
                    .order_gpu
                    .as_ref()
                    .expect("order uploaded")
                    .narrow(0, start, b)?;
                Some(l.gather_rows(&idx)?)
            }
            (None, _) => None,
        };
        Ok(Batch { x, labels })
    }

    /// Rows `idx` of packed byte images, as floats x/127.5 − 1 of `shape`.
    fn gather_bytes(&self, words: &Tensor, idx: &Tensor, shape: &[usize]) -> Result<Tensor> {
        let rows = idx.numel();
        let out = Tensor::empty(&self.gpu, shape, crate::tensor::DType::F32, "gather_u8")?;
        // Four bytes per invocation where every row starts on a word (MNIST's 784, 64×64).
        let by_word = self.width.is_multiple_of(4);
        let (kernel, n) = if by_word {
            (&GATHER_U8_WORDS, rows * self.width / 4)
        } else {
            (&GATHER_U8, rows * self.width)
        };
        let p = GatherParams {
            rows: rows as u32,
            width: self.width as u32,
            n: n as u32,
            pad: 0,
            scale: 1.0 / 127.5,
            shift: -1.0,
            pad2: [0; 2],
        };
        self.gpu.launch(
            kernel,
            &[],
            bytemuck::bytes_of(&p),
            &[words.storage(), idx.storage(), out.storage()],
            grid(n as u64, 256),
        )?;
        Ok(out)
    }
}
