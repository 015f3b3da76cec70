/// The parts of `campaign.json` that the fuzzer writes and a report reads, defined once. The file is
/// written with snake_case keys (`CampaignResult.encoder`); readers decode with `.convertFromSnakeCase`.

/// One de-duplicated failure: a violation signature, how often it occurred, and its shrunk replay.
public struct SignatureRecord: Codable, Sendable, Equatable {
    public var signature: String
    public var kind: String
    /// Runs that failed with this signature.
    public var count: Int
    /// Index of the first run with it (runs to first failure = firstRun + 1).
    public var firstRun: Int
    /// The first violation's message.
    public var message: String
    /// Scenario file of the first run, relative to the campaign directory.
    public var file: String
    public var shrunkFile: String?
    public var originalFaultEvents: Int
    public var shrunkFaultEvents: Int?
    public var shrinkSimulations: Int?
    /// The shrunk file, parsed back from its text, still fails with the same kind.
    public var replayVerified: Bool?
    /// Replay command, run from the campaign directory.
    public var replay: String

    /// The record of the signature's first failing run (count 1, not shrunk yet: the shrinker fills in
    /// the shrunk fields, later failures only the count).
    public init(signature: String, kind: String, firstRun: Int, message: String, file: String, faultEvents: Int, replay: String) {
        self.signature = signature
        self.kind = kind
        count = 1
        self.firstRun = firstRun
        self.message = message
        self.file = file
        originalFaultEvents = faultEvents
        self.replay = replay
    }
}

public struct CoverageSummary: Codable, Sendable, Equatable {
    public var distinctStates = 0
    /// Sum over runs of the distinct states each run reached (mean per run = stateVisits / runs).
    public var stateVisits = 0
    /// (runs, distinct states after those runs) samples, by run index.
    public var growth: [[Int]] = []

    /// No coverage yet: the fuzzer and the shard merge fill it in, like the campaign's counts.
    public init() {}
}

/// Wall-clock figures: the only part of a campaign that depends on the machine and `--jobs`.
public struct CampaignTiming: Codable, Sendable, Equatable {
    public var elapsedSeconds: Double
    public var runsPerSecond: Double
    public var jobs: Int?
    public var shrinkSeconds: Double

    /// The figures of `runs` runs in `elapsedSeconds` (the rate is 0 when no time was measured).
    public init(runs: Int, elapsedSeconds: Double, jobs: Int?, shrinkSeconds: Double) {
        self.elapsedSeconds = elapsedSeconds
        runsPerSecond = elapsedSeconds > 0 ? Double(runs) / elapsedSeconds : 0
        self.jobs = jobs
        self.shrinkSeconds = shrinkSeconds
    }
}

/// `campaign.json`: the counts and records of a fuzz campaign, generic over its config (the fuzzer
/// writes its whole `FuzzConfig`, a report decodes only the config fields it shows). Everything except
/// `timing` is a function of the config and the run indices.
public struct CampaignRecord<Config: Codable & Sendable>: Codable, Sendable {
    public var config: Config
    /// "K/N" for one shard's output; nil for a whole or merged campaign.
    public var shard: String?
    /// Shards merged into this result (empty unless merged).
    public var mergedShards: [String]
    public var runs: Int
    public var overThresholdRuns: Int
    public var invalidRuns: Int
    public var failingRuns: Int
    /// Violations not counted as bugs (over-threshold runs, liveness where none is promised).
    public var excusedViolations: Int
    public var failuresByKind: [String: Int]
    public var signatures: [SignatureRecord]
    public var coverage: CoverageSummary
    public var timing: CampaignTiming?

    /// An empty campaign of `config` (counts zero, no records): the fuzzer and the shard merge fill it in.
    public init(config: Config, shard: String? = nil, mergedShards: [String] = []) {
        self.config = config
        self.shard = shard
        self.mergedShards = mergedShards
        runs = 0
        overThresholdRuns = 0
        invalidRuns = 0
        failingRuns = 0
        excusedViolations = 0
        failuresByKind = [:]
        signatures = []
        coverage = CoverageSummary()
    }
}

extension CampaignRecord: Equatable where Config: Equatable {}
