//! A counting global allocator: live bytes, peak bytes and number of allocations of the
//! threads that opted in, while counting is switched on.
//!
//! Only threads that called [`track_this_thread`] are counted, so the loopback servers, which
//! run on their own runtime threads in the same process, do not show up in the client's figure.
//! The benchmark's client runs on a current-thread runtime on the main thread, so every
//! allocation of the library under test (request URLs, reqwest/hyper buffers, reports) is
//! counted, and freed on the same thread. The counters are thread-local (no atomics on the
//! hot path), and counting is off unless [`set_counting`] turned it on: the throughput and
//! latency runs are timed with counting off, so that the counting itself (which would tax the
//! more allocation-heavy client more) does not bias the ratios.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

/// The allocator: `System`, plus the counters.
pub struct Counting;

static ON: AtomicBool = AtomicBool::new(false);

struct Counters {
    tracked: Cell<bool>,
    current: Cell<i64>,
    peak: Cell<i64>,
    count: Cell<u64>,
}

thread_local! {
    static C: Counters = const {
        Counters {
            tracked: Cell::new(false),
            current: Cell::new(0),
            peak: Cell::new(0),
            count: Cell::new(0),
        }
    };
}

#[inline]
fn add(delta: i64) {
    if !ON.load(Ordering::Relaxed) {
        return;
    }
    let _ = C.try_with(|c| {
        if !c.tracked.get() {
            return;
        }
        let now = c.current.get() + delta;
        c.current.set(now);
        if delta > 0 {
            c.count.set(c.count.get() + 1);
            if now > c.peak.get() {
                c.peak.set(now);
            }
        }
    });
}

// SAFETY: every call is forwarded unchanged to `System`; the counters are `Cell`s in a
// thread-local without a destructor, so nothing here allocates or blocks.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) };
        add(-(layout.size() as i64));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

/// Counts (or stops counting) the calling thread's allocations.
pub fn track_this_thread(on: bool) {
    C.with(|c| c.tracked.set(on));
}

/// Switches counting on or off for every tracked thread. Memory allocated while it was off and
/// freed while it is on makes the live figure drift down: measure deltas between two readings
/// taken while counting stayed on.
pub fn set_counting(on: bool) {
    ON.store(on, Ordering::Relaxed);
}

/// Live bytes of the calling thread (as counted).
pub fn current() -> i64 {
    C.with(|c| c.current.get())
}

/// Sets the calling thread's peak back to its live figure and returns it (a baseline).
pub fn reset_peak() -> i64 {
    C.with(|c| {
        c.peak.set(c.current.get());
        c.current.get()
    })
}

/// The calling thread's highest live figure since the last [`reset_peak`].
pub fn peak() -> i64 {
    C.with(|c| c.peak.get())
}

/// Allocations (and reallocations that grew) made by the calling thread while counted.
pub fn count() -> u64 {
    C.with(|c| c.count.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_only_when_on_and_tracked() {
        // The test binary does not install the allocator, so drive the counters directly.
        track_this_thread(true);
        set_counting(false);
        add(100);
        assert_eq!(count(), 0);
        set_counting(true);
        let base = reset_peak();
        add(100);
        add(50);
        add(-120);
        assert_eq!(count(), 2);
        assert_eq!(current() - base, 30);
        assert_eq!(peak() - base, 150);
        set_counting(false);
    }
}
