//! The random source and the few distributions the model draws from.
//!
//! SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
//! generators", OOPSLA 2014; Java's `SplittableRandom`): a 64-bit counter
//! passed through a bijective finalizer. It is chosen over a crate's
//! generator because the whole algorithm is the six lines below, so no
//! dependency upgrade can ever change the stream, and it passes BigCrush,
//! which is far more than synthetic traffic needs. Every distribution is
//! computed here from its 64-bit outputs with `libm`'s functions, so the
//! values are the same on every platform and with every `rand` version.

/// The SplitMix64 finalizer: a bijection on `u64`, so distinct inputs give
/// distinct outputs (used for the ids of events, visitors and sessions).
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A SplitMix64 generator.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// The generator of `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }

    /// Uniform in `[0, 1)`, in steps of 2^-53.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `0..n` (`n > 0`), by the high half of a 128-bit product
    /// (Lemire); the bias, below `n / 2^64`, is immaterial here.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Poisson with mean `mean` (small), by inversion.
    pub fn poisson(&mut self, mean: f64) -> u32 {
        let u = self.unit();
        let mut k = 0;
        let mut p = libm::exp(-mean);
        let mut cdf = p;
        while u >= cdf && k < 1000 {
            k += 1;
            p *= mean / f64::from(k);
            cdf += p;
        }
        k
    }

    /// Geometric on `1..`: the number of trials up to the first success of
    /// probability `p`, at most `cap`.
    pub fn geometric(&mut self, p: f64, cap: u32) -> u32 {
        let mut k = 1;
        while k < cap && !self.chance(p) {
            k += 1;
        }
        k
    }

    /// Exponential with mean `mean`, by inversion.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * libm::log(1.0 - self.unit())
    }
}

/// A discrete distribution over `0..n`: a cumulative table searched by
/// bisection.
#[derive(Clone, Debug)]
pub struct Weighted {
    cdf: Vec<f64>,
}

impl Weighted {
    /// Index `i` with probability `weights[i] / sum` (`weights` non-empty,
    /// non-negative, with a positive sum).
    pub fn new(weights: &[f64]) -> Self {
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let cdf = weights
            .iter()
            .map(|w| {
                acc += w;
                acc / total
            })
            .collect();
        Self { cdf }
    }

    /// Zipf over `0..n`: index `i` has weight `1 / (i + 1)^s`.
    pub fn zipf(n: usize, s: f64) -> Self {
        let weights: Vec<f64> = (1..=n).map(|k| libm::pow(k as f64, -s)).collect();
        Self::new(&weights)
    }

    /// A draw.
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len().saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_values() {
        // The first outputs for seed 0 of the reference implementation
        // (Vigna's splitmix64.c), which pin the stream on every platform.
        let mut rng = Rng::new(0);
        let got: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(
            got,
            [
                0xe220_a839_7b1d_cdaf,
                0x6e78_9e6a_a1b9_65f4,
                0x06c4_5d18_8009_454f
            ]
        );
    }

    #[test]
    fn distributions_have_their_means() {
        let mut rng = Rng::new(42);
        let n = 200_000;
        let mut check = |name: &str, expected: f64, tolerance: f64, f: fn(&mut Rng) -> f64| {
            let got = (0..n).map(|_| f(&mut rng)).sum::<f64>() / f64::from(n);
            assert!(
                (got - expected).abs() < tolerance,
                "{name}: mean {got}, expected {expected}"
            );
        };
        check("unit", 0.5, 0.01, Rng::unit);
        check("poisson(0.4)", 0.4, 0.01, |r| f64::from(r.poisson(0.4)));
        check("geometric(0.45)", 1.0 / 0.45, 0.02, |r| {
            f64::from(r.geometric(0.45, 1000))
        });
        check("exponential(60000)", 60_000.0, 600.0, |r| {
            r.exponential(60_000.0)
        });
        let w = Weighted::new(&[1.0, 0.0, 3.0]);
        let mut counts = [0u32; 3];
        for _ in 0..n {
            counts[w.sample(&mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        let share = f64::from(counts[2]) / f64::from(n);
        assert!((share - 0.75).abs() < 0.01, "{counts:?}");
        assert_eq!(rng.below(1), 0);
    }
}
