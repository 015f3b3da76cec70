import Foundation
import Live
import Testing

@Suite("live cluster over loopback", .serialized)
struct ClusterTests {
    @Test("a 4-replica loopback cluster commits client requests and bftsim check finds safety holds",
          arguments: ["pbft", "hotstuff", "pbft+mac", "hotstuff+mac"])
    func commitsAndChecks(variant: String) throws {
        // Proves the end-to-end slice: keygen → 4 replica processes → load → commits → checkers pass,
        // with Ed25519 client signatures and with MAC authenticators ("+mac").
        let parts = variant.split(separator: "+").map(String.init)
        let cluster = try TestCluster(name: "commit-\(parts.joined(separator: "-"))", protocolName: parts[0],
                                      extra: parts.count > 1 ? ["--client-auth", "mac"] : [])
        defer { cluster.stop() }
        try cluster.up()
        let load = try cluster.load(clients: 2, outstanding: 2, duration: 2)
        #expect(load.status == 0, "\(load.out)")
        let report = try #require(cluster.report())
        #expect(report.completed > 50, "\(load.out)")
        cluster.stop()
        let check = try cluster.check()
        #expect(check.status == 0, "\(check.out)")
        #expect(check.out.contains("safety: holds"), "\(check.out)")
        for i in 0..<4 {
            let s = try #require(LiveSupport.stats(cluster.dir, i))
            #expect(s.committed > 0, "replica \(i) committed nothing")
            #expect(s.verifiedOffLoop > 0, "replica \(i) verified every peer signature on its event loop")
        }
    }

    @Test("cluster up fails, naming the replica and the cause, when a replica's port is taken")
    func portInUse() throws {
        // Proves a replica that dies during start-up is reported by `cluster up` instead of leaving a
        // silently degraded cluster (HotStuff then times out every view that replica leads).
        let cluster = try TestCluster(name: "port-in-use", protocolName: "pbft")
        defer { cluster.stop() }
        // Hold replica 2's port with a listening socket of our own.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(cluster.basePort + 2).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        try #require(bound == 0 && listen(fd, 1) == 0, "could not hold the port for the test")
        let r = try LiveSupport.run(["cluster", "up", cluster.dir])
        #expect(r.status != 0)
        #expect(r.out.contains("replica 2 exited during start-up"), "\(r.out)")
        #expect(r.out.contains("in use"), "\(r.out)")
    }

    @Test("kill -9 a replica twice during load and restart it: safety holds, no acknowledged request lost, it catches up",
          arguments: ["pbft", "hotstuff-two-chain"])
    func killAndRestart(protocolName: String) throws {
        // Two-chain HotStuff persists executed state, so this also proves the observation log is never
        // behind the durable store after kill -9 (the total-order checker would see a gap).
        let cluster = try TestCluster(name: "kill-\(protocolName)", protocolName: protocolName)
        defer { cluster.stop() }
        try cluster.up()
        let client = try LiveSupport.start(["client", "--config", cluster.config, "--clients", "2", "--outstanding", "2",
                                            "--duration", "10", "--out", "\(cluster.dir)/load-0.json"],
                                           output: "\(cluster.dir)/client.out")
        defer { if client.isRunning { client.terminate() } }
        for _ in 0..<2 {
            usleep(1_200_000)
            try LiveSupport.run(["cluster", "kill", cluster.dir, "--id", "3"])
            usleep(600_000)
            try LiveSupport.run(["cluster", "restart", cluster.dir, "--id", "3"])
        }
        // The restarted replica recovered from its data directory and catches up with the others while
        // load still runs (PBFT catches up at stable checkpoints, which need commits; bounded for slow,
        // shared machines).
        let caughtUp = LiveSupport.waitUntil(seconds: 12) {
            guard let r3 = LiveSupport.stats(cluster.dir, 3), let r0 = LiveSupport.stats(cluster.dir, 0) else { return false }
            return r3.recovered && r3.lastCommittedSequence + 8 >= r0.lastCommittedSequence && r3.executed > 0
        }
        client.waitUntilExit()
        #expect(caughtUp, "replica 3 did not catch up: \(String(describing: LiveSupport.stats(cluster.dir, 3)))")
        let report = try #require(cluster.report())
        #expect(report.completed > 50)
        cluster.stop()
        let check = try cluster.check()
        #expect(check.status == 0, "\(check.out)")
        // No acknowledged request lost: every request the client completed was executed by a replica.
        var executed = Set<String>()
        var completed: [String] = []
        for f in LiveCheck.logFiles(under: cluster.dir) {
            for r in ObservationLogReader.read(path: f).records {
                switch r.observation {
                case .executed(_, _, let req, _, _): executed.insert(req.description)
                case .requestCompleted(let req, _): completed.append(req.description)
                default: break
                }
            }
        }
        #expect(!completed.isEmpty)
        #expect(completed.allSatisfy { executed.contains($0) }, "an acknowledged request has no execution")
    }
}

@Suite("live link faults", .serialized)
struct LinkFaultTests {
    @Test("bftsim link isolates the PBFT primary: a view change keeps commits flowing, heal lets it catch up")
    func isolatePrimary() throws {
        let cluster = try TestCluster(name: "link", protocolName: "pbft")
        defer { cluster.stop() }
        try cluster.up()
        let client = try LiveSupport.start(["client", "--config", cluster.config, "--clients", "2", "--outstanding", "2",
                                            "--duration", "6", "--out", "\(cluster.dir)/load-0.json"],
                                           output: "\(cluster.dir)/client.out")
        defer { if client.isRunning { client.terminate() } }
        usleep(1_000_000)
        try LiveSupport.run(["link", "--config", cluster.config, "--id", "0", "--peer", "1", "--peer", "2", "--peer", "3", "--drop"])
        for j in 1...3 { try LiveSupport.run(["link", "--config", cluster.config, "--id", String(j), "--peer", "0", "--drop"]) }
        let viewChanged = LiveSupport.waitUntil(seconds: 4) { (LiveSupport.stats(cluster.dir, 1)?.highestView ?? 0) >= 1 }
        #expect(viewChanged)
        let mid = LiveSupport.stats(cluster.dir, 1)?.committed ?? 0
        #expect(LiveSupport.waitUntil(seconds: 3) { (LiveSupport.stats(cluster.dir, 1)?.committed ?? 0) > mid + 10 }, "no commits in the new view")
        for j in 0...3 { try LiveSupport.run(["link", "--config", cluster.config, "--id", String(j), "--heal"]) }
        client.waitUntilExit()
        // A second load after the heal: the old primary catches up at stable checkpoints, which need commits.
        let more = try LiveSupport.start(["client", "--config", cluster.config, "--clients", "2", "--outstanding", "2",
                                          "--duration", "4", "--first-client", "8", "--out", "\(cluster.dir)/load-8.json"],
                                         output: "\(cluster.dir)/client-8.out")
        defer { if more.isRunning { more.terminate() } }
        let caughtUp = LiveSupport.waitUntil(seconds: 12) {
            guard let r0 = LiveSupport.stats(cluster.dir, 0), let r1 = LiveSupport.stats(cluster.dir, 1) else { return false }
            return r0.lastCommittedSequence + 4 >= r1.lastCommittedSequence
        }
        #expect(caughtUp, "replica 0 did not catch up after heal")
        more.waitUntilExit()
        cluster.stop()
        let check = try cluster.check()
        #expect(check.status == 0, "\(check.out)")
    }
}
