/// Limits the replicas enforce (in their codecs and preconditions) and the ranges outside which a run
/// stops meaning anything, in one place: the protocols take their limits from here, and the scenario
/// parser checks every one of them with a positioned error, so no accepted scenario reaches a trap.
public enum ProtocolLimits {
    /// Largest cluster the codecs accept (replica ids are below it).
    public static let replicasMax = 1024
    /// Most requests in one PBFT batch or HotStuff block on the wire.
    public static let batchSizeMax = 4096
    /// Largest PBFT watermark window: prepared certificates in one VIEW-CHANGE and re-proposals in one
    /// NEW-VIEW are bounded by it on the wire.
    public static let watermarkWindowMax = 1 << 16
    /// Longest simulated duration or instant a scenario may name (about 11.6 days): the simulator adds
    /// bounds, timeouts and latencies to instants, and sums of these stay far from `Int64.max`.
    public static let durationMax: Nanoseconds = 1_000_000 * nanosPerSecond
    /// Shortest view-change / view / client-retry timeout: below a millisecond a timer fires before any
    /// message can arrive and the run becomes a timer storm that measures nothing.
    public static let timeoutMin: Nanoseconds = nanosPerMillisecond
    /// Longest such timeout (an hour).
    public static let timeoutMax: Nanoseconds = 3_600 * nanosPerSecond
    /// Highest open-loop arrival rate over all clients, requests per second (well above what a
    /// simulated cluster commits; past it the run only grows a queue).
    public static let openLoopRateMax = 1_000_000.0
}
