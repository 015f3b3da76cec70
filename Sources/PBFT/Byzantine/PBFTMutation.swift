import BFTCore

/// Small-scope mutation of outgoing messages, re-signed with the replica's own key (ByzzFuzz-style:
/// one field of one message type, to the recipients in `scope`, within the layer's time window).
///
/// Votes: every PREPARE and COMMIT carries view ±1, sequence ±1 or a swapped digest. Certificates:
/// `stale-certificate` sends VIEW-CHANGEs without prepared certificates (an old, empty P),
/// `truncated-certificate` drops a PREPARE from each, `forged-certificate` replaces each certificate's
/// PRE-PREPARE with a null batch of the view just below the new one, signed by this replica (V2).
/// As primary: `requests` sends PRE-PREPAREs whose batch lost a request but keep the old digest (N2),
/// `conflicting-batch` a different, validly digested batch (equivocation), `forged-request` a batch
/// holding a request whose operation was altered after the client signed it (R1). As the primary of a
/// new view: `null-new-view` proposes the null request at every sequence of O, `short-new-view` sends
/// f+1 VIEW-CHANGEs (the ones with fewest certificates, its own re-signed with none) and the O
/// computed from them, then numbers its next fresh batches into the sequences that O left out (V5). As a peer
/// in catch-up: `forged-state` serves an altered checkpoint state (S3), `forged-batch` a committed
/// batch whose PRE-PREPARE is a null batch it signed itself (S5). The signatures verify, so receivers
/// must catch every lie with the protocol's own checks.
public struct PBFTMutation: Misbehaviour {
    let signer: MessageSigner
    let mutation: String
    let context: ByzantineContext
    let f: Int
    let scope: RewriteScope
    /// `short-new-view`: the view of the last short NEW-VIEW, the sequences its O left out that the
    /// full O holds (`holes`, lowest first), the full O's max-s, and the fresh sequences above it
    /// already re-numbered into a hole (the same re-numbering for every recipient).
    var holeView: UInt64 = 0
    var holes: [UInt64] = []
    var freshAbove: UInt64 = 0
    var renumbered: [UInt64: UInt64] = [:]

    public init(mutation: String, signer: MessageSigner, context: ByzantineContext, f: Int, scope: RewriteScope = .everyone) {
        self.mutation = mutation
        self.signer = signer
        self.context = context
        self.f = f
        self.scope = scope
    }

    public mutating func rewrite(_ input: ReplicaInput, _ inner: [ReplicaAction], into actions: inout [ReplicaAction]) {
        if mutation == "short-new-view" { planHoles(inner) }
        let renumbered = self.renumbered, holeView = self.holeView
        rewriteSends(inner, into: &actions, context: context, scope: scope) { bytes in
            switch bytes.first {
            case PBFTWireTag.prePrepare?:
                guard let pp = try? PrePrepare(decoding: bytes) else { return nil }
                if pp.view == holeView, let hole = renumbered[pp.sequence] {
                    return PrePrepare(view: pp.view, sequence: hole, requests: pp.requests, signer: signer).bytes
                }
                return mutatePrePrepare(pp)?.bytes
            case PBFTWireTag.prepare?:
                guard let p = try? Prepare(decoding: bytes), let (v, n, d) = mutate(p.view, p.sequence, p.digest) else { return nil }
                return Prepare(view: v, sequence: n, digest: d, signer: signer).bytes
            case PBFTWireTag.commit?:
                guard let c = try? Commit(decoding: bytes), let (v, n, d) = mutate(c.view, c.sequence, c.digest) else { return nil }
                return Commit(view: v, sequence: n, digest: d, signer: signer).bytes
            case PBFTWireTag.viewChange?:
                guard let vc = try? ViewChange(decoding: bytes) else { return nil }
                return mutateCertificates(vc)?.bytes
            case PBFTWireTag.newView?:
                guard let nv = try? NewView(decoding: bytes) else { return nil }
                return mutateNewView(nv)?.bytes
            case PBFTWireTag.state?:
                guard mutation == "forged-state", let s = try? CheckpointState(decoding: bytes) else { return nil }
                return forgedState(s)?.bytes
            case PBFTWireTag.batch?:
                guard mutation == "forged-batch", let b = try? CommittedBatch(decoding: bytes) else { return nil }
                let null = PrePrepare(view: b.prePrepare.view, sequence: b.prePrepare.sequence, requests: [], signer: signer)
                guard null.digest != b.prePrepare.digest else { return nil }
                return CommittedBatch(prePrepare: null, commits: b.commits, signer: signer).bytes
            default:
                return nil
            }
        }
    }

    private func mutate(_ view: UInt64, _ sequence: UInt64, _ digest: Digest) -> (UInt64, UInt64, Digest)? {
        switch mutation {
        case "view+1": return (view + 1, sequence, digest)
        case "view-1": return (view &- 1, sequence, digest)
        case "sequence+1": return (view, sequence + 1, digest)
        case "sequence-1": return (view, sequence &- 1, digest)
        case "digest": return (view, sequence, Digest.of(digest.bytes))
        default: return nil
        }
    }

