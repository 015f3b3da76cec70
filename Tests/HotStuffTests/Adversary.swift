import Testing
import BFTCore
import BFTCrypto
@testable import HotStuff

/// A scripted Byzantine leader played by the test: it leads every view (leader schedule `[me]`),
/// crafts and signs proposals with its own key, chooses who receives them, and forms QCs only from
/// the votes correct replicas actually sent it plus its own vote. It never forges another replica's
/// signature.
struct ScriptedLeader {
    var cluster: Cluster
    let me: ReplicaID

    init(n: Int = 4, variant: HotStuffVariant, mutations: HotStuffMutations = [], me: ReplicaID = 3) {
        let config = HotStuffConfig(n: n, variant: variant, leaderSchedule: [me], mutations: mutations)
        cluster = Cluster(config: config, clients: 0)
        cluster.crashed = []
        cluster.intercepted = [me]
        self.me = me
        for r in 0..<n where r != me { cluster.input(.start, to: .replica(r)) }
        cluster.run()
    }

    var honest: [ReplicaID] { (0..<cluster.config.n).filter { $0 != me } }
    var signer: MessageSigner { cluster.ring.signer(for: .replica(me)) }

    /// Proposes an empty block in `view` on `justify` (whose block is `parent`) to `to`, and delivers
    /// everything that follows.
    @discardableResult
    mutating func propose(view: UInt64, parent: Block, justify: QuorumCertificate, tc: TimeoutCertificate? = nil,
                          to: [ReplicaID]? = nil) -> Block {
        precondition(justify.block == parent.digest)
        let block = Block(view: view, parentHeight: parent.height, proposer: me, justify: justify, requests: [])
        let proposal = Proposal(block: block, timeoutCertificate: tc, signer: signer)
        for r in to ?? honest { cluster.input(.message(from: .replica(me), bytes: proposal.bytes), to: .replica(r)) }
        cluster.run()
        return block
    }

    /// A QC from the votes honest replicas sent for `block`, plus this leader's own; nil if fewer than n−f.
    func certify(_ block: Block) -> QuorumCertificate? {
        var signatures: [(signer: ReplicaID, signature: Signature)] = []
        var seen: Set<ReplicaID> = []
        for e in cluster.captured {
            guard case .vote(let v)? = try? HotStuffMessage(decoding: e.bytes),
                  v.view == block.view, v.block == block.digest, seen.insert(v.voter).inserted else { continue }
            signatures.append((v.voter, v.signature))
        }
        let own = Vote(view: block.view, block: block.digest, signer: signer)
        signatures.append((me, own.signature))
        guard signatures.count >= cluster.config.quorum.quorum else { return nil }
        return QuorumCertificate(view: block.view, block: block.digest, signatures: signatures)
    }

    /// A TC for `view` from this leader's own timeout and those of `signers` (test-signed: used only
    /// where the test states that those replicas timed out).
    func timeoutCertificate(view: UInt64, reports: [(ReplicaID, UInt64)]) -> TimeoutCertificate {
        let entries = reports.map { r, hqc in
            let statement = TimeoutCertificate.timeoutStatement(view: view, highQCView: hqc)
            let sig = cluster.ring.signer(for: .replica(r)).sign(domain: HotStuffDomain.timeout, statement[...])
            return TimeoutCertificate.Entry(signer: r, highQCView: hqc, signature: sig)
        }
        return TimeoutCertificate(view: view, entries: entries)
    }
}
