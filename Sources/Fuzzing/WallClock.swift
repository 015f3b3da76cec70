import Dispatch

/// The campaign driver's only clock: monotonic wall time in seconds, for `--time-budget`, the
/// progress line and the `timing` fields (runs/s). Nothing a run simulates reads it: each run is a
/// pure function of its scenario, and the batch of runs is fixed before the clock is consulted, so a
/// campaign bounded by `--runs` is identical with or without it (`--omit-timing` drops the timing
/// fields from the output for byte-identical files).
enum WallClock {
    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}
