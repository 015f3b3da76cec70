import BFTCore

/// Small-scope mutation of outgoing fields, re-signed with the replica's own key: every PREPARE and
/// COMMIT it sends carries view ±1, sequence ±1 or a swapped digest; with `stale-certificate` its
/// VIEW-CHANGEs carry no prepared certificates (an old, empty P), with `truncated-certificate` each
/// carried certificate loses a PREPARE. The signatures verify, so receivers must catch the lie with
/// the protocol's own checks (wrong view, outside window, no matching quorum, invalid certificate).
public struct PBFTMutation: Misbehaviour {
    let signer: MessageSigner
    let mutation: String

    public init(mutation: String, signer: MessageSigner) {
        self.mutation = mutation
        self.signer = signer
    }

    public mutating func rewrite(_ input: ReplicaInput, _ inner: [ReplicaAction], into actions: inout [ReplicaAction]) {
        rewriteSends(inner, into: &actions) { bytes in
            switch bytes.first {
            case PBFTWireTag.prepare?:
                guard let p = try? Prepare(decoding: bytes), let (v, n, d) = mutate(p.view, p.sequence, p.digest) else { return nil }
                return Prepare(view: v, sequence: n, digest: d, signer: signer).bytes
            case PBFTWireTag.commit?:
                guard let c = try? Commit(decoding: bytes), let (v, n, d) = mutate(c.view, c.sequence, c.digest) else { return nil }
                return Commit(view: v, sequence: n, digest: d, signer: signer).bytes
            case PBFTWireTag.viewChange?:
                guard let vc = try? ViewChange(decoding: bytes) else { return nil }
                return mutateCertificates(vc)?.bytes
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

    private func mutateCertificates(_ vc: ViewChange) -> ViewChange? {
        let certificates: [PreparedCertificate]
        switch mutation {
        case "stale-certificate":
            certificates = []
        case "truncated-certificate":
            certificates = vc.preparedCertificates.map {
                PreparedCertificate(prePrepare: $0.prePrepare, prepares: Array($0.prepares.dropLast()))
            }
        default:
            return nil
        }
        return ViewChange(newView: vc.newView, stableSequence: vc.stableSequence, stableDigest: vc.stableDigest,
                          checkpointProof: vc.checkpointProof, preparedCertificates: certificates, signer: signer)
    }
}
