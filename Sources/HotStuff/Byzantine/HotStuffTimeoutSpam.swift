import BFTCore

/// Timeout / view-change spam: whenever it sends anything it also broadcasts a validly signed NEW-VIEW
/// (chained) or TIMEOUT (two-chain) for a future view, a little further each time. A view change
/// needs n−f of them, so a lone spammer moves nobody; collectors for far views are bounded.
public struct HotStuffTimeoutSpam: Misbehaviour {
    let config: HotStuffConfig
    let signer: MessageSigner
    private var view: UInt64 = 0
    private var ahead: UInt64 = 2

    public init(config: HotStuffConfig, signer: MessageSigner) {
        self.config = config
        self.signer = signer
    }

    public mutating func rewrite(_ input: ReplicaInput, _ inner: [ReplicaAction], into actions: inout [ReplicaAction]) {
        actions.append(contentsOf: inner)
        for case .observe(.viewEntered(let v, _)) in inner { view = max(view, v) }
        guard inner.contains(where: \.isReplicaSend) else { return }
        ahead = ahead >= 64 ? 2 : ahead + 1
        let target = view + ahead
        let message: HotStuffMessage
        switch config.variant {
        case .chained: message = .newView(NewView(view: target, highQC: .genesis, signer: signer))
        case .twoChain: message = .timeout(Timeout(view: target, highQC: .genesis, signer: signer))
        }
        actions.append(.broadcast(message.bytes))
    }
}
