import BFTCore

/// A scripted Byzantine HotStuff leader: it proposes exactly the listed blocks, each at its time (or as
/// soon as its parent is certified) to its listed receivers, and sends nothing else (its honest core
/// still runs; its replica-bound sends are dropped).
///
/// This is how a SPIN counterexample of Specs/hotstuff.pml replays: the model's Byzantine leader may
/// propose any block on any certified block, several per view, each to any subset of replicas (Yin et
/// al. PODC'19 §4: a faulty leader equivocates). Blocks are named by labels as the model numbers them
/// (0 is genesis); a block's justify is the QC of its parent, which this replica assembles from the
/// votes correct replicas sent it (it must lead the next view of the parent, e.g. `leader_schedule:
/// [id]`) plus its own vote, with the configured quorum (H-Q1). It signs only as itself, so honest
/// signatures stay unforgeable. Block k >= 2 carries the (k-1)-th client request it received, block 1
/// none, so blocks of one view and parent differ.
public struct HotStuffScript: ScriptedMisbehaviour {
    /// Client requests remembered (blocks naming a later one wait forever).
    public static let requestsMax = 16
    /// Votes remembered per block, and blocks tracked.
    public static let blocksMax = 64
    public let context: ByzantineContext
    let signer: MessageSigner
    let config: HotStuffConfig
    /// The script's PROPOSAL steps: block `value` (its label, >= 1) on block `parent` (0: genesis).
    public let steps: [ScriptStep]
    private var requests: [ClientRequest] = []
    /// Blocks proposed, by label (index 0: genesis), and their QCs once formed.
    private var blocks: [Int: Block] = [0: .genesis]
    private var certificates: [Int: QuorumCertificate] = [0: .genesis]
    /// Votes received for each proposed block (by label), at most one per voter.
    private var votes: [Int: [(signer: ReplicaID, signature: Signature)]] = [:]
    /// Steps whose time came while their parent's QC or their request was missing, in due order.
    public var waiting: [Int] = []

    public init(context: ByzantineContext, signer: MessageSigner, config: HotStuffConfig, steps: [ScriptStep]) {
        self.context = context
        self.signer = signer
        self.config = config
        self.steps = steps.filter { $0.send == "PROPOSAL" }
    }

    /// Remembers client requests and counts votes for proposed blocks; a quorum (own vote included)
    /// becomes the block's QC (H-Q1).
    public mutating func learn(_ bytes: [UInt8]) {
        switch try? HotStuffMessage(decoding: bytes) {
        case .request(let r)?:
            if requests.count < Self.requestsMax, !requests.contains(where: { $0.bytes == r.bytes }) { requests.append(r) }
        case .vote(let v)?:
            guard v.voter < config.n, v.voter != context.id,
                  let label = blocks.keys.sorted().first(where: { blocks[$0]?.digest == v.block && blocks[$0]?.view == v.view }),
                  certificates[label] == nil else { return }
            var set = votes[label] ?? []
            guard !set.contains(where: { $0.signer == v.voter }) else { return }
            set.append((v.voter, v.signature))
            votes[label] = set
            guard set.count + 1 >= config.quorum.quorum else { return }
            let own = Vote(view: v.view, block: v.block, signer: signer)
            certificates[label] = QuorumCertificate(view: v.view, block: v.block, signatures: set + [(context.id, own.signature)])
        default:
            return
        }
    }

    public mutating func fire(_ i: Int, into actions: inout [ReplicaAction]) {
        let step = steps[i], label = step.value, parentLabel = step.parent ?? 0
        guard blocks.count < Self.blocksMax || blocks[label] != nil else { return }
        guard let parent = blocks[parentLabel], let justify = certificates[parentLabel] else {
            waiting.append(i)  // the parent's QC has not formed yet
            return
        }
        let batch: [ClientRequest]
        if label <= 1 {
            batch = []
        } else if label - 2 < requests.count {
            batch = [requests[label - 2]]
        } else {
            waiting.append(i)  // its request has not arrived yet
            return
        }
        let block = blocks[label] ?? Block(view: step.view, parentHeight: parent.height, proposer: context.id, justify: justify, requests: batch)
        blocks[label] = block
        let proposal = Proposal(block: block, signer: signer)
        for r in step.to where r != context.id { actions.append(.send(proposal.bytes, to: .replica(r))) }
    }
}
