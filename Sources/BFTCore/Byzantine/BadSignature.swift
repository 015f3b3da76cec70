/// Corrupts the signature of every message it sends to replicas (flips the last byte, where both
/// protocols put the signature). Receivers must reject each one as `bad-signature`.
public struct BadSignature: Misbehaviour {
    public init() {}
    public mutating func rewrite(_ input: ReplicaInput, _ inner: [ReplicaAction], into actions: inout [ReplicaAction]) {
        for action in inner {
            switch action {
            case .broadcast(var bytes):
                if !bytes.isEmpty { bytes[bytes.count - 1] ^= 0x5A }
                actions.append(.broadcast(bytes))
            case .send(var bytes, let to) where to.replicaID != nil:
                if !bytes.isEmpty { bytes[bytes.count - 1] ^= 0x5A }
                actions.append(.send(bytes, to: to))
            default:
                actions.append(action)
            }
        }
    }
}

extension BadSignature {
    public static let registration = LayerBehaviour(name: "bad-signature") { _, _ in BadSignature() }
}
