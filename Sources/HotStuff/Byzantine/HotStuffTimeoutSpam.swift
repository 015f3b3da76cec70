import BFTCore

/// Timeout / view-change spam: whenever it sends anything it also broadcasts a validly signed NEW-VIEW
/// (chained) or TIMEOUT (two-chain) for a future view, a little further each time. A view change
/// needs n−f of them, so a lone spammer moves nobody; collectors for far views are bounded. At most
/// `perViewMax` per view of its own, so answers to the spam cannot feed a message storm.
public struct HotStuffTimeoutSpam: Misbehaviour {
    let config: HotStuffConfig
    let signer: MessageSigner
    private var view: UInt64 = 0
    private var ahead: UInt64 = 2
    private var sentInView = 0
    public static let perViewMax = 8

    public init(config: HotStuffConfig, signer: MessageSigner) {
        self.config = config
        self.signer = signer
    }

    public mutating func rewrite(_ input: ReplicaInput, _ inner: [ReplicaAction], into actions: inout [ReplicaAction]) {
        actions.append(contentsOf: inner)
        for case .observe(.viewEntered(let v, _)) in inner where v > view {
            view = v
            sentInView = 0
        }
        guard inner.contains(where: \.isReplicaSend), sentInView < HotStuffTimeoutSpam.perViewMax else { return }
        sentInView += 1
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
