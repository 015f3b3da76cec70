import BFTCore

/// Test-only mutated rule variants (`PBFTMutations`) with more than a changed threshold or a skipped
/// check, kept beside the honest rules rather than inline; each is called at the decision point of
/// the rule it breaks. One-line mutations (a weaker quorum, a skipped guard) stay at their guard.
extension PBFTReplica {
    /// `acceptNewViewWithoutRecompute` (breaks V4, Castro & Liskov §4.4): the NEW-VIEW's O is taken as
    /// sent instead of being compared with the one recomputed from V; no re-proposals are adopted.
    static func planTakingNewViewAsSent(_ nv: NewView, _ plan: NewViewPlan) -> NewViewPlan {
        let top = nv.prePrepares.map(\.sequence).max() ?? plan.checkpointSequence
        return NewViewPlan(checkpointSequence: plan.checkpointSequence, checkpointDigest: plan.checkpointDigest,
                           checkpointProof: plan.checkpointProof, maxSequence: max(top, plan.checkpointSequence), proposals: [])
    }
}
