/// A timeout with exponential backoff: `base` after a reset, doubling on each consecutive failure up to
/// `max` (TigerBeetle's `Timeout`, without jitter: replicas see time only through their timers, and a
/// deterministic duration keeps runs replayable).
///
/// PBFT's view-change timer (Castro & Liskov §4.4: "if the timer of view v+1 expires before it receives
/// a valid NEW-VIEW ... it starts the view change for v+2 but this time it will wait 2T", rule V6) and
/// HotStuff's view timer (Yin et al. PODC'19 §4–5, the pacemaker's exponential backoff, rule P4) both
/// use it: doubling lets correct replicas, whose timers start at different times, eventually overlap
/// in one view for long enough after GST; `max` bounds how long a crashed leader can stall them.
public struct BackoffTimeout: Sendable, Equatable {
    public let base: Nanoseconds
    public let max: Nanoseconds
    /// Consecutive failures since the last reset: the doubling exponent.
    public var failures = 0

    public init(base: Nanoseconds, max: Nanoseconds) {
        self.base = base
        self.max = max
    }

    /// `base` after a reset, else `base · 2^failures` capped at `max` (computed without overflow).
    public var duration: Nanoseconds {
        guard failures > 0 else { return base }
        var t = base
        for _ in 0..<Swift.min(failures, 62) {
            guard t < max else { break }
            t = t > max / 2 ? max : t * 2
        }
        return Swift.min(t, max)
    }

    /// The attempt timed out: the next one waits twice as long (up to `max`).
    public mutating func backOff() { failures += 1 }

    /// Progress was made: the next attempt waits `base` again.
    public mutating func reset() { failures = 0 }
}
