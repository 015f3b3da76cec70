import BFTCore

/// What a finished run reports: counts, the trace hash and the replicas' durable state.
public struct SimulationResult: Sendable {
    public enum StopReason: String, Sendable, Equatable {
        /// Simulated time reached `stop.timeLimit`.
        case timeLimit
        /// Every client completed `requestsPerClient` requests.
        case clientsDone
        /// Nothing was left to happen.
        case noEvents
        /// The run processed its event budget (`Simulator.eventsMax`) first: a message or timer storm.
        case eventBudget
        /// The process's resident memory passed the run's memory budget (`Simulator.memoryCheck`).
        case memoryBudget
        /// The shell's stop condition held (`Simulator.shouldStop`; `bftsim bench --scale` counts blocks).
        case stopCondition
    }

    /// Messages the network did not deliver, by reason.
    public struct Drops: Sendable, Equatable {
        public var loss = 0
        public var partition = 0
        public var crashed = 0
        /// Dropped by a timeline `message_fault`.
        public var fault = 0
        public var total: Int { loss + partition + crashed + fault }
        public subscript(reason: DropReason) -> Int {
            switch reason {
            case .loss: return loss
            case .partition: return partition
            case .crashed: return crashed
            case .fault: return fault
            }
        }
        mutating func count(_ reason: DropReason) {
            switch reason {
            case .loss: loss += 1
            case .partition: partition += 1
            case .crashed: crashed += 1
            case .fault: fault += 1
            }
        }
    }

    /// Messages of one type (as named by the protocol's `MessageDescriber`).
    public struct TypeCount: Sendable, Equatable {
        public var type: String
        public var sent: Int
        public var delivered: Int
    }

    /// Simulated time when the run stopped.
    public var endTime: Nanoseconds
    /// Events popped from the queue and processed (deliveries, timers incl. stale re-armed ones, faults, starts).
    public var eventsProcessed: UInt64
    /// Of those, timer events skipped because the timer was re-armed, cancelled or its machine crashed.
    public var staleTimersSkipped: UInt64
    /// Point-to-point sends (a broadcast to n-1 replicas counts n-1).
    public var messagesSent: Int
    public var messagesDelivered: Int
    /// Extra copies the network created (before GST).
    public var messagesDuplicated: Int
    public var messagesDropped: Drops
    /// Sorted by type name.
    public var messagesByType: [TypeCount]
    public var bytesSent: Int
    /// BLAKE2b-256 of the trace (each line plus "\n"); `Digest.zero` when tracing is off.
    public var traceHash: Digest
    public var traceLines: Int
    public var stoppedBecause: StopReason
    /// `.requestCompleted` observations seen.
    public var requestsCompleted: Int
    /// What each replica persisted (index = ReplicaID): key → last value.
    public var durable: [[String: [UInt8]]]
    /// Per host, when the run modelled costs or bandwidth (issue 15): empty otherwise.
    public var hosts: [HostUsage] = []

    /// What one host did: its cores, the machines on it and the CPU time they spent.
    public struct HostUsage: Sendable, Equatable {
        public var cores: Int
        /// Machine names ("r0", "c3") on this host, in machine order.
        public var machines: [String]
        public var busy: Nanoseconds
        /// Time the host's outgoing link spent serialising bytes (0 without a bandwidth).
        public var linkBusy: Nanoseconds = 0
        /// Inputs dropped because the host's queue was full.
        public var dropped: Int
        /// Syncs its machines' storage performed (one per group commit).
        public var syncs: Int = 0
        /// busy / (cores · run time), in [0, 1].
        public var utilisation: Double
    }

    /// The busiest host's utilisation (0 without a host model).
    public var utilisationMax: Double { hosts.map(\.utilisation).max() ?? 0 }
}
