/// A timer a state machine arms; the shell fires it back as `ReplicaInput.timer`. Protocols define the kinds.
///
/// Setting a timer that is already armed re-arms it (the earlier deadline is forgotten).
public struct TimerID: Hashable, Sendable, CustomStringConvertible {
    public var kind: UInt16
    public var key: UInt64
    public init(kind: UInt16, key: UInt64 = 0) {
        self.kind = kind
        self.key = key
    }
    public var description: String { "timer(\(kind):\(key))" }
}

/// One input to a replica or client state machine.
public enum ReplicaInput: Sendable {
    /// First input after construction.
    case start
    /// Restart after a crash with what was durable (key → last synced value).
    case recover(durable: [String: [UInt8]])
    /// Bytes received from the network. `from` is the transport's claim and is not authenticated:
    /// protocols trust only signed fields.
    case message(from: Principal, bytes: [UInt8])
    /// A timer set earlier has fired.
    case timer(TimerID)
}

/// One effect requested by a state machine. The shell carries them out in order, with one exception.
///
/// **Ordering contract (persist before send):** every `.persist` in a batch is durable before any
/// `.send` or `.broadcast` of the same batch leaves the process. A replica may therefore emit a vote
/// together with the persist of the safety state that the vote depends on, in either order.
public enum ReplicaAction: Sendable {
    /// Send bytes to one principal (a replica, or a client for replies).
    case send([UInt8], to: Principal)
    /// Send the same bytes to every other replica.
    case broadcast([UInt8])
    case setTimer(TimerID, after: Nanoseconds)
    case cancelTimer(TimerID)
    /// Store `bytes` under `key` durably (replaces the previous value).
    case persist(key: String, bytes: [UInt8])
    /// Something checkers and reports may read.
    case observe(Observation)
}

/// A sans-IO state machine: replicas and clients alike.
///
/// It never touches sockets, files, clocks or global randomness; `handle` must be a deterministic
/// function of the machine's state and the input. Actions are appended to `actions` (the caller
/// reuses the buffer to avoid allocation).
public protocol StateMachine {
    var principal: Principal { get }
    mutating func handle(_ input: ReplicaInput, into actions: inout [ReplicaAction])
    /// The machine's canonical protocol-state hash (`StateFingerprinting`), or nil when it has none.
    /// A requirement so that `bftsim explore` can ask an `any StateMachine` in place: casting it to
    /// `any StateFingerprinting` first would copy the whole replica value (issue 17).
    func stateFingerprint(seed: UInt64) -> UInt64?
}

extension StateMachine {
    public func stateFingerprint(seed: UInt64) -> UInt64? { nil }
}

extension StateMachine where Self: StateFingerprinting {
    public func stateFingerprint(seed: UInt64) -> UInt64? {
        var hasher = StateHasher(seed: seed)
        fingerprint(into: &hasher)
        return hasher.value
    }
}

/// What a trace line says about a protocol message without the reader knowing the protocol.
public struct MessageInfo: Hashable, Sendable {
    /// Message type name as in the paper, e.g. "PRE-PREPARE".
    public var type: String
    public var view: UInt64?
    public var sequence: UInt64?
    public var signer: Principal?
    public init(type: String, view: UInt64? = nil, sequence: UInt64? = nil, signer: Principal? = nil) {
        self.type = type
        self.view = view
        self.sequence = sequence
        self.signer = signer
    }
    public static let undecodable = MessageInfo(type: "UNDECODABLE")
}

/// Describes wire bytes for traces; each protocol supplies one.
public typealias MessageDescriber = @Sendable ([UInt8]) -> MessageInfo
