import BFTCore

/// The seam between the shared machinery (block tree, pacemaker, block sync, crypto) and one HotStuff
/// variant's safety rules, in the manner of relab/hotstuff's `protocol/rules`. A new variant is one
/// new type conforming to this protocol (Specs/HotStuff.md §1).
public protocol ConsensusRules: Sendable {
    /// Length of the certified chain the commit rule needs (3 for chained, 2 for two-chain). The
    /// pacemaker keeps proposing (possibly empty) blocks until requests that deep are committed.
    var commitChainLength: Int { get }
    /// H-V2: whether `block` is safe to vote for, beyond the once-per-view rule H-V1 (checked by the caller).
    func isSafeToVote(_ block: Block, timeoutCertificate: TimeoutCertificate?, lockedQC: QuorumCertificate, tree: BlockTree) -> Bool
    /// H-L1: the locked QC after learning `qc`, whose block is in `tree`.
    func lockAfter(_ qc: QuorumCertificate, lockedQC: QuorumCertificate, tree: BlockTree) -> QuorumCertificate
    /// H-C1: the block that learning `qc` commits, if any (its uncommitted ancestors commit with it).
    func commitCandidate(_ qc: QuorumCertificate, tree: BlockTree, mutations: HotStuffMutations) -> Block?
}
