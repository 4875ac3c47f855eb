//! Latency histograms: log-linear buckets (64 per power of two, so any reported value is within 1/64 ≈ 1.6 % of
//! the true one, and exact below 128 µs), a fixed 30 KiB however many values are recorded.
//!
//! Deliveries are recorded into a per-thread histogram (an atomic array only its own thread writes, so no cache
//! line bounces between cores at hundreds of thousands of events a second) and summed when the run ends.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// Values below this have a bucket each.
const LINEAR: u64 = 2 * SUB;
pub const BUCKETS: usize = (LINEAR + (63 - SUB_BITS as u64) * SUB) as usize;

/// The bucket holding `v`.
pub fn bucket_of(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let exp = 63 - u64::from(v.leading_zeros());
    let shift = exp - u64::from(SUB_BITS);
    let sub = (v >> shift) - SUB;
    (LINEAR + (exp - u64::from(SUB_BITS) - 1) * SUB + sub) as usize
}

/// The smallest and largest value in bucket `i`.
pub fn bucket_range(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < LINEAR {
        return (i, i);
    }
    let k = i - LINEAR;
    let shift = k / SUB + 1;
    let low = (SUB + k % SUB) << shift;
    (low, low.saturating_add((1u64 << shift) - 1))
}

/// A plain histogram: what is merged and queried.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    count: u64,
    sum: u128,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            count: 0,
            sum: 0,
            max: 0,
        }
    }
}

impl Histogram {
    pub fn record(&mut self, v: u64) {
        self.counts[bucket_of(v)] += 1;
        self.count += 1;
        self.sum += u128::from(v);
        self.max = self.max.max(v);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }

    /// The value at quantile `q` (0..=1) by the nearest-rank method: the smallest recorded value with at least
    /// `ceil(q × count)` values at or below it, reported as its bucket's upper bound (never above the maximum),
    /// so a percentile is never understated. 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (i, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return bucket_range(i).1.min(self.max);
            }
        }
        self.max
    }
}

/// A histogram one thread records into and any thread may read.
struct Shared {
    counts: Box<[AtomicU64]>,
    count: AtomicU64,
    sum: AtomicU64,
    max: AtomicU64,
}

impl Shared {
    fn new() -> Self {
        Shared {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }

    fn record(&self, v: u64) {
        // Only this thread writes here, so plain load/store suffices and no read-modify-write is needed.
        let slot = &self.counts[bucket_of(v)];
        slot.store(slot.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        self.count
            .store(self.count.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        self.sum.store(
            self.sum.load(Ordering::Relaxed).wrapping_add(v),
            Ordering::Relaxed,
        );
        if v > self.max.load(Ordering::Relaxed) {
            self.max.store(v, Ordering::Relaxed);
        }
    }
}

static THREADS: Mutex<Vec<Arc<Shared>>> = Mutex::new(Vec::new());

thread_local! {
    static LOCAL: Arc<Shared> = {
        let shared = Arc::new(Shared::new());
        THREADS.lock().unwrap_or_else(|e| e.into_inner()).push(shared.clone());
        shared
    };
}

/// Records one delivery latency (µs) into this thread's histogram.
pub fn record_delivery(micros: u64) {
    LOCAL.with(|h| h.record(micros));
}

/// Deliveries recorded so far by all threads: cheap enough to poll while waiting for the last ones.
pub fn delivered() -> u64 {
    THREADS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|shared| shared.count.load(Ordering::Relaxed))
        .sum()
}

/// The sum of every thread's delivery histogram so far.
pub fn deliveries() -> Histogram {
    let mut out = Histogram::default();
    for shared in THREADS.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        for (total, slot) in out.counts.iter_mut().zip(shared.counts.iter()) {
            let n = slot.load(Ordering::Relaxed);
            *total += n;
            out.count += n;
        }
        out.sum += u128::from(shared.sum.load(Ordering::Relaxed));
        out.max = out.max.max(shared.max.load(Ordering::Relaxed));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_contiguously() {
        let mut probes: Vec<u64> = (0..100_000).collect();
        probes.extend((7..64).flat_map(|e| {
            [
                (1u64 << e) - 1,
                1 << e,
                (1 << e) + 1,
                (1 << e) + (1 << (e - 1)),
            ]
        }));
        probes.push(u64::MAX);
        for v in probes {
            let (low, high) = bucket_range(bucket_of(v));
            assert!(low <= v && v <= high, "{v} not in bucket {:?}", (low, high));
            assert!(
                high - low <= v / 64,
                "bucket of {v} too wide: {:?}",
                (low, high)
            );
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        for i in 1..BUCKETS {
            assert_eq!(
                bucket_range(i).0,
                bucket_range(i - 1).1 + 1,
                "gap before bucket {i}"
            );
        }
    }

    #[test]
    fn percentiles_use_nearest_rank_and_never_understate() {
        let mut h = Histogram::default();
        assert_eq!((h.quantile(0.5), h.max(), h.mean()), (0, 0, 0.0), "empty");
        for v in 1..=1000 {
            h.record(v);
        }
        assert_eq!(h.count(), 1000);
        let p50 = h.quantile(0.50);
        let p99 = h.quantile(0.99);
        assert!((500..=508).contains(&p50), "p50 {p50}");
        assert!((990..=1000).contains(&p99), "p99 {p99}");
        assert_eq!(h.quantile(1.0), 1000);
        assert_eq!(h.quantile(0.0), 1, "rank is at least 1");
        assert!((h.mean() - 500.5).abs() < 1e-9);

        let mut exact = Histogram::default();
        for v in [5, 5, 5, 100] {
            exact.record(v);
        }
        assert_eq!(
            (
                exact.quantile(0.5),
                exact.quantile(0.75),
                exact.quantile(0.76)
            ),
            (5, 5, 100)
        );
    }

    #[test]
    fn per_thread_histograms_add_up() {
        let before = deliveries().count();
        std::thread::scope(|s| {
            for t in 0..3u64 {
                s.spawn(move || (0..100).for_each(|v| record_delivery(v * (t + 1))));
            }
        });
        let all = deliveries();
        assert_eq!(all.count() - before, 300);
        assert!(delivered() >= 300);
        assert!(all.max() >= 297);
    }
}
