use tapegan::*;
fn main() -> Result<()> {
    let gpu = Gpu::new()?;
    println!("{:?}", gpu);
    let a = Tensor::from_slice(&gpu, &[1.0, 2.0, 3.0, 4.0], &[2, 2])?.with_grad()?;
    let b = a.matmul(&a)?;
    println!("{:?}", b.to_vec()?);
    let s = b.tanh()?.sum_all()?;
    println!("sum {}", s.item()?);
    let g = grad(&[&s], &[&a], true)?;
    println!("grad {:?}", g[0].to_vec()?);
    let gg = g[0].square()?.sum_all()?;
    let h = grad(&[&gg], &[&a], false)?;
    println!("hess-vec {:?}", h[0].to_vec()?);
    let mut r = Generator::new(0);
    let n = r.normal(&gpu, &[10000], 0.0, 1.0)?;
    let v = n.to_vec()?;
    let m: f32 = v.iter().sum::<f32>() / v.len() as f32;
    let var: f32 = v.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / v.len() as f32;
    println!("normal mean {m} var {var} first {:?}", &v[..4]);
    let big = r.uniform(&gpu, &[300, 784], -1.0, 1.0)?;
    println!("sum {} mean {}", big.sum_all()?.item()?, big.mean(&[0], false)?.to_vec()?[0]);
    println!("{:?}", gpu.exec_stats());
    Ok(())
}
