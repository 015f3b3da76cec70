/// What clients ask of the cluster. Part of a scenario; each client draws from its own RNG stream.
public struct WorkloadSpec: Sendable, Equatable, Codable {
    public enum Mode: Sendable, Equatable, Codable {
        /// Each client keeps one request outstanding and waits `thinkTime` after each completion.
        case closed(thinkTime: Nanoseconds)
        /// Requests arrive as a Poisson process of `rate` per second over all clients; each client
        /// queues its arrivals and sends them one at a time (PBFT clients have one outstanding request).
        case open(rate: Double)
    }

    public var clients: Int
    public var mode: Mode
    /// Requests each client issues; `nil` means until the run stops.
    public var requestsPerClient: Int?
    public var keySpace: Int
    /// Fraction of operations that are `get`.
    public var readRatio: Double
    /// Fraction of operations that are `append` (the rest are `put`).
    public var appendRatio: Double
    public var valueSize: Int
    /// Client retransmission timeout; doubles on each retry up to `retryTimeoutMax`.
    public var retryTimeout: Nanoseconds
    public var retryTimeoutMax: Nanoseconds
    /// Open loop only: from `at` on (time since the client started) the total arrival rate is `rate`
    /// (0 pauses arrivals), until the next change; times strictly increasing. nil: `rate` throughout.
    public var rateChanges: [RateChange]? = nil

    /// One step of a piecewise-constant arrival rate (a load that rises or falls during the run).
    public struct RateChange: Sendable, Equatable, Hashable, Codable {
        public var at: Nanoseconds
        /// Requests per second over all clients.
        public var rate: Double
        public init(at: Nanoseconds, rate: Double) {
            self.at = at
            self.rate = rate
        }
    }

    /// The total open-loop rate in force at `t` (time since the client started), and when it next changes.
    public func openRate(at t: Nanoseconds) -> (rate: Double, until: Nanoseconds?) {
        guard case .open(let base) = mode else { return (0, nil) }
        var rate = base
        for change in rateChanges ?? [] {
            if change.at > t { return (rate, change.at) }
            rate = change.rate
        }
        return (rate, nil)
    }

    public init(clients: Int = 1, mode: Mode = .closed(thinkTime: 0), requestsPerClient: Int? = 100,
                keySpace: Int = 100, readRatio: Double = 0.2, appendRatio: Double = 0.1, valueSize: Int = 16,
                retryTimeout: Nanoseconds = 500 * nanosPerMillisecond, retryTimeoutMax: Nanoseconds = 8 * nanosPerSecond) {
        self.clients = clients
        self.mode = mode
        self.requestsPerClient = requestsPerClient
        self.keySpace = keySpace
        self.readRatio = readRatio
        self.appendRatio = appendRatio
        self.valueSize = valueSize
        self.retryTimeout = retryTimeout
        self.retryTimeoutMax = retryTimeoutMax
    }

    /// Draws one operation.
    public func nextOperation(_ rng: inout DeterministicRNG) -> KeyValueStore.Operation {
        let key = "k\(rng.below(UInt64(max(1, keySpace))))"
        let u = rng.unit()
        if u < readRatio { return .get(key: key) }
        var value = [UInt8](repeating: 0, count: valueSize)
        for i in value.indices { value[i] = UInt8(truncatingIfNeeded: rng.next()) }
        if u < readRatio + appendRatio { return .append(key: key, value: value) }
        return .put(key: key, value: value)
    }
}
