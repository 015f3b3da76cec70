import BFTCore

/// Picoseconds: cost tables are kept in them because a per-byte cost is well under a nanosecond.
public typealias Picoseconds = Int64

/// CPU time a replica or client spends handling one input, by what the input involved (issue 15).
///
/// The model is BFTSim's (Singh et al., NSDI'08): each handled message costs a fixed part for its type,
/// a part per byte received, and the crypto and execution work it triggered; each message sent costs a
/// fixed part and a part per byte. The simulator charges the sum to the machine's host and delays the
/// handler's outputs until a core of that host has spent it. All values are picoseconds.
public struct CostTable: Sendable, Equatable, Codable {
    /// Message type names as the protocols' describers give them; the parser rejects others.
    public static let messageTypes = [
        "PRE-PREPARE", "PREPARE", "COMMIT", "CHECKPOINT", "VIEW-CHANGE", "NEW-VIEW", "FETCH-STATE", "STATE",
        "FETCH-BATCH", "BATCH", "PROPOSAL", "VOTE", "TIMEOUT", "BLOCK-REQUEST", "BLOCK-RESPONSE", "SYNC",
        "REQUEST", "REPLY",
    ]
    /// Largest single cost a table may give (one second): anything larger is a typo.
    public static let costMax: Picoseconds = 1_000_000_000_000

    /// Per scheme (`SignatureScheme`), one cost each.
    public struct SchemeCosts: Sendable, Equatable, Codable {
        public var ed25519: Picoseconds
        public var fast: Picoseconds
        public var blake2b: Picoseconds
        public init(ed25519: Picoseconds = 0, fast: Picoseconds = 0, blake2b: Picoseconds = 0) {
            self.ed25519 = ed25519
            self.fast = fast
            self.blake2b = blake2b
        }
        public init(all: Picoseconds) { self.init(ed25519: all, fast: all, blake2b: all) }
        public subscript(scheme: SignatureScheme) -> Picoseconds {
            get {
                switch scheme {
                case .ed25519: return ed25519
                case .fast: return fast
                case .blake2b: return blake2b
                }
            }
            set {
                switch scheme {
                case .ed25519: ed25519 = newValue
                case .fast: fast = newValue
                case .blake2b: blake2b = newValue
                }
            }
        }
    }

    /// Fixed cost of handling a message whose type `messages` does not list.
    public var messageDefault: Picoseconds
    /// Fixed cost of handling a message, by type (decode, checks, bookkeeping; crypto is separate).
    public var messages: [String: Picoseconds]
    /// Handling one timer.
    public var timer: Picoseconds
    /// Per byte received (decode, digest) and per byte sent (encode, copy to the socket).
    public var byte: Picoseconds
    /// Per message sent (framing, the write, the receiver's read), as in a stream whose receiver is busy;
    /// a message that finds its receiver idle also pays `wakeup`.
    public var send: Picoseconds
    public var sign: SchemeCosts
    public var verify: SchemeCosts
    /// Per client request executed against the state machine.
    public var execute: Picoseconds
    /// Duration of one sync (write + fdatasync) before a persisting batch's messages may leave (persist
    /// before send). Group-committed, as the live host syncs off its event loop: it holds neither the
    /// machine nor a core, batches persisting meanwhile share the next sync, and the machines of one
    /// host queue for its disk.
    public var sync: Picoseconds = 0
    /// Per replica-to-replica message that finds the receiver's verification thread idle (past its last
    /// job): the thread hand-offs the live host makes for it (the event loop hands the frame to the
    /// verification thread, which hands it back to deliver), CPU time on the receiver's host. A thread
    /// with work queued needs no wake-up, so this is a part of a message's cost that load amortises.
    /// Also spent by a batch that starts a sync, and added to the sync's duration (the IO thread's hand-off).
    public var handoff: Picoseconds = 0
    /// Per message that finds its receiver idle: the event loop's wake-up (the difference between a
    /// loopback ping-pong and a pipelined stream, per message), CPU on the receiver's host. `send` is
    /// then the per-message part alone, as when the receiver is busy and reads frames in bulk.
    public var wakeup: Picoseconds = 0
    /// CPU time of one sync's system calls (the write and fdatasync), spent on the host by the batch
    /// that starts a sync (with the IO thread's `handoff`); batches that join a sync in flight share it.
    public var syncCPU: Picoseconds = 0
    /// Charge signatures at this scheme's costs whatever scheme the run computes with (nil: the run's
    /// own). A large sweep can compute with `fast` and still be charged Ed25519's costs.
    public var scheme: SignatureScheme? = nil

    public init(messageDefault: Picoseconds = 0, messages: [String: Picoseconds] = [:], timer: Picoseconds = 0,
                byte: Picoseconds = 0, send: Picoseconds = 0, sign: SchemeCosts = SchemeCosts(),
                verify: SchemeCosts = SchemeCosts(), execute: Picoseconds = 0) {
        self.messageDefault = messageDefault
        self.messages = messages
        self.timer = timer
        self.byte = byte
        self.send = send
        self.sign = sign
        self.verify = verify
        self.execute = execute
    }

