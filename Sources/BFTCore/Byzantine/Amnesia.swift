/// Restarts having forgotten its safety state: on recovery it discards what its storage kept (last
/// votes, view, locks) and starts from nothing. The fault durable state prevents for honest replicas;
/// with more than f amnesiac replicas a quorum can vote twice and safety breaks.
public struct Amnesia: Misbehaviour {
    public init() {}
    public mutating func filter(_ input: ReplicaInput) -> ReplicaInput {
        if case .recover = input { return .recover(durable: [:]) }
        return input
    }
    public mutating func rewrite(_ input: ReplicaInput, _ inner: [ReplicaAction], into actions: inout [ReplicaAction]) {
        actions.append(contentsOf: inner)
    }
}

extension Amnesia {
    /// Whole-run: it acts when the replica recovers (campaigns pair it with a crash-restart).
    public static let registration = LayerBehaviour(name: "amnesia", wholeRun: true) { _, _ in Amnesia() }
}
