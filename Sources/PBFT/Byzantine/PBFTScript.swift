import BFTCore

/// A scripted Byzantine PBFT replica: it sends exactly the listed messages, each at its time to its
/// listed receivers, and nothing else (its honest core still runs, its replica-bound sends are dropped).
///
/// This is how a SPIN counterexample of Specs/pbft.pml replays message for message: the model's
/// Byzantine replica picks, per receiver, any PRE-PREPARE, PREPARE or COMMIT it can sign (§4: a faulty
/// replica "sends anything under its own identity"). Every message is signed with this replica's own
/// key, so honest signatures stay unforgeable. Values name requests as the model does: 0 the null
/// request, k the k-th distinct client request this replica saw (from a client or inside a received
/// PRE-PREPARE), -k that request altered after the client signed it (a forged request, rule R1).
public struct PBFTScript: ScriptedMisbehaviour {
    /// The messages a PBFT script step may `send`.
    public enum Message: String, Sendable {
        case prePrepare = "PRE-PREPARE", prepare = "PREPARE", commit = "COMMIT"
        /// VIEW-CHANGE for `view` (the new view), from the genesis checkpoint; `value` 0 carries no
        /// prepared certificate, k one for request k (§4.4 V2 checks it): this replica's own
        /// PRE-PREPARE of request k for (`view` - 1, `sequence`) and the PREPAREs of others it received
        /// for that slot, whatever their digest (only a mutant's check accepts a mismatch).
        case viewChange = "VIEW-CHANGE"
        /// NEW-VIEW for `view` (§4.4 V3) with V = the latest VIEW-CHANGEs for it of `viewChanges` (its
        /// own made here, the others as received: the step waits for them) and O = one PRE-PREPARE of
        /// `value` at `sequence` (value 0: O empty). Whether V is a quorum and O is the one V implies
        /// is the script's choice: what an honest backup checks (V5) is what the replay tests.
        case newView = "NEW-VIEW"
    }

    /// Distinct requests remembered (values beyond it never become available).
    public static let requestsMax = 16
    /// Replica ids whose VIEW-CHANGEs are remembered (higher ones are ignored).
    public static let replicasMax = 64
    public let context: ByzantineContext
    let signer: MessageSigner
    /// The script's PBFT steps (steps sending another protocol's message are left out) and their messages.
    public let steps: [ScriptStep]
    private let messages: [Message]
    private var requests: [ClientRequest] = []
    /// PREPAREs received (at most `preparesMax`), for the certificates of VIEW-CHANGE steps.
    private var prepares: [Prepare] = []
    public static let preparesMax = 64
    /// The latest VIEW-CHANGE received from each replica (index: replica id), for NEW-VIEW steps.
    private var viewChangesReceived: [ViewChange?] = []
    /// Steps whose time came while their request had not arrived, in due order.
    public var waiting: [Int] = []

    public init(context: ByzantineContext, signer: MessageSigner, steps: [ScriptStep]) {
        self.context = context
        self.signer = signer
        let known = steps.compactMap { s in Message(rawValue: s.send).map { (s, $0) } }
        self.steps = known.map(\.0)
        messages = known.map(\.1)
    }

    /// Remembers the client requests `bytes` carries (a REQUEST, or the batch of a PRE-PREPARE), and
    /// each replica's latest VIEW-CHANGE.
    public mutating func learn(_ bytes: [UInt8]) {
        var seen: [ClientRequest] = []
        switch bytes.first {
        case PBFTWireTag.prepare?:
            if prepares.count < Self.preparesMax, let p = try? Prepare(decoding: bytes) { prepares.append(p) }
            return
        case PBFTWireTag.viewChange?:
            guard let vc = try? ViewChange(decoding: bytes), vc.replica < Self.replicasMax else { return }
            while viewChangesReceived.count <= vc.replica { viewChangesReceived.append(nil) }
            if (viewChangesReceived[vc.replica]?.newView ?? 0) <= vc.newView { viewChangesReceived[vc.replica] = vc }
            return
        case ClientWireTag.request?: if let r = try? ClientRequest(decoding: bytes) { seen = [r] }
        case PBFTWireTag.prePrepare?: if let pp = try? PrePrepare(decoding: bytes) { seen = pp.requests }
        default: return
        }
        for r in seen where requests.count < Self.requestsMax && !requests.contains(where: { $0.bytes == r.bytes }) {
            requests.append(r)
        }
    }

