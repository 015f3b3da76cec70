import BFTCore
import BFTCrypto
import Foundation
import Testing
@testable import PBFT

@Suite("PBFT handling cost (opt-in: PBFT_PERF=1)")
struct PerformanceTests {
    @Test("throughput of the replica state machines at n=4 with fast crypto (prints messages/s)",
          .enabled(if: ProcessInfo.processInfo.environment["PBFT_PERF"] != nil))
    func throughput() {
        // Measures how many messages per wall-second the four replicas handle in the FIFO driver.
        let clients = 64
        var unbatched = PBFTConfig.defaultParameters
        unbatched.batchDelayMax = 0
        let cluster = TestCluster(config: PBFTConfig(n: 4, parameters: unbatched),
                                  clients: clients)
        cluster.start()
        cluster.run()
        let rounds = 200
        var requests: [[ClientRequest]] = []
        for t in 1...rounds {
            requests.append((0..<clients).map { c in cluster.request(client: c, timestamp: UInt64(t), .put(key: "k\(c)", value: [UInt8(t % 256)])) })
        }
        let start = ContinuousClock.now
        for round in requests {
            for r in round { cluster.input(.message(from: .client(r.client), bytes: r.bytes), at: 0) }
            cluster.run()
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        print("PBFT perf: \(cluster.delivered) messages, \(rounds * clients) requests in \(seconds)s = \(Int(Double(cluster.delivered) / seconds)) messages/s, \(Int(Double(rounds * clients) / seconds)) requests/s")
        #expect(cluster.replica(3).lastExecuted > 0)
    }
}
