import BFTCore
import Testing

@Suite("adaptive controller")
struct AdaptiveControllerTests {
    static let config = AdaptiveConfig(epoch: 4, batchSizeChoices: [1, 8], batchDelayChoices: [0, 2_000_000],
                                       viewChangeTimeoutChoices: [100_000_000], alpha: 0.5)

    /// Feeds `log` (request count per sequence, view per sequence) and returns the decisions made.
    static func decisions(_ log: [(requests: Int, view: UInt64)], into c: inout AdaptiveController) -> [(epoch: UInt64, arm: Int)] {
        var out: [(UInt64, Int)] = []
        for (i, entry) in log.enumerated() {
            if let d = c.record(sequence: UInt64(i + 1), view: entry.view, requestCount: entry.requests) { out.append(d) }
        }
        return out
    }

    static let log: [(requests: Int, view: UInt64)] = (0..<64).map { i in (requests: i < 24 ? 1 : (i % 3 == 0 ? 0 : 8), view: i < 40 ? 0 : 1) }

    @Test("adaptive: the same committed log gives the same arms at two replicas, decided two epochs ahead")
    func sameLogSameChoices() {
        // Proves the controller is a deterministic function of the committed log (issue 18: all honest
        // replicas apply the same parameters at the same position), and the lag of two epochs.
        var a = AdaptiveController(config: Self.config)
        var b = AdaptiveController(config: Self.config)
        let da = Self.decisions(Self.log, into: &a)
        let db = Self.decisions(Self.log, into: &b)
        #expect(da.map(\.epoch) == db.map(\.epoch))
        #expect(da.map(\.arm) == db.map(\.arm))
        #expect(a == b)
        #expect(da.map(\.epoch) == Array(2...17).map(UInt64.init))
        // LinUCB explores: with four arms and sixteen decisions, more than one arm is tried.
        #expect(Set(da.map(\.arm)).count > 1)
        // The arms of epochs 0 and 1 are the initial arm.
        #expect(AdaptiveController(config: Self.config).arm(forEpoch: 1) == Self.config.arms[0])
        #expect(AdaptiveController(config: Self.config).arm(forEpoch: 2) == nil)
    }

    @Test("adaptive: a different log gives a different controller state")
    func differentLogDiffers() {
        // Proves the features and reward are read from the log (a constant controller would pass the test above).
        var a = AdaptiveController(config: Self.config)
        var b = AdaptiveController(config: Self.config)
        _ = Self.decisions(Self.log, into: &a)
        _ = Self.decisions(Self.log.map { (requests: $0.requests == 8 ? 1 : $0.requests, view: $0.view) }, into: &b)
        #expect(a != b)
    }

    @Test("adaptive: features and reward stay clamped whatever a Byzantine primary puts in the log")
    func clamped() {
        // Proves a primary's oversize batches or view jumps cannot push features out of [0, 1] or reward out of [-1, 1].
        let c = AdaptiveController(config: Self.config)
        var s = EpochSummary()
        s.record(requestCount: 10_000, view: 0)
        s.record(requestCount: 10_000, view: 1_000_000)
        for x in c.context(of: s) { #expect(x >= 0 && x <= 1) }
        #expect(c.reward(of: s) >= -1 && c.reward(of: s) <= 1)
    }
}
