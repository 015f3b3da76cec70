import BFTCore

extension InvariantChecker {
    /// HotStuff-specific observations (Specs/HotStuff.md); checked in a later change.
    func observeChainedBFT(_ r: ReplicaID, _ record: ObservationRecord) {}
}
