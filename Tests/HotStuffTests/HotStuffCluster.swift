import Testing
import BFTCore
import BFTCrypto
import ReplicaTesting
@testable import HotStuff

/// What a HotStuff test cluster's replicas and clients were built from.
struct HotStuffSetup {
    let config: HotStuffConfig
    let ring: Keyring
}

/// HotStuff replicas and real clients in the shared deterministic test shell (`EmbeddedCluster`).
typealias Cluster = EmbeddedCluster<HotStuffSetup>

extension EmbeddedCluster.Envelope {
    var info: MessageInfo { describeHotStuffMessage(bytes) }
}

extension EmbeddedCluster where Context == HotStuffSetup {
    /// `config.n` HotStuff replicas (each optionally wrapped by a Byzantine behaviour) and `clients`
    /// `Client` machines issuing `requests` each, all keyed from `seed`.
    convenience init(config: HotStuffConfig, clients clientCount: Int = 1, requests: Int = 4, scheme: SignatureScheme = .fast,
                     seed: UInt64 = 7, wrap: (Int, HotStuffReplica, MessageSigner) -> any StateMachine = { _, r, _ in r }) {
        let ring = Keyring(scheme: scheme, seed: seed, replicas: config.n, clients: clientCount)
        let replicas = (0..<config.n).map { i in
            let signer = ring.signer(for: .replica(i))
            return wrap(i, HotStuffReplica(id: i, config: config, signer: signer, verifier: ring.verifier), signer)
        }
        let quorum = config.quorum
        let clients: [any StateMachine] = (0..<clientCount).map { c in
            Client(id: c, quorum: quorum,
                   workload: WorkloadSpec(clients: clientCount, requestsPerClient: requests, keySpace: 8),
                   targeting: .all, signer: ring.signer(for: .client(c)), verifier: ring.verifier,
                   rng: DeterministicRNG(seed: seed, stream: "client/\(c)"))
        }
        self.init(context: HotStuffSetup(config: config, ring: ring), replicas: replicas, clients: clients)
    }

    var config: HotStuffConfig { context.config }
    var ring: Keyring { context.ring }

    func replica(_ i: Int) -> HotStuffReplica {
        if let r = replicas[i] as? HotStuffReplica { return r }
        if let w = replicas[i] as? EquivocatingLeader { return w.inner }
        preconditionFailure("unknown replica type")
    }

    func client(_ c: Int) -> Client {
        guard let client = clients[c] as? Client else { preconditionFailure("client \(c) is not a Client") }
        return client
    }

    var clientsDone: Bool { clients.indices.allSatisfy { client($0).isFinished } }

    func fireViewTimers(_ replicas: [Int]) { fire(HotStuffReplica.viewTimer, at: replicas) }

    // MARK: Observation helpers

    func commits(_ r: Int) -> [(height: UInt64, digest: Digest, view: UInt64)] {
        committed(r).map { ($0.sequence, $0.digest, $0.view) }
    }

    func votes(_ r: Int) -> [(view: UInt64, digest: Digest)] {
        observations[r].compactMap {
            if case let .voted(view, digest) = $0 { return (view, digest) }
            return nil
        }
    }

    /// Batches in which a VOTE left with no persist of the safety state in the same batch (the
    /// runtime puts persists first, so only a batch without any can send one).
    var votesWithoutPersist: Int {
        var count = 0
        for r in 0..<n {
            for batch in actionLog[r] {
                let persists = batch.contains { if case .persist = $0 { return true }; return false }
                let votes = batch.contains { if case .send(let b, _) = $0 { return describeHotStuffMessage(b).type == "VOTE" }; return false }
                if votes && !persists { count += 1 }
            }
        }
        return count
    }

    /// Whether two replicas committed different blocks at one height (an agreement violation).
    func conflictingCommits() -> (UInt64, Int, Int)? {
        var byHeight: [UInt64: (Digest, Int)] = [:]
        for r in 0..<config.n {
            for c in commits(r) {
                if let (d, other) = byHeight[c.height], d != c.digest { return (c.height, other, r) }
                byHeight[c.height] = (c.digest, r)
            }
        }
        return nil
    }

    /// Checks the per-replica invariants the checkers will check: commit heights consecutive from 1,
    /// at most one vote per view, locked view never decreasing.
    func expectReplicaInvariants(sourceLocation: SourceLocation = #_sourceLocation) {
        for r in 0..<config.n {
            let heights = commits(r).map(\.height)
            #expect(heights == Array(heights.indices).map { UInt64($0 + 1) }, "r\(r) commit heights \(heights)", sourceLocation: sourceLocation)
            let views = votes(r).map(\.view)
            #expect(Set(views).count == views.count, "r\(r) voted twice in a view", sourceLocation: sourceLocation)
            let locks = observations[r].compactMap { o -> UInt64? in
                if case .locked(let v) = o { return v }
                return nil
            }
            #expect(locks == locks.sorted(), "r\(r) lock decreased", sourceLocation: sourceLocation)
            // Committed blocks form one hash chain from genesis.
            var parent = Block.genesis.digest
            for o in observations[r] {
                guard case let .blockCommitted(_, digest, p) = o else { continue }
                #expect(p == parent, "r\(r) committed a block off the chain", sourceLocation: sourceLocation)
                parent = digest
            }
        }
        #expect(votesWithoutPersist == 0, "a vote left before its safety state was persisted", sourceLocation: sourceLocation)
    }
}
