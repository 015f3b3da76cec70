/// How an equivocating proposer divides the other replicas between two conflicting, validly signed
/// proposals for one slot: the first part (by id) gets the original, the rest the twin, and each
/// colluding Byzantine replica also gets the other one (so a double voter can vote for both).
/// Correct replicas must never commit both (PBFT rule N3, Castro & Liskov §4.2; HotStuff's vote rule,
/// Yin et al. §4); the wrappers `EquivocatingPrimary` and `EquivocatingLeader` use it.
public struct EquivocationSplit: Sendable {
    /// Every replica but the proposer, in id order.
    public let recipients: [ReplicaID]
    /// How many of `recipients` (the first ones) get the original.
    public let originalCount: Int
    public let colluders: [ReplicaID]

    /// `signer` must sign as `proposer`: the wrapper only lies about what it sends, never about who it is.
    public init(proposer: Principal, signer: MessageSigner, n: Int, originalsRoundedUp: Bool, colluders: [ReplicaID]) {
        precondition(signer.principal == proposer, "the wrapper signs as the replica it wraps")
        guard case .replica(let id) = proposer else { preconditionFailure("a proposer is a replica") }
        recipients = (0..<n).filter { $0 != id }
        originalCount = originalsRoundedUp ? (recipients.count + 1) / 2 : recipients.count / 2
        self.colluders = colluders
    }

    /// Sends `original` to the first part and `twin` to the rest; a colluder gets the other one next.
    public func send(_ original: [UInt8], _ twin: [UInt8], into actions: inout [ReplicaAction]) {
        for (index, r) in recipients.enumerated() {
            let first = index < originalCount
            actions.append(.send(first ? original : twin, to: .replica(r)))
            if colluders.contains(r) { actions.append(.send(first ? twin : original, to: .replica(r))) }
        }
    }
}

/// A Byzantine wrapper around an honest replica: it runs as, and reports, the replica it wraps.
public protocol ReplicaWrapper: StateMachine {
    associatedtype Inner: StateMachine
    var inner: Inner { get }
}

extension ReplicaWrapper {
    public var principal: Principal { inner.principal }
}
