import BFTCore

/// View-change spam: on every input that makes it send anything, it also broadcasts a validly signed
/// VIEW-CHANGE for a view far in the future (one higher each time). Rule V2 needs f+1 replicas asking
/// before a correct replica joins, so a lone spammer moves nobody; replicas keep only its latest one.
/// At most `perViewMax` per view it enters, so answers to the spam cannot feed a message storm.
public struct PBFTViewChangeSpam: Misbehaviour {
    public static let viewsAhead: UInt64 = 1000
    let signer: MessageSigner
    private var spamView: UInt64 = PBFTViewChangeSpam.viewsAhead
    private var sentInView = 0
    public static let perViewMax = 64

    public init(signer: MessageSigner) { self.signer = signer }

    public mutating func rewrite(_ input: ReplicaInput, _ inner: [ReplicaAction], into actions: inout [ReplicaAction]) {
        actions.append(contentsOf: inner)
        for case .observe(.viewEntered) in inner { sentInView = 0 }
        guard inner.contains(where: \.isReplicaSend), sentInView < PBFTViewChangeSpam.perViewMax else { return }
        sentInView += 1
        spamView += 1
        let vc = ViewChange(newView: spamView, stableSequence: 0, stableDigest: PBFTReplica.genesisStateDigest,
                            checkpointProof: [], preparedCertificates: [], signer: signer)
        actions.append(.broadcast(vc.bytes))
    }
}
