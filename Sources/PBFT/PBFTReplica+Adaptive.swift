import BFTCore

/// Issue 18: parameters chosen per epoch by the adaptive controller, agreed through the committed log.
///
/// The controller (`AdaptiveController`, LinUCB) reads only executed batches, in sequence order, so all
/// honest replicas that executed the same prefix agree on every epoch's arm. The primary batches with
/// the arm of the sequence it assigns (rule N2); a backup rejects a PRE-PREPARE above that arm's batch
/// size, so a Byzantine primary cannot push batches past the agreed bound; the view-change timeout's
/// base (rule V6) follows the arm of the epoch being executed.
extension PBFTReplica {
    /// The (batch size, batch delay) a primary uses for `sequence`; nil while that epoch's arm is not
    /// decided yet (the primary waits for execution to reach epoch − lag's end).
    func batchParameters(at sequence: UInt64) -> (Int, Nanoseconds)? {
        guard let a = config.parameters.adaptive else { return (config.parameters.batchSizeMax, config.parameters.batchDelayMax) }
        if let controller = adaptive {
            guard let arm = controller.arm(forSequence: sequence) else { return nil }
            return (arm.batchSizeMax, arm.batchDelayMax)
        }
        // The controller's state was skipped by a state transfer: every arm accepts the floor.
        return (a.batchSizeFloor, a.batchDelayChoices.min() ?? config.parameters.batchDelayMax)
    }

    /// A backup's bound check: the epoch's agreed batch size when known, else the largest any arm allows.
    func withinAdaptiveBound(_ pp: PrePrepare) -> Bool {
        guard let a = config.parameters.adaptive else { return true }
        let bound = adaptive?.arm(forSequence: pp.sequence)?.batchSizeMax ?? a.batchSizeBound
        return pp.requests.count <= bound
    }

    /// Feeds one executed batch to the controller; at an epoch boundary it reports the decision and, on
    /// entering the next epoch, applies that epoch's view-change timeout.
    mutating func recordAdaptive(_ pp: PrePrepare, _ actions: inout [ReplicaAction]) {
        guard var controller = adaptive else { return }
        let decision = controller.record(sequence: pp.sequence, view: pp.view, requestCount: pp.requests.count)
        adaptive = controller
        guard decision != nil, let arm = controller.arm(forEpoch: controller.currentEpoch) else { return }
        if arm.viewChangeTimeout != viewChangeTimeout.base {
            var t = BackoffTimeout(base: min(arm.viewChangeTimeout, config.parameters.viewChangeTimeoutMax), max: config.parameters.viewChangeTimeoutMax)
            t.failures = viewChangeTimeout.failures
            viewChangeTimeout = t
        }
    }

    /// A state transfer skipped executed batches: the controller cannot be reconstructed from them.
    mutating func loseAdaptive() {
        guard adaptive != nil else { return }
        adaptive = nil
        adaptiveLost = true
    }
}