    /// Fixed cost of handling a message of `type`.
    public func message(_ type: String) -> Picoseconds { messages[type] ?? messageDefault }
}

/// One host: a number of cores shared by the replicas and clients placed on it.
public struct HostSpec: Sendable, Equatable, Codable {
    public var cores: Int
    public var replicas: [Int]
    /// Client ids on this host; nil with `allClients`.
    public var clients: [Int]
    /// Every client runs here (`clients: all`).
    public var allClients: Bool
    public init(cores: Int = 1, replicas: [Int] = [], clients: [Int] = [], allClients: Bool = false) {
        self.cores = cores
        self.replicas = replicas
        self.clients = clients
        self.allClients = allClients
    }
}

/// Parsing and printing of cost durations (`0.4ns`, `12us`, `1.5ms`) and bandwidths (`25Mbit/s`).
public enum CostSyntax {
    static let timeUnits: [(suffix: String, picos: Double)] = [
        ("ps", 1), ("ns", 1e3), ("us", 1e6), ("µs", 1e6), ("ms", 1e9), ("s", 1e12),
    ]
    /// Bandwidth units in bits per second, longest suffix first.
    static let bandwidthUnits: [(suffix: String, bps: Double)] = [
        ("kbit/s", 1e3), ("Kbit/s", 1e3), ("Mbit/s", 1e6), ("Gbit/s", 1e9), ("Tbit/s", 1e12), ("bit/s", 1),
        ("kbps", 1e3), ("Kbps", 1e3), ("Mbps", 1e6), ("Gbps", 1e9), ("bps", 1),
        ("kB/s", 8e3), ("KB/s", 8e3), ("MB/s", 8e6), ("GB/s", 8e9), ("B/s", 8),
    ]
    public static let bandwidthMin: Int64 = 1_000
    public static let bandwidthMax: Int64 = 1_000_000_000_000

    /// A cost: a decimal number and a unit (ps, ns, us, ms, s); a plain number is nanoseconds. Negative
    /// values are returned (the caller names them); nil when malformed.
    public static func parseCost(_ text: String) -> Picoseconds? {
        let s = text.trimmingWhitespace()
        var number = Substring(s)
        var scale = 1e3
        for unit in timeUnits where s.hasSuffix(unit.suffix) {
            let rest = s.dropLast(unit.suffix.count)
            guard let last = rest.last, last.isASCIIDigit || last == " " || last == "." else { continue }
            number = rest
            scale = unit.picos
            break
        }
        let trimmed = number.trimmingWhitespace()
        guard !trimmed.isEmpty, trimmed.allSatisfy({ $0.isASCIIDigit || $0 == "." || $0 == "-" || $0 == "e" || $0 == "+" }),
              let value = Double(trimmed), value.isFinite else { return nil }
        let picos = (value * scale).rounded()
        guard abs(picos) < 9e18 else { return nil }
        return Picoseconds(picos)
    }

    /// The shortest exact spelling of a cost (`0.4ns`, `12us`).
    public static func formatCost(_ picos: Picoseconds) -> String {
        if picos == 0 { return "0ns" }
        for (suffix, scale) in [("s", Int64(1_000_000_000_000)), ("ms", 1_000_000_000), ("us", 1_000_000), ("ns", 1_000)]
        where abs(picos) >= scale {
            if picos % scale == 0 { return "\(picos / scale)\(suffix)" }
            if suffix == "ns" || suffix == "us" { return "\(trimmed(Double(picos) / Double(scale)))\(suffix)" }
        }
        return "\(trimmed(Double(picos) / 1000))ns"
    }

    static func trimmed(_ value: Double) -> String {
        var text = String(value)
        if text.hasSuffix(".0") { text.removeLast(2) }
        return text
    }

    /// A bandwidth: a number and a unit (`25Mbit/s`, `1Gbps`, `10MB/s`) in bits per second; nil when
    /// malformed or without a unit (a bare number is ambiguous between bits and bytes).
    public static func parseBandwidth(_ text: String) -> Int64? {
        let s = text.trimmingWhitespace()
        for unit in bandwidthUnits where s.hasSuffix(unit.suffix) {
            let number = s.dropLast(unit.suffix.count).trimmingWhitespace()
            guard !number.isEmpty, number.allSatisfy({ $0.isASCIIDigit || $0 == "." || $0 == "-" }),
                  let value = Double(number), value.isFinite else { return nil }
            let bps = (value * unit.bps).rounded()
            guard abs(bps) < 9e18 else { return nil }
            return Int64(bps)
        }
        return nil
    }

    /// `25Mbit/s`, `1Gbit/s`, or bits per second.
    public static func formatBandwidth(_ bps: Int64) -> String {
        for (suffix, scale) in [("Gbit/s", Int64(1_000_000_000)), ("Mbit/s", 1_000_000), ("kbit/s", 1_000)]
        where bps >= scale && bps % (scale / 1000 == 0 ? 1 : scale / 1000) == 0 {
            return "\(trimmed(Double(bps) / Double(scale)))\(suffix)"
        }
        return "\(bps)bit/s"
    }
}
