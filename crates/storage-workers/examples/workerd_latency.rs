//! Request latency of single storage operations through Miniflare: starts
//! the conformance Worker in workerd and, for each operation, sends
//! sequential `GET /op/<kind>?i=N` requests (one operation each, on the real
//! KV, R2 and Durable Object bindings), printing p50 / p99 / mean.
//!
//! `noop` is the Worker answering without storage; `do-noop` adds the hop to
//! the Durable Object. Local figures on a shared machine: they compare
//! operations with each other, not with production.
//!
//! ```sh
//! cargo run --release -p glinto-storage-workers --example workerd_latency [requests per op]
//! ```
#![cfg_attr(
    not(target_arch = "wasm32"),
    expect(clippy::print_stdout, reason = "the example prints its figures")
)]

#[cfg(not(target_arch = "wasm32"))]
#[path = "../tests/support/mod.rs"]
mod support;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> Result<(), String> {
    use std::time::{Duration, Instant};

    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(300);
    support::check_prerequisites()?;
    let workerd = support::Workerd::start()?;
    println!("{n} sequential requests per operation through Miniflare (workerd), 100-byte values");
    println!(
        "{:<9} {:>9} {:>9} {:>9}",
        "op", "p50 ms", "p99 ms", "mean ms"
    );
    for op in [
        "noop", "kv-put", "kv-get", "r2-put", "r2-get", "do-noop", "do-write", "do-get",
    ] {
        let mut times = Vec::with_capacity(n);
        // A few unmeasured requests first: isolate start-up, first writes.
        for i in 0..n + 10 {
            let path = format!("/op/{op}?i={i}");
            let t = Instant::now();
            let (status, body) = support::get(workerd.addr, &path, Duration::from_secs(60))?;
            if status != 200 {
                return Err(format!("{path}: HTTP {status}: {body}"));
            }
            if i >= 10 {
                times.push(t.elapsed());
            }
        }
        times.sort();
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        let mean = times.iter().sum::<Duration>() / times.len() as u32;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{op:<9} {:>9.2} {:>9.2} {:>9.2}",
            ms(at(0.5)),
            ms(at(0.99)),
            ms(mean)
        );
    }
    Ok(())
}

#[cfg(target_arch = "wasm32")]
fn main() {}
