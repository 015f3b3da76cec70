import BFTCore
import Testing
@testable import PBFT

@Suite("PBFT adaptive parameters")
struct AdaptiveTests {
    static let adaptive = AdaptiveConfig(epoch: 2, batchSizeChoices: [2, 8], batchDelayChoices: [0],
                                         viewChangeTimeoutChoices: [100 * nanosPerMillisecond], alpha: 0.5)

    @Test("adaptive, N2: a backup rejects a PRE-PREPARE whose batch exceeds the epoch's agreed batch size")
    func oversizeBatchRejected() {
        // Proves a Byzantine primary cannot steer batches beyond the adaptive bound: arm 0 (batch 2) rules
        // epoch 0, so a correctly signed 3-request PRE-PREPARE at sequence 1 is rejected, a 2-request one accepted.
        var config = PBFTConfig.test(batchSizeMax: 4)
        config.parameters.adaptive = Self.adaptive
        let cluster = TestCluster(config: config)
        cluster.start()
        cluster.run()
        let primary = cluster.keyring.signer(for: .replica(0))
        let three = (0..<3).map { c in cluster.request(client: c, timestamp: 1, .put(key: "k", value: [UInt8(c)])) }
        let big = PrePrepare(view: 0, sequence: 1, requests: three, signer: primary)
        cluster.input(.message(from: .replica(0), bytes: big.bytes), at: 1)
        #expect(cluster.rejections(1) == [.oversizeBatch])
        let small = PrePrepare(view: 0, sequence: 1, requests: Array(three.prefix(2)), signer: primary)
        cluster.input(.message(from: .replica(0), bytes: small.bytes), at: 1)
        #expect(cluster.rejections(1) == [.oversizeBatch])
        #expect(cluster.replica(1).log.index(of: 1) != nil)
    }

    @Test("adaptive: without adaptive the same 3-request PRE-PREPARE is accepted")
    func staticAcceptsBatch() {
        // Proves the bound above comes from the adaptive arm, not from batchSizeMax (4).
        let cluster = TestCluster(config: .test(batchSizeMax: 4))
        cluster.start()
        cluster.run()
        let three = (0..<3).map { c in cluster.request(client: c, timestamp: 1, .put(key: "k", value: [UInt8(c)])) }
        let big = PrePrepare(view: 0, sequence: 1, requests: three, signer: cluster.keyring.signer(for: .replica(0)))
        cluster.input(.message(from: .replica(0), bytes: big.bytes), at: 1)
        #expect(cluster.rejections(1).isEmpty)
    }

    @Test("adaptive: all replicas execute the same log and hold equal controllers, which decided later epochs")
    func replicasAgree() {
        // Proves every honest replica computes the same controller from the committed log.
        var config = PBFTConfig.test(batchSizeMax: 4)
        config.parameters.adaptive = Self.adaptive
        let cluster = TestCluster(config: config)
        cluster.start()
        cluster.run()
        for t in 1...6 {
            for c in 0..<3 { cluster.submit(cluster.request(client: c, timestamp: UInt64(t), .put(key: "k\(c)", value: [UInt8(t)])), to: [0]) }
        }
        let controllers = (0..<4).map { cluster.replica($0).adaptive }
        #expect(controllers[0] != nil)
        #expect(cluster.replica(0).lastExecuted >= 6)
        for i in 1..<4 { #expect(controllers[i] == controllers[0]) }
        #expect((controllers[0]?.currentEpoch ?? 0) >= 3)
    }
}
