/// Sends nothing to other replicas (replies to clients too are withheld); it still runs the protocol,
/// so it keeps persisting and observing, like a replica whose outgoing link is dead.
public struct Silent: Misbehaviour {
    public init() {}
    public mutating func rewrite(_ input: ReplicaInput, _ inner: [ReplicaAction], into actions: inout [ReplicaAction]) {
        for action in inner {
            switch action {
            case .send, .broadcast: continue
            default: actions.append(action)
            }
        }
    }
}

extension Silent {
    public static let registration = LayerBehaviour(name: "silent") { _, _ in Silent() }
}
