import BFTCore

/// A voter that double-votes: after its honest vote in view v it also votes for any other proposal
/// of view v it receives or sends (an equivocating leader's second block), breaking H-V1. Alone it
/// cannot form two certificates; with an equivocating leader (f+1 faulty at n = 4) it can.
public struct HotStuffDoubleVote: Misbehaviour {
    public static let trackedMax = 1024
    let config: HotStuffConfig
    let signer: MessageSigner
    private var voted: [UInt64: (digest: Digest, doubled: Bool)] = [:]

    public init(config: HotStuffConfig, signer: MessageSigner) {
        self.config = config
        self.signer = signer
    }

    public mutating func rewrite(_ input: ReplicaInput, _ inner: [ReplicaAction], into actions: inout [ReplicaAction]) {
        actions.append(contentsOf: inner)
        for action in inner {
            switch action {
            case .send(let bytes, _), .broadcast(let bytes):
                switch try? HotStuffMessage(decoding: bytes) {
                case .vote(let v)?: note(view: v.view, digest: v.block, proposal: false, &actions)
                case .proposal(let p)?: note(view: p.block.view, digest: p.block.digest, proposal: true, &actions)
                default: break
                }
            default:
                continue
            }
        }
        if case .message(_, let bytes) = input, bytes.first == HotStuffWireTag.proposal,
           case .proposal(let p)? = try? HotStuffMessage(decoding: bytes) {
            note(view: p.block.view, digest: p.block.digest, proposal: true, &actions)
        }
    }

    private mutating func note(view: UInt64, digest: Digest, proposal: Bool, _ actions: inout [ReplicaAction]) {
        guard let first = voted[view] else {
            if voted.count >= HotStuffDoubleVote.trackedMax { voted.removeAll(keepingCapacity: true) }
            voted[view] = (digest, false)
            return
        }
        guard proposal, first.digest != digest, !first.doubled else { return }
        voted[view] = (first.digest, true)
        let vote = Vote(view: view, block: digest, signer: signer)
        actions.append(.send(HotStuffMessage.vote(vote).bytes, to: .replica(config.leader(of: view + 1))))
    }
}