    private func mutatePrePrepare(_ pp: PrePrepare) -> PrePrepare? {
        guard let last = pp.requests.last else { return nil }
        switch mutation {
        case "requests":
            return PrePrepare(view: pp.view, sequence: pp.sequence, requests: Array(pp.requests.dropLast()), digest: pp.digest, signer: signer)
        case "conflicting-batch":
            return PrePrepare(view: pp.view, sequence: pp.sequence, requests: Array(pp.requests.dropLast()), signer: signer)
        case "forged-request":
            // The operation is the last field before the client's signature; altering it voids that signature.
            guard !last.operation.isEmpty else { return nil }
            var bytes = last.bytes
            bytes[bytes.count - Signature.byteCount - 1] ^= 0x01
            guard let forged = try? ClientRequest(decoding: bytes) else { return nil }
            return PrePrepare(view: pp.view, sequence: pp.sequence, requests: Array(pp.requests.dropLast()) + [forged], signer: signer)
        default:
            return nil
        }
    }

    private func mutateCertificates(_ vc: ViewChange) -> ViewChange? {
        let certificates: [PreparedCertificate]
        switch mutation {
        case "stale-certificate":
            certificates = []
        case "truncated-certificate":
            certificates = vc.preparedCertificates.map {
                PreparedCertificate(prePrepare: $0.prePrepare, prepares: Array($0.prepares.dropLast()))
            }
        case "forged-certificate":
            guard !vc.preparedCertificates.isEmpty, vc.newView > 0 else { return nil }
            certificates = vc.preparedCertificates.map {
                let null = PrePrepare(view: vc.newView - 1, sequence: $0.prePrepare.sequence, requests: [], signer: signer)
                return PreparedCertificate(prePrepare: null, prepares: $0.prepares)
            }
        default:
            return nil
        }
        return ViewChange(newView: vc.newView, stableSequence: vc.stableSequence, stableDigest: vc.stableDigest,
                          checkpointProof: vc.checkpointProof, preparedCertificates: certificates, signer: signer)
    }

    private func mutateNewView(_ nv: NewView) -> NewView? {
        switch mutation {
        case "null-new-view":
            guard nv.prePrepares.contains(where: { !$0.requests.isEmpty }) else { return nil }
            let nulls = nv.prePrepares.map { PrePrepare(view: nv.view, sequence: $0.sequence, requests: [], signer: signer) }
            return NewView(view: nv.view, viewChanges: nv.viewChanges, prePrepares: nulls, signer: signer)
        case "short-new-view":
            guard let chosen = shortViewChanges(nv) else { return nil }
            let plan = PBFTReplica.planNewView(chosen)
            let prePrepares = plan.proposals.map { PrePrepare(view: nv.view, sequence: $0.sequence, requests: $0.requests, signer: signer) }
            return NewView(view: nv.view, viewChanges: chosen, prePrepares: prePrepares, signer: signer)
        default:
            return nil
        }
    }

    /// The f+1 VIEW-CHANGEs with the fewest prepared certificates. Its own VIEW-CHANGE is its to write:
    /// it re-signs it with an empty P, so the f+1 can leave out a certificate that only honest replicas
    /// hold (V5's 2f+1 rules that out: any 2f+1 intersect the 2f+1 that prepared a committed batch).
    private func shortViewChanges(_ nv: NewView) -> [ViewChange]? {
        let own = nv.viewChanges.map { vc in
            vc.replica == nv.replica && !vc.preparedCertificates.isEmpty
                ? ViewChange(newView: vc.newView, stableSequence: vc.stableSequence, stableDigest: vc.stableDigest,
                             checkpointProof: vc.checkpointProof, preparedCertificates: [], signer: signer)
                : vc
        }
        let ranked = own.enumerated().sorted {
            ($0.element.preparedCertificates.count, $0.offset) < ($1.element.preparedCertificates.count, $1.offset)
        }
        let chosen = ranked.prefix(f + 1).map(\.element)
        return chosen.count < nv.viewChanges.count ? chosen : nil
    }

    /// Before a short NEW-VIEW leaves: notes the sequences the full O re-proposes and the short O does
    /// not. Its next fresh PRE-PREPAREs of that view are then re-numbered into those holes, so a batch
    /// committed in an earlier view meets a different one at the same sequence (what a primary gains
    /// from a NEW-VIEW that V5 should have rejected).
    mutating func planHoles(_ inner: [ReplicaAction]) {
        for action in inner {
            let bytes: [UInt8]
            switch action {
            case .broadcast(let b): bytes = b
            case .send(let b, let to) where to.replicaID != nil: bytes = b
            default: continue
            }
            switch bytes.first {
            case PBFTWireTag.newView?:
                guard let nv = try? NewView(decoding: bytes), nv.view > holeView || holes.isEmpty,
                      let chosen = shortViewChanges(nv) else { continue }
                let full = PBFTReplica.planNewView(nv.viewChanges), short = PBFTReplica.planNewView(chosen)
                let kept = Set(short.proposals.map(\.sequence))
                holeView = nv.view
                holes = full.proposals.map(\.sequence).filter { $0 > short.checkpointSequence && !kept.contains($0) }
                freshAbove = full.maxSequence
                renumbered = [:]
            case PBFTWireTag.prePrepare?:
                guard !holes.isEmpty, let pp = try? PrePrepare(decoding: bytes), pp.view == holeView,
                      pp.sequence > freshAbove, renumbered[pp.sequence] == nil else { continue }
                renumbered[pp.sequence] = holes.removeFirst()
            default:
                continue
            }
        }
    }

    private func forgedState(_ s: CheckpointState) -> CheckpointState? {
        guard let (store, replies) = try? PBFTReplica.decodeState(s.state) else { return nil }
        let altered = store == KeyValueStore()
            ? PBFTReplica.encodeState(store: store, replyCache: ClientTable())
            : PBFTReplica.encodeState(store: KeyValueStore(), replyCache: replies)
        guard altered != s.state else { return nil }
        return CheckpointState(sequence: s.sequence, state: altered, signer: signer)
    }
}
