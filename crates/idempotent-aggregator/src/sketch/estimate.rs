//! Cardinality estimators: Ertl's improved estimator for dense registers and
//! linear counting for the sparse representation.
//!
//! Why not HyperLogLog++'s empirical bias tables: Ertl's estimator ("New
//! cardinality estimation algorithms for HyperLogLog sketches", 2017, also
//! used by Redis) is unbiased over the whole range from a handful to 2^64
//! without tables or a switch-over threshold, uses only `+ * / sqrt` (exact in
//! IEEE 754, so the same registers give the same estimate on wasm32 and
//! x86_64), and needs only the histogram of register values.

/// `1 / (2 ln 2)`: the limit of HyperLogLog's bias constant α_m.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// Ertl's improved raw estimator over registers holding ranks `0..=q + 1`,
/// where `q = 64 - p`.
pub(super) fn dense(registers: &[u8], precision: u8) -> f64 {
    let q = 64 - usize::from(precision);
    let mut histogram = [0u32; 66];
    for &r in registers {
        // Registers never exceed q + 1 <= 61 (constructors and decoders check).
        if let Some(slot) = histogram.get_mut(usize::from(r)) {
            *slot += 1;
        }
    }
    let m = registers.len() as f64;
    let top = f64::from(histogram.get(q + 1).copied().unwrap_or(0));
    let mut z = m * tau((m - top) / m);
    for &count in histogram[1..=q].iter().rev() {
        z = 0.5 * (z + f64::from(count));
    }
    z += m * sigma(f64::from(histogram[0]) / m);
    ALPHA_INF * m * m / z
}

/// Linear counting over the `2^width` sparse slots of which `occupied` are
/// set: `-2^width · ln(1 - x)` with `x = occupied / 2^width`.
///
/// Computed as the series `Σ x^k / k` with `+ * /` only (no `ln`, whose last
/// bit differs between libms), so it is bit-identical on wasm32 and x86_64.
/// Sparse sketches keep `x <= 2^-11`, where twelve terms are exact to far
/// below one ulp.
pub(super) fn sparse(occupied: usize, width: u32) -> f64 {
    let slots = (1u64 << width) as f64;
    let x = occupied as f64 / slots;
    let mut power = x;
    let mut sum = 0.0;
    for k in 1..=12 {
        sum += power / f64::from(k);
        power *= x;
    }
    slots * sum
}

/// σ(x) = x + Σ_{k≥1} x^{2^k} 2^{k-1}.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let previous = z;
        z += x * y;
        y += y;
        if z == previous {
            return z;
        }
    }
}

/// τ(x) = (1 - x - Σ_{k≥1} (1 - x^{2^-k})² 2^-k) / 3.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let previous = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if z == previous {
            return z / 3.0;
        }
    }
}
