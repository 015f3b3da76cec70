import BFTCore

/// Small-scope mutation of outgoing fields, re-signed with the replica's own key: its votes carry
/// view ±1 or a swapped block digest; its proposals carry height ±1 (`sequence±1`), a stale QC (the
/// genesis QC instead of its highQC) or a truncated QC (one signature short). Receivers must catch
/// each with the protocol's own checks (vote for an unknown block, malformed block, lock check,
/// invalid certificate). `conflicting-batch` sends, as leader, a second valid block for the same view
/// and QC (its batch minus the last request): with `scope.both` each target gets both blocks, in
/// either order (ByzzFuzz-style small-scope equivocation). `duplicate-requests` appends to its own
/// proposals the requests of the last proposal it received, which its chain may already hold or have
/// executed (E2 must skip them at execution).
public struct HotStuffMutation: Misbehaviour {
    let signer: MessageSigner
    let mutation: String
    let context: ByzantineContext
    let scope: RewriteScope
    /// Requests of the last proposal received (`duplicate-requests`).
    private var received: [ClientRequest] = []

    public init(mutation: String, signer: MessageSigner, context: ByzantineContext, scope: RewriteScope = .everyone) {
        self.mutation = mutation
        self.signer = signer
        self.context = context
        self.scope = scope
    }

    public mutating func rewrite(_ input: ReplicaInput, _ inner: [ReplicaAction], into actions: inout [ReplicaAction]) {
        if mutation == "duplicate-requests", case .message(_, let bytes) = input, case .proposal(let p)? = try? HotStuffMessage(decoding: bytes) {
            received = Array(p.block.requests.prefix(2))
        }
        let duplicates = received
        rewriteSends(inner, into: &actions, context: context, scope: scope) { bytes in
            switch try? HotStuffMessage(decoding: bytes) {
            case .vote(let v)?:
                let view: UInt64, block: Digest
                switch mutation {
                case "view+1": (view, block) = (v.view + 1, v.block)
                case "view-1": (view, block) = (v.view &- 1, v.block)
                case "digest": (view, block) = (v.view, Digest.of(v.block.bytes))
                default: return nil
                }
                return HotStuffMessage.vote(Vote(view: view, block: block, signer: signer)).bytes
            case .proposal(let p)?:
                let b = p.block
                let block: Block
                switch mutation {
                case "sequence+1":
                    block = Block(view: b.view, height: b.height + 1, parent: b.parent, proposer: b.proposer, justify: b.justify, requests: b.requests)
                case "sequence-1":
                    block = Block(view: b.view, height: b.height &- 1, parent: b.parent, proposer: b.proposer, justify: b.justify, requests: b.requests)
                case "stale-certificate":
                    guard !b.justify.isGenesis else { return nil }
                    block = Block(view: b.view, parentHeight: 0, proposer: b.proposer, justify: .genesis, requests: b.requests)
                case "duplicate-requests":
                    let extra = duplicates.filter { d in !b.requests.contains { $0.id == d.id } }
                    guard !extra.isEmpty else { return nil }
                    block = Block(view: b.view, height: b.height, parent: b.parent, proposer: b.proposer, justify: b.justify,
                                  requests: b.requests + extra)
                case "conflicting-batch":
                    guard !b.requests.isEmpty else { return nil }
                    block = Block(view: b.view, height: b.height, parent: b.parent, proposer: b.proposer, justify: b.justify,
                                  requests: Array(b.requests.dropLast()))
                case "truncated-certificate":
                    guard !b.justify.isGenesis else { return nil }
                    let qc = QuorumCertificate(view: b.justify.view, block: b.justify.block, signatures: Array(b.justify.signatures.dropLast()))
                    block = Block(view: b.view, height: b.height, parent: b.parent, proposer: b.proposer, justify: qc, requests: b.requests)
                default:
                    return nil
                }
                return HotStuffMessage.proposal(Proposal(block: block, timeoutCertificate: p.timeoutCertificate, signer: signer)).bytes
            default:
                return nil
            }
        }
    }
}
