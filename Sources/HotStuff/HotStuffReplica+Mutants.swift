import BFTCore

/// Test-only mutated rule variants (`HotStuffMutations`) with more than a changed threshold or a
/// skipped check, kept beside the honest rules rather than inline; each is called at the decision
/// point of the rule it breaks. One-line mutations stay at their guard.
extension HotStuffReplica {
    /// `enterViewOnLocalTimeout` (breaks P11): on its own timeout the replica enters the view it just
    /// announced, without the n−f announcements P10 requires — a lone view change.
    mutating func enterAnnouncedViewAlone(_ actions: inout [ReplicaAction]) {
        guard announcedViews[id] > currentView else { return }
        enterView(announcedViews[id], &actions)
    }
}

extension ChainedRules {
    /// `commitOnTwoChain` (breaks H-C1c): b1 commits on a two-chain b1 ← b2 of consecutive views, as in
    /// two-chain HotStuff, without the third link chained HotStuff's vote rule needs for safety.
    func twoChainCommitCandidate(_ qc: QuorumCertificate, tree: BlockTree) -> Block? {
        guard let b2 = tree.block(qc.block), let b1 = tree.block(b2.justify.block) else { return nil }
        guard b2.parent == b1.digest, b2.view == b1.view + 1 else { return nil }
        return b1
    }
}
