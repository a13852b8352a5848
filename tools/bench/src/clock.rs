//! The clock measurements are taken with.
//!
//! The lean guest kernel has no usable clocksource under TCG (no HPET or ACPI PM timer to
//! calibrate the TSC against, so it marks the TSC unstable), and falls back to jiffies:
//! `CLOCK_MONOTONIC` then advances in 4 ms steps, far too coarse for operations of a few µs, and
//! it loses ticks when the host is busy (the guest's clock then runs slow, by tens of percent).
//! So when the monotonic clock is that coarse, the bench reads the TSC directly: under TCG it is
//! the host's TSC, at the host's constant rate, which `scripts/bench.sh` measures on the host
//! (`pathstore-bench tsc-rate`) and passes in. Without that rate, the TSC is calibrated against
//! the guest's own clock, which is only as good as that clock.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The smallest step of `CLOCK_MONOTONIC` that still counts as fine-grained, in ns.
const FINE_NS: u128 = 1000;

/// How the bench tells time.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// `CLOCK_MONOTONIC` (through [`Instant`]), measured from `base`.
    Monotonic { base: Instant },
    /// The TSC, at `ticks_per_ns`.
    Tsc { ticks_per_ns: f64 },
}

static SOURCE: OnceLock<Source> = OnceLock::new();

/// What [`init`] found.
#[derive(Clone, Debug)]
pub struct ClockInfo {
    /// One-line description for the results.
    pub description: String,
}

/// The observed step of `CLOCK_MONOTONIC`: the smallest non-zero difference between two
/// consecutive readings, over a few tries.
fn monotonic_step() -> Duration {
    (0..5)
        .map(|_| {
            let a = Instant::now();
            loop {
                let b = Instant::now();
                if b != a {
                    break b - a;
                }
            }
        })
        .min()
        .unwrap_or_default()
}

#[cfg(target_arch = "x86_64")]
fn tsc() -> u64 {
    // SAFETY: RDTSC has no preconditions; every x86_64 CPU has it and userspace may run it
    // unless the kernel disabled it (CR4.TSD), which Linux does not by default.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Calibrates the TSC against `CLOCK_MONOTONIC` over `window`: both ends are taken just after
/// the monotonic clock steps, so its coarseness does not count.
#[cfg(target_arch = "x86_64")]
fn calibrate_tsc(window: Duration) -> f64 {
    let edge = || {
        let a = Instant::now();
        loop {
            let b = Instant::now();
            if b != a {
                return (b, tsc());
            }
        }
    };
    let (t0, c0) = edge();
    std::thread::sleep(window);
    let (t1, c1) = edge();
    (c1 - c0) as f64 / (t1 - t0).as_nanos() as f64
}

/// Chooses the clock. `tsc_ghz` is the TSC's rate measured on the host, if known; otherwise the
/// TSC is calibrated against `CLOCK_MONOTONIC` over `window`. Call once, first.
pub fn init(window: Duration, tsc_ghz: Option<f64>) -> ClockInfo {
    let step_ns = monotonic_step().as_nanos();
    #[cfg(target_arch = "x86_64")]
    if step_ns > FINE_NS {
        let local = calibrate_tsc(window);
        let (ticks_per_ns, description) = match tsc_ghz {
            Some(rate) => (
                rate,
                format!(
                    "TSC at {rate:.4} GHz as measured on the host (CLOCK_MONOTONIC steps by \
                     {:.1} ms here, and over {:.1} s it ran {:+.1}% against the TSC)",
                    step_ns as f64 / 1e6,
                    window.as_secs_f64(),
                    (local / rate - 1.0) * 100.0
                ),
            ),
            None => (
                local,
                format!(
                    "TSC at {local:.4} GHz, calibrated over {:.1} s against CLOCK_MONOTONIC, \
                     which steps by {:.1} ms here (no host rate given: only as good as that \
                     clock)",
                    window.as_secs_f64(),
                    step_ns as f64 / 1e6
                ),
            ),
        };
        let _ = SOURCE.set(Source::Tsc { ticks_per_ns });
        return ClockInfo { description };
    }
    let _ = (window, tsc_ghz);
    let _ = SOURCE.set(Source::Monotonic {
        base: Instant::now(),
    });
    ClockInfo {
        description: format!("CLOCK_MONOTONIC (step {step_ns} ns)"),
    }
}

/// The TSC's rate in GHz (ticks per ns), measured against `CLOCK_MONOTONIC` over `window`: for
/// the host, whose clock is good, to tell the guest.
#[cfg(target_arch = "x86_64")]
pub fn measure_tsc_ghz(window: Duration) -> Option<f64> {
    Some(calibrate_tsc(window))
}

/// The TSC's rate: unknown off x86_64.
#[cfg(not(target_arch = "x86_64"))]
pub fn measure_tsc_ghz(_window: Duration) -> Option<f64> {
    None
}

/// Re-measures the TSC rate against `CLOCK_MONOTONIC` over `window` and returns its change
/// relative to the rate in use (0 when the TSC is not used): how far the guest's clock and the
/// TSC disagree.
pub fn drift(window: Duration) -> f64 {
    match SOURCE.get() {
        #[cfg(target_arch = "x86_64")]
        Some(Source::Tsc { ticks_per_ns }) => calibrate_tsc(window) / ticks_per_ns - 1.0,
        _ => 0.0,
    }
}

/// Nanoseconds since an arbitrary origin, from the chosen clock.
pub fn now_ns() -> f64 {
    match SOURCE.get_or_init(|| Source::Monotonic {
        base: Instant::now(),
    }) {
        Source::Monotonic { base } => base.elapsed().as_nanos() as f64,
        #[cfg(target_arch = "x86_64")]
        Source::Tsc { ticks_per_ns } => tsc() as f64 / ticks_per_ns,
        #[cfg(not(target_arch = "x86_64"))]
        Source::Tsc { .. } => unreachable!("the TSC is only used on x86_64"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_increases() {
        let a = now_ns();
        std::thread::sleep(Duration::from_millis(2));
        let b = now_ns();
        assert!(b - a >= 1e6, "{a} {b}");
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn tsc_calibration_is_plausible() {
        let rate = calibrate_tsc(Duration::from_millis(50));
        // Anything from 100 MHz to 10 GHz.
        assert!((0.1..10.0).contains(&rate), "{rate}");
    }
}
