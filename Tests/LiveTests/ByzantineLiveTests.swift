import BFTCore
import BFTCrypto
import Foundation
import Live
import Runner
import ScenarioFormat
import Testing

@Suite("live Byzantine replicas: the simulator's behaviour registry over TCP", .serialized)
struct ByzantineLiveTests {
    @Test("every behaviour a protocol lists builds as a live replica through the same registry as scenario files",
          arguments: ["pbft", "hotstuff", "hotstuff-two-chain"])
    func everyBehaviourBuilds(protocolName: String) throws {
        // `cluster up --byzantine ID:B` reaches each behaviour: no network, just the live build path.
        let dir = LiveSupport.tempDir("byz-build-\(protocolName)")
        let r = try LiveSupport.run(["keygen", "--replicas", "4", "--clients", "4", "--out", dir, "--protocol", protocolName,
                                     "--base-port", String(LiveSupport.basePort())])
        try #require(r.status == 0, "\(r.out)")
        let config = try ClusterConfig.load(path: dir + "/cluster.json")
        let kind = try #require(ProtocolKind(rawValue: protocolName))
        let keyring = try KeyFiles.replicaKeyring(config: config, configPath: dir + "/cluster.json", id: 1)
        for behaviour in Runner.driver(for: kind).byzantineBehaviours {
            let machine = try ReplicaProcess.makeMachine(config: config, id: 1, keyring: keyring, behaviour: behaviour)
            #expect(machine.principal == .replica(1), "\(behaviour)")
        }
        _ = try ReplicaProcess.makeMachine(config: config, id: 1, keyring: keyring, behaviour: "slow=50ms,mutate=view+1,replay=300ms")
        #expect(throws: LiveError.self) { try ReplicaProcess.makeMachine(config: config, id: 1, keyring: keyring, behaviour: "mutate=colour") }
        #expect(throws: LiveError.self) { try ReplicaProcess.makeMachine(config: config, id: 1, keyring: keyring, behaviour: "silent=3") }
    }

    @Test("cluster up --byzantine rejects a bad behaviour with its reason, before starting anything")
    func badBehaviourRejected() throws {
        let cluster = try TestCluster(name: "byz-bad", protocolName: "pbft", clients: 4)
        defer { cluster.stop() }
        let r = try LiveSupport.run(["cluster", "up", cluster.dir, "--byzantine", "1:mutate=colour"])
        #expect(r.status == 3, "\(r.out)")
        #expect(r.out.contains("unknown mutation"), "\(r.out)")
    }

    @Test("a live cluster with one Byzantine replica per behaviour class commits and bftsim check finds safety holds",
          arguments: [("pbft", "0:conflict"), ("pbft", "1:mutate=digest,slow=20ms"), ("pbft", "3:silent"),
                      ("hotstuff", "1:equivocate"), ("hotstuff", "2:spam-view-change,forge-sender"), ("hotstuff-two-chain", "3:bad-signature,replay=200ms")])
    func byzantineClusterStaysSafe(protocolName: String, byzantine: String) throws {
        // One faulty replica of each class (equivocation in both orders, small-scope mutation with delay,
        // omission, spam with forged senders, corrupted and replayed messages) against three correct ones.
        let cluster = try TestCluster(name: "byz-\(protocolName)", protocolName: protocolName, clients: 16)
        defer { cluster.stop() }
        try cluster.up(["--byzantine", byzantine])
        let load = try cluster.load(clients: 2, outstanding: 2, duration: 3)
        #expect(load.status == 0, "\(load.out)")
        let report = try #require(cluster.report())
        #expect(report.completed > 10, "\(load.out)")
        cluster.stop()
        let id = String(byzantine.split(separator: ":")[0])
        let check = try LiveSupport.run(["check", cluster.dir, "--byzantine", id])
        #expect(check.status == 0, "\(check.out)")
        #expect(check.out.contains("safety: holds"), "\(check.out)")
    }
}
