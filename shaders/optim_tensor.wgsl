
// optim_tensor.wgsl — tensor slot {{J}} of the fused optimizer update (see optim.wgsl).
// Bindings: parameter (read-write), gradient (read), m (read-write: Adam's first moment,
// SGD/RMSprop momentum buffer), v (read-write: second moment / square average).
@group(0) @binding({{W}}) var<storage, read_write> w{{J}}: array<T>;
@group(0) @binding({{G}}) var<storage, read> g{{J}}: array<T>;
@group(0) @binding({{M}}) var<storage, read_write> m{{J}}: array<T>;
@group(0) @binding({{V}}) var<storage, read_write> v{{J}}: array<T>;

fn update{{J}}(i: u32) {
    var wi = w{{J}}[i];
    let gi = g{{J}}[i] + p.wd * wi;
    if (p.kind == 0u) {
        let mi = p.b1 * m{{J}}[i] + (1.0 - p.b1) * gi;
        let vi = p.b2 * v{{J}}[i] + (1.0 - p.b2) * gi * gi;
        m{{J}}[i] = mi;
        v{{J}}[i] = vi;
        wi = wi - p.step * mi / (sqrt(vi) * p.vscale + p.eps);
    } else if (p.kind == 1u) {
        let vi = p.b2 * v{{J}}[i] + (1.0 - p.b2) * gi * gi;
        v{{J}}[i] = vi;
        let d = gi / (sqrt(vi) + p.eps);
        if (p.momentum != 0.0) {
            let mi = p.momentum * m{{J}}[i] + d;
            m{{J}}[i] = mi;
            wi = wi - p.step * mi;
        } else {
            wi = wi - p.step * d;
        }
    } else {
        if (p.momentum != 0.0) {
            let mi = select(p.momentum * m{{J}}[i] + gi, gi, p.first != 0u);
            m{{J}}[i] = mi;
            wi = wi - p.step * mi;
        } else {
            wi = wi - p.step * gi;
        }
    }
    if (p.clip_on != 0u) {
        wi = clamp(wi, T(-p.clip), T(p.clip));
    }
    w{{J}}[i] = wi;
}
