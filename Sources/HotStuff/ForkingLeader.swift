import BFTCore

/// A Byzantine leader that plays one of the fork schedules of Specs/HotStuff.md §12 over the real
/// network, for scenario-level test-the-tester runs: against the matching mutation two correct replicas
/// commit different blocks at the same height; against the honest rules the fork gathers no QC, the
/// script stalls and the leader falls silent (safety holds, liveness is expected to fail).
///
/// It needs a leader schedule in which it leads every view (`leaderSchedule: [id]`), so every vote
/// comes to it. It signs only as itself and forms QCs only from votes correct replicas sent it plus its
/// own. The wrapped honest replica keeps handling everything else (requests, timeouts, block requests),
/// but its own proposals are suppressed. The victim is the lowest-numbered other replica.
public struct ForkingLeader: StateMachine {
    public enum Attack: String, Sendable, CaseIterable {
        /// §12.1, chained: a view gap in the victim's three-chain with a conflicting block certified in
        /// the gap; caught with `commitOnParentLinks`.
        case viewGap = "fork-view-gap"
        /// §12.2, both variants: the victim commits, then a conflicting block on an older QC is proposed
        /// to the others; caught with `voteWithoutLockCheck`.
        case belowLock = "fork-below-lock"
    }

    enum Recipients { case all, victim, others }

    struct Step {
        var label: String
        /// Label of the parent block; its QC justifies this block ("genesis" for the genesis QC).
        var parent: String
        var recipients: Recipients
        var awaitQC: Bool
    }

    public private(set) var inner: HotStuffReplica
    public let attack: Attack
    private let signer: MessageSigner
    private let config: HotStuffConfig
    private let steps: [Step]
    private var next = 0
    private var blocks: [String: Block] = ["genesis": .genesis]
    private var certificates: [String: QuorumCertificate] = ["genesis": .genesis]
    private var awaiting: (label: String, block: Block)?
    private var votes: [Signature?]

    public init(wrapping inner: HotStuffReplica, attack: Attack, signer: MessageSigner, config: HotStuffConfig) {
        precondition(signer.principal == inner.principal, "the wrapper signs as the wrapped replica")
        precondition(config.leaderSchedule == [inner.id], "ForkingLeader needs leaderSchedule: [its id]")
        precondition(attack != .viewGap || config.variant == .chained, "the view-gap fork targets chained HotStuff")
        self.inner = inner
        self.attack = attack
        self.signer = signer
        self.config = config
        self.steps = Self.script(attack, variant: config.variant)
        votes = Array(repeating: nil, count: config.n)
    }

    public var principal: Principal { inner.principal }
    /// Whether the whole script ran (every awaited QC formed).
    public var finished: Bool { next >= steps.count && awaiting == nil }

    /// The §12 schedules; step i is proposed in view i + 1.
    static func script(_ attack: Attack, variant: HotStuffVariant) -> [Step] {
        switch attack {
        case .viewGap:
            return [
                Step(label: "p", parent: "genesis", recipients: .all, awaitQC: true),
                Step(label: "b", parent: "p", recipients: .all, awaitQC: true),
                Step(label: "b1", parent: "b", recipients: .all, awaitQC: true),
                Step(label: "c", parent: "p", recipients: .all, awaitQC: true),
                Step(label: "b2", parent: "b1", recipients: .all, awaitQC: true),
                Step(label: "b3", parent: "b2", recipients: .victim, awaitQC: false),
                Step(label: "d", parent: "c", recipients: .others, awaitQC: true),
                Step(label: "e", parent: "d", recipients: .others, awaitQC: true),
                Step(label: "f", parent: "e", recipients: .others, awaitQC: true),
                Step(label: "g", parent: "f", recipients: .others, awaitQC: false),
            ]
        case .belowLock:
            var s = [
                Step(label: "p", parent: "genesis", recipients: .all, awaitQC: true),
                Step(label: "b", parent: "p", recipients: .all, awaitQC: true),
                Step(label: "b1", parent: "b", recipients: .all, awaitQC: true),
            ]
            if variant == .chained {
                s.append(Step(label: "b2", parent: "b1", recipients: .all, awaitQC: true))
                s.append(Step(label: "b3", parent: "b2", recipients: .victim, awaitQC: false))
            } else {
                s.append(Step(label: "b2", parent: "b1", recipients: .victim, awaitQC: false))
            }
            s += [
                Step(label: "c", parent: "p", recipients: .others, awaitQC: true),
                Step(label: "d", parent: "c", recipients: .others, awaitQC: true),
                Step(label: "e", parent: "d", recipients: .others, awaitQC: true),
                Step(label: "f", parent: "e", recipients: .others, awaitQC: false),
            ]
            return s
        }
    }

    public mutating func handle(_ input: ReplicaInput, into actions: inout [ReplicaAction]) {
        if case .message(_, let bytes) = input, case .vote(let vote)? = try? HotStuffMessage(decoding: bytes) {
            onVote(vote, &actions)
            return
        }
        var honest: [ReplicaAction] = []
        inner.handle(input, into: &honest)
        for action in honest {
            if case .broadcast(let bytes) = action, case .proposal? = try? HotStuffMessage(decoding: bytes) { continue }
            actions.append(action)
        }
        if case .start = input { advance(&actions) }
    }

    private mutating func onVote(_ vote: Vote, _ actions: inout [ReplicaAction]) {
        guard let (label, block) = awaiting, vote.view == block.view, vote.block == block.digest,
              vote.voter < config.n, vote.voter != inner.id, votes[vote.voter] == nil, vote.verify(inner.verifier) else { return }
        votes[vote.voter] = vote.signature
        let own = Vote(view: block.view, block: block.digest, signer: signer)
        var signatures = votes.enumerated().compactMap { i, s in s.map { (signer: i, signature: $0) } }
        signatures.append((inner.id, own.signature))
        guard signatures.count >= config.quorum.quorum else { return }
        certificates[label] = QuorumCertificate(view: block.view, block: block.digest, signatures: signatures)
        awaiting = nil
        advance(&actions)
    }

    /// Proposes scripted blocks until one needs a QC.
    private mutating func advance(_ actions: inout [ReplicaAction]) {
        while awaiting == nil, next < steps.count {
            let step = steps[next]
            let view = UInt64(next + 1)
            next += 1
            guard let parent = blocks[step.parent], let justify = certificates[step.parent] else { return }
            let block = Block(view: view, parentHeight: parent.height, proposer: inner.id, justify: justify, requests: [])
            blocks[step.label] = block
            let proposal = Proposal(block: block, signer: signer)
            for r in recipients(step.recipients) { actions.append(.send(proposal.bytes, to: .replica(r))) }
            if step.awaitQC {
                awaiting = (step.label, block)
                votes = Array(repeating: nil, count: config.n)
            }
        }
    }

    private func recipients(_ r: Recipients) -> [ReplicaID] {
        let others = (0..<config.n).filter { $0 != inner.id }
        switch r {
        case .all: return others
        case .victim: return Array(others.prefix(1))
        case .others: return Array(others.dropFirst())
        }
    }
}
