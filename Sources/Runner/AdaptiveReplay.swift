import BFTCore
import ScenarioFormat

/// Recomputes the adaptive controller's arm per epoch from the committed observations (issue 18), the
/// way the checkers audit a run: from what replicas reported, not from their internals.
///
/// Each sequence's first commit by a correct replica is taken (agreement makes them equal; the
/// checkers report it otherwise); batches are fed in sequence order, as replicas execute them.
struct AdaptiveReplay {
    /// Bound on commits held waiting for a gap below them (the watermark window bounds it in practice).
    static let waitingMax = 1 << 16
    /// Bound on recorded epochs.
    static let epochsMax = 1 << 16

    var controller: AdaptiveController
    var next: UInt64 = 1
    var waiting: [UInt64: (view: UInt64, count: Int)] = [:]
    /// Arm index per epoch, from epoch 0.
    private(set) var arms: [Int] = []

    init(config: AdaptiveConfig, parameters p: ProtocolParameters) {
        controller = AdaptiveController(config: config, initialArm: config.nearestArm(batchSizeMax: p.batchSizeMax, batchDelayMax: p.batchDelayMax,
                                                                                     viewChangeTimeout: p.viewChangeTimeout))
        for e in 0..<AdaptiveController.lag { arms.append(controller.armIndex(forEpoch: e) ?? 0) }
    }

    mutating func committed(sequence: UInt64, view: UInt64, count: Int) {
        guard sequence >= next, waiting[sequence] == nil, waiting.count < AdaptiveReplay.waitingMax else { return }
        waiting[sequence] = (view, count)
        while let entry = waiting.removeValue(forKey: next) {
            if let d = controller.record(sequence: next, view: entry.view, requestCount: entry.count),
               arms.count < AdaptiveReplay.epochsMax, d.epoch == UInt64(arms.count) {
                arms.append(d.arm)
            }
            next += 1
        }
    }
}
