import BFTCore
import BFTCrypto
import Foundation
@testable import Live
import NIOPosix
import ReplicaTesting
import Runner
import Testing

@Suite("one runtime: the embedded test shell and the live host", .serialized)
struct ShellParityTests {
    /// The committed log (sequence, batch digest) and executed requests of each replica.
    struct Log: Equatable, CustomStringConvertible {
        var committed: [[String]]
        var executed: [[RequestID]]
        var description: String { "committed \(committed) executed \(executed)" }

        init(n: Int, observations: (ReplicaID) -> [Observation]) {
            committed = (0..<n).map { i in
                observations(i).compactMap {
                    if case .committed(let s, _, let d, _) = $0 { return "\(s):\(d)" }
                    return nil
                }
            }
            executed = (0..<n).map { i in
                observations(i).compactMap {
                    if case .executed(_, _, let request, _, _) = $0 { return request }
                    return nil
                }
            }
        }
    }

    @Test("the same scripted client workload commits the same log in the embedded shell and on a loopback TCP cluster, PBFT n=4",
          .timeLimit(.minutes(2)))
    func sameCommittedLogs() throws {
        // Proves the shells are interchangeable: the same replicas, keys and client script give the
        // same committed logs whether Runtime.interpret's sink is EmbeddedCluster or the live host.
        let requests = 6
        let seed: UInt64 = 14
        let cluster = try TestCluster(name: "parity", protocolName: "pbft", clients: 1)
        defer { cluster.stop() }
        let config = try ClusterConfig.load(path: cluster.config)
        let workload = WorkloadSpec(clients: 1, mode: .closed(thinkTime: 0), requestsPerClient: requests,
                                    retryTimeout: config.clientRetryTimeout, retryTimeoutMax: 8 * nanosPerSecond)
        let clientKeys = try KeyFiles.clientKeyring(config: config, configPath: cluster.config, range: 0..<1)

        // Embedded: the replicas as a live replica process builds them, one scripted client, virtual time.
        let scenario = try config.scenario()
        let protocolDriver = driver(for: scenario.protocolKind)
        var replicas: [any StateMachine] = []
        for i in 0..<config.n {
            let keyring = try KeyFiles.replicaKeyring(config: config, configPath: cluster.config, id: i)
            replicas.append(try ScenarioRun.makeReplica(i, scenario, driver: protocolDriver, keyring: keyring))
        }
        let client = Client(id: 0, quorum: QuorumMath(n: config.n, f: config.f), workload: workload,
                            targeting: protocolDriver.clientTargeting, signer: clientKeys.signer(for: .client(0)),
                            verifier: clientKeys.verifier, rng: DeterministicRNG(seed: seed, stream: "live-client/0"))
        let shell = EmbeddedCluster(context: (), replicas: replicas, clients: [client])
        shell.start()
        shell.run()
        var firings = 0
        while !((shell.clients[0] as? Client)?.isFinished ?? false), firings < 1_000, shell.advanceToNextTimer() { firings += 1 }
        let embedded = Log(n: config.n) { shell.observations[$0] }
        #expect(embedded.executed[0].count == requests, "the embedded run finished its script: \(embedded)")

        // Live: the same replicas over TCP on 127.0.0.1, the same client script through the load generator.
        try cluster.up()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let handshakeKeys = try KeyFiles.clientHandshakeKeys(config: config, configPath: cluster.config, range: 0..<1)
        let generator = try LoadGenerator(config: config, keyring: clientKeys, handshakeKeys: handshakeKeys, first: 0, count: 1,
                                          workload: workload, seed: seed, logPath: "\(cluster.dir)/client.bin", group: group)
        let report = try generator.run(duration: 3)
        #expect(report.completed == requests)
        let executedEverywhere = LiveSupport.waitUntil(seconds: 10) {
            (0..<config.n).allSatisfy { (LiveSupport.stats(cluster.dir, $0)?.executed ?? 0) >= requests }
        }
        #expect(executedEverywhere)
        cluster.stop()
        let records = (0..<config.n).map { i in
            ObservationLogReader.read(path: "\(cluster.dir)/data/r\(i)/\(ObservationLog.fileName)").records.map(\.observation)
        }
        let live = Log(n: config.n) { records[$0] }
        #expect(live == embedded)
    }
}
