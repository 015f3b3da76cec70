import BFTCore

/// Chained HotStuff's rules (Yin et al., PODC'19, Algorithms 3–4 and §5; Specs/HotStuff.md H-V2c,
/// H-L1c, H-C1c). With QC `qc` certifying b'', b' = b''.justify.node and b = b'.justify.node.
struct ChainedRules: ConsensusRules {
    var commitChainLength: Int { 3 }

    /// H-V2c (`safeNode`, Alg. 3): the block extends the locked block (safety rule) or its QC is newer
    /// than the lock (liveness rule).
    func isSafeToVote(_ block: Block, timeoutCertificate: TimeoutCertificate?, lockedQC: QuorumCertificate, tree: BlockTree) -> Bool {
        if block.justify.view > lockedQC.view { return true }
        return tree.extends(block.digest, lockedQC.block) == true
    }

    /// H-L1c (Alg. 3 `update`): on a QC for b'', lock on b''.justify (the QC of b') if it is newer.
    func lockAfter(_ qc: QuorumCertificate, lockedQC: QuorumCertificate, tree: BlockTree) -> QuorumCertificate {
        guard let b2 = tree.block(qc.block) else { return lockedQC }
        return b2.justify.view > lockedQC.view ? b2.justify : lockedQC
    }

    /// H-C1c (Alg. 3 `update`, "direct parent" = consecutive views in the event-driven form): b
    /// commits when b ← b' ← b'' have views v, v+1, v+2. The mutation `commitOnParentLinks` checks
    /// only the parent links, which B1 makes always true, and is unsafe.
    func commitCandidate(_ qc: QuorumCertificate, tree: BlockTree, mutations: HotStuffMutations) -> Block? {
        if mutations.contains(.commitOnTwoChain), let b1 = twoChainCommitCandidate(qc, tree: tree) { return b1 }
        guard let b2 = tree.block(qc.block), let b1 = tree.block(b2.justify.block), let b = tree.block(b1.justify.block) else {
            return nil
        }
        guard b2.parent == b1.digest, b1.parent == b.digest else { return nil }
        if mutations.contains(.commitOnParentLinks) { return b }
        guard b2.view == b1.view + 1 else { return nil }
        guard b1.view == b.view + 1 else { return nil }
        return b
    }
}
