import BFTCore

/// Two-chain HotStuff's rules (Jolteon, Gelashvili et al. FC'22 §4; DiemBFT v4 `Safety`;
/// Specs/HotStuff.md H-V2t, H-L1t, H-C1t, T3).
struct TwoChainRules: ConsensusRules {
    var commitChainLength: Int { 2 }

    /// H-V2t / T3 (DiemBFT v4 `safe_to_vote`): the block's QC is from the previous view, or the block
    /// carries a TC of the previous view and its QC is at least the highest QC any TC signer reported.
    func isSafeToVote(_ block: Block, timeoutCertificate: TimeoutCertificate?, lockedQC: QuorumCertificate, tree: BlockTree) -> Bool {
        if block.view == block.justify.view + 1 { return true }
        guard let tc = timeoutCertificate else { return false }
        guard block.view == tc.view + 1 else { return false }
        return block.justify.view >= tc.highQCViewMax
    }

    /// H-L1t (Jolteon "lock on the highest 1-chain"): the lock is the highest QC seen. The vote rule
    /// enforces it through TCs rather than by comparing with the lock.
    func lockAfter(_ qc: QuorumCertificate, lockedQC: QuorumCertificate, tree: BlockTree) -> QuorumCertificate {
        qc.view > lockedQC.view ? qc : lockedQC
    }

    /// H-C1t: on a QC for b', its parent b commits when b'.view = b.view + 1.
    func commitCandidate(_ qc: QuorumCertificate, tree: BlockTree, mutations: HotStuffMutations) -> Block? {
        guard let b1 = tree.block(qc.block), let b = tree.block(b1.justify.block) else { return nil }
        guard b1.parent == b.digest else { return nil }
        if mutations.contains(.commitOnParentLinks) { return b }
        guard b1.view == b.view + 1 else { return nil }
        return b
    }
}