    /// The batch value `v` names, or nil while its request has not arrived.
    private func batch(_ v: Int) -> [ClientRequest]? {
        if v == 0 { return [] }
        let k = abs(v)
        guard k <= requests.count else { return nil }
        let request = requests[k - 1]
        guard v < 0 else { return [request] }
        // The operation is the last field before the client's signature; altering it voids that signature.
        var bytes = request.bytes
        guard !request.operation.isEmpty else { return nil }
        bytes[bytes.count - Signature.byteCount - 1] ^= 0x01
        return (try? ClientRequest(decoding: bytes)).map { [$0] }
    }

    /// This replica's VIEW-CHANGE for `view` without prepared certificates, from the genesis checkpoint.
    private func ownViewChange(_ view: UInt64) -> ViewChange {
        ViewChange(newView: view, stableSequence: 0, stableDigest: PBFTReplica.genesisStateDigest, checkpointProof: [],
                   preparedCertificates: [], signer: signer)
    }

    public mutating func fire(_ i: Int, into actions: inout [ReplicaAction]) {
        let step = steps[i], message = messages[i]
        guard let requests = batch(step.value) else {
            waiting.append(i)
            return
        }
        let bytes: [UInt8]
        if message == .newView {
            var set: [ViewChange] = []
            for r in step.viewChanges ?? [] {
                if r == context.id {
                    set.append(ownViewChange(step.view))
                } else if r < viewChangesReceived.count, let vc = viewChangesReceived[r], vc.newView == step.view {
                    set.append(vc)
                } else {
                    waiting.append(i)  // that VIEW-CHANGE has not arrived yet
                    return
                }
            }
            let o = step.value == 0 ? [] : [PrePrepare(view: step.view, sequence: step.sequence, requests: requests, signer: signer)]
            bytes = NewView(view: step.view, viewChanges: set, prePrepares: o, signer: signer).bytes
            for r in step.to where r != context.id { actions.append(.send(bytes, to: .replica(r))) }
            return
        }
        if message == .viewChange {
            var votes: [Prepare] = []
            for p in prepares where step.view > 0 && p.view == step.view - 1 && p.sequence == step.sequence
                && p.replica != context.id && !votes.contains(where: { $0.replica == p.replica }) {
                votes.append(p)
            }
            let certificates = step.value == 0 || step.view == 0 ? [] : [PreparedCertificate(
                prePrepare: PrePrepare(view: step.view - 1, sequence: step.sequence, requests: requests, signer: signer), prepares: votes)]
            bytes = ViewChange(newView: step.view, stableSequence: 0, stableDigest: PBFTReplica.genesisStateDigest, checkpointProof: [],
                               preparedCertificates: certificates, signer: signer).bytes
            for r in step.to where r != context.id { actions.append(.send(bytes, to: .replica(r))) }
            return
        }
        let pp = PrePrepare(view: step.view, sequence: step.sequence, requests: requests, signer: signer)
        switch message {
        case .prePrepare: bytes = pp.bytes
        case .prepare: bytes = Prepare(view: step.view, sequence: step.sequence, digest: pp.digest, signer: signer).bytes
        case .commit: bytes = Commit(view: step.view, sequence: step.sequence, digest: pp.digest, signer: signer).bytes
        case .viewChange, .newView: return
        }
        for r in step.to where r != context.id { actions.append(.send(bytes, to: .replica(r))) }
    }
}
