/// Sends only to `targets`: broadcasts reach those replicas alone, other replica sends are dropped.
/// Client replies pass. The classic "omission to a subset" fault that splits a view's quorums.
public struct SelectiveOmission: Misbehaviour {
    let context: ByzantineContext
    let targets: [ReplicaID]
    public init(context: ByzantineContext, targets: [ReplicaID]) {
        self.context = context
        self.targets = targets.filter { $0 != context.id }
    }
    public mutating func rewrite(_ input: ReplicaInput, _ inner: [ReplicaAction], into actions: inout [ReplicaAction]) {
        for action in inner {
            switch action {
            case .broadcast(let bytes):
                for r in targets { actions.append(.send(bytes, to: .replica(r))) }
            case .send(_, let to):
                if let r = to.replicaID, !targets.contains(r) { continue }
                actions.append(action)
            default:
                actions.append(action)
            }
        }
    }
}

extension SelectiveOmission {
    /// `omit`: sends only to `targets` (a random non-empty subset of the others when fuzzed).
    public static let registration = LayerBehaviour(
        name: "omit", parameter: .targets, parameterRequired: true, make: { a, context in SelectiveOmission(context: context, targets: a.targets ?? []) },
        draw: { rng, others in LayerArguments(targets: LayerBehaviour.randomTargets(&rng, others)) })
}
