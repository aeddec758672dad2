//! Benchmark-only package: see `benches/`.
