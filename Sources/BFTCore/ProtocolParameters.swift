/// The batching, checkpoint and view-timeout parameters of a cluster: what a scenario's `parameters:`
/// section sets, what a cluster file carries, and what a PBFT replica runs with (`PBFTConfig.parameters`),
/// declared once so the three cannot drift apart. Fields a protocol does not use are ignored by it
/// (HotStuff reads the batch size, the view timeouts and the leader schedule; PBFT all but the schedule).
///
/// The defaults here are a scenario's; a `PBFTConfig` built without parameters uses
/// `PBFTConfig.defaultParameters`.
public struct ProtocolParameters: Sendable, Hashable, Codable {
    /// Most requests in one PRE-PREPARE batch (or HotStuff block).
    public var batchSizeMax: Int
    /// Longest a request waits at the primary for its batch to fill before a partial batch is sent
    /// (0 sends every request at once).
    public var batchDelayMax: Nanoseconds
    /// K: a checkpoint is taken after every K executed sequence numbers (Castro & Liskov §4.3; PBFT rule K1).
    public var checkpointInterval: Int
    /// L = H − h: sequence numbers accepted lie in (h, h + L] for the stable checkpoint h (§4.2; rule N1).
    /// A multiple of K, typically 2K.
    public var watermarkWindow: Int
    /// First view-change timeout (PBFT §4.5.2, rule V6) or view timeout (HotStuff pacemaker, rule P4);
    /// doubles on each consecutive failure up to `viewChangeTimeoutMax` (`BackoffTimeout`).
    public var viewChangeTimeout: Nanoseconds
    public var viewChangeTimeoutMax: Nanoseconds
    /// HotStuff: view v is led by `leaderSchedule[v % count]`; nil means round-robin `v % n`.
    public var leaderSchedule: [Int]?
    /// The adaptive controller (issue 18, `parameters.adaptive`); nil keeps the parameters above fixed.
    public var adaptive: AdaptiveConfig?

    public init(batchSizeMax: Int = 10, batchDelayMax: Nanoseconds = 2 * nanosPerMillisecond, checkpointInterval: Int = 32,
                watermarkWindow: Int = 64, viewChangeTimeout: Nanoseconds = 400 * nanosPerMillisecond,
                viewChangeTimeoutMax: Nanoseconds = 10 * nanosPerSecond, leaderSchedule: [Int]? = nil) {
        self.batchSizeMax = batchSizeMax
        self.batchDelayMax = batchDelayMax
        self.checkpointInterval = checkpointInterval
        self.watermarkWindow = watermarkWindow
        self.viewChangeTimeout = viewChangeTimeout
        self.viewChangeTimeoutMax = viewChangeTimeoutMax
        self.leaderSchedule = leaderSchedule
    }
}
