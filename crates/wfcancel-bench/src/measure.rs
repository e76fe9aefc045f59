//! Timing helpers: throughput at a fixed concurrency, latency samples, percentiles, and the
//! client thread's CPU time.

use std::future::Future;
use std::time::{Duration, Instant};

use futures::StreamExt;

/// One timed run of `n` operations.
#[derive(Debug, Clone, Copy, Default)]
pub struct Throughput {
    /// Operations run.
    pub n: u64,
    /// Operations that failed.
    pub errors: u64,
    /// Wall time.
    pub secs: f64,
    /// CPU time of the calling thread (the whole client: a current-thread runtime).
    pub cpu_secs: f64,
    /// Heap allocations made by the calling thread (see `crate::alloc`).
    pub allocs: u64,
}

impl Throughput {
    /// Operations per second.
    pub fn per_sec(&self) -> f64 {
        if self.secs > 0.0 {
            self.n as f64 / self.secs
        } else {
            0.0
        }
    }

    /// Heap allocations per operation.
    pub fn allocs_per_op(&self) -> f64 {
        if self.n > 0 {
            self.allocs as f64 / self.n as f64
        } else {
            0.0
        }
    }

    /// Client CPU microseconds per operation.
    pub fn cpu_us_per_op(&self) -> f64 {
        if self.n > 0 {
            self.cpu_secs * 1e6 / self.n as f64
        } else {
            0.0
        }
    }
}

/// CPU time (user + system) of the calling thread.
pub fn thread_cpu() -> Duration {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_THREAD with a valid pointer.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    if rc != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Times `f` (which returns its own operation count and error count).
pub async fn timed<F, Fut>(f: F) -> Throughput
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = (u64, u64)>,
{
    let allocs0 = crate::alloc::count();
    let cpu0 = thread_cpu();
    let t0 = Instant::now();
    let (n, errors) = f().await;
    Throughput {
        n,
        errors,
        secs: t0.elapsed().as_secs_f64(),
        cpu_secs: (thread_cpu() - cpu0).as_secs_f64(),
        allocs: crate::alloc::count() - allocs0,
    }
}

/// Runs `op(0..n)` with `concurrency` in flight; `op` answers whether it succeeded.
pub async fn drive<F, Fut>(n: usize, concurrency: usize, op: F) -> Throughput
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = bool>,
{
    timed(|| async {
        let errors = futures::stream::iter(0..n)
            .map(op)
            .buffer_unordered(concurrency)
            .fold(0u64, |e, ok| async move { e + u64::from(!ok) })
            .await;
        (n as u64, errors)
    })
    .await
}

/// The median of the figures (the mean of the middle two for an even count).
pub fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[m]
    } else {
        (xs[m - 1] + xs[m]) / 2.0
    }
}

/// The `p`-quantile (0 < p ≤ 1, nearest rank) of sorted samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Microseconds, for printing.
pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_medians() {
        let s: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        assert_eq!(percentile(&s, 0.5), Duration::from_micros(50));
        assert_eq!(percentile(&s, 0.99), Duration::from_micros(99));
        assert_eq!(percentile(&s, 1.0), Duration::from_micros(100));
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(vec![]), 0.0);
    }

    #[test]
    fn drive_counts_errors() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let t = rt.block_on(drive(10, 3, |i| async move { i % 5 != 0 }));
        assert_eq!((t.n, t.errors), (10, 2));
    }

    #[test]
    fn thread_cpu_moves() {
        // CPU time is accounted in ticks on some kernels: spin (at most 2 s) until it moves.
        let t0 = Instant::now();
        let mut x = 0u64;
        while thread_cpu() == Duration::ZERO && t0.elapsed() < Duration::from_secs(2) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        assert!(thread_cpu() > Duration::ZERO);
    }
}
