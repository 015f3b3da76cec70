import Foundation
import Live
import Testing

/// Creates and removes network namespaces, veth pairs and a bridge for one test run. Every name
/// carries a per-run tag, so concurrent runs never touch each other's objects.
final class NamespaceLab {
    let tag: String
    let ip: String
    var namespaces: [String] = []
    var processes: [Process] = []

    static func unavailableReason() -> String? {
        if getuid() != 0 { return "not root" }
        guard let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            return "the ip command is missing"
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ip)
        p.arguments = ["netns", "list"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return "ip netns is not usable" }
        p.waitUntilExit()
        return p.terminationStatus == 0 ? nil : "ip netns is not usable"
    }

    init() {
        tag = String(format: "b%05x", UInt32.random(in: 0..<0xfffff))
        ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }!
    }

    @discardableResult
    func sh(_ args: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ip)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }

    func ns(_ name: String) -> String { "\(tag)-\(name)" }
    var hub: String { ns("hub") }

    /// A hub namespace with a bridge, and one namespace per node attached to it by a veth pair.
    func build(nodes: [String], subnet: String) -> Bool {
        for n in ["hub"] + nodes {
            guard sh(["netns", "add", ns(n)]) == 0 else { return false }
            namespaces.append(ns(n))
        }
        guard sh(["-n", hub, "link", "add", "br0", "type", "bridge"]) == 0, sh(["-n", hub, "link", "set", "br0", "up"]) == 0 else { return false }
        for (k, n) in nodes.enumerated() {
            let inner = "\(tag)i\(k)", outer = "\(tag)o\(k)"
            guard sh(["link", "add", inner, "type", "veth", "peer", "name", outer]) == 0,
                  sh(["link", "set", inner, "netns", ns(n)]) == 0,
                  sh(["link", "set", outer, "netns", hub]) == 0,
                  sh(["-n", hub, "link", "set", outer, "master", "br0"]) == 0,
                  sh(["-n", hub, "link", "set", outer, "up"]) == 0,
                  sh(["-n", ns(n), "addr", "add", "\(subnet).\(k + 1)/24", "dev", inner]) == 0,
                  sh(["-n", ns(n), "link", "set", inner, "up"]) == 0,
                  sh(["-n", ns(n), "link", "set", "lo", "up"]) == 0 else { return false }
        }
        return true
    }

    static let nftPath = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs `nft` inside node's namespace (rules there filter only that namespace's traffic).
    @discardableResult
    func nft(in node: String, _ args: [String]) -> Int32 {
        guard let nft = NamespaceLab.nftPath else { return -1 }
        return sh(["netns", "exec", ns(node), nft] + args)
    }

    /// Packets dropped so far by counted rules of `chain` in node's `bftsim` table.
    func nftDropped(in node: String, chain: String) -> Int {
        guard let nft = NamespaceLab.nftPath else { return 0 }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ip)
        p.arguments = ["netns", "exec", ns(node), nft, "list", "chain", "inet", "bftsim", chain]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return 0 }
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        var total = 0
        for line in out.split(separator: "\n") {
            let words = line.split(separator: " ")
            if let i = words.firstIndex(of: "packets"), i + 1 < words.count, let n = Int(words[i + 1]) { total += n }
        }
        return total
    }

    /// Takes node `k`'s bridge port down (a partition) or up (heal).
    func setLink(_ k: Int, up: Bool) { sh(["-n", hub, "link", "set", "\(tag)o\(k)", up ? "up" : "down"]) }

    func start(in node: String, _ args: [String], output: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ip)
        p.arguments = ["netns", "exec", ns(node), LiveSupport.bftsim] + args
        FileManager.default.createFile(atPath: output, contents: nil)
        let h = FileHandle(forWritingAtPath: output)!
        p.standardOutput = h
        p.standardError = h
        try p.run()
        processes.append(p)
        return p
    }

    func teardown() {
        for p in processes where p.isRunning {
            p.terminate()
            // The load client finishes its run before exiting on SIGTERM; don't wait for it.
            if !LiveSupport.waitUntil(seconds: 1, { !p.isRunning }) { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
        }
        for n in namespaces.reversed() { sh(["netns", "del", n]) }
        namespaces.removeAll()
    }
}

/// A 4-replica PBFT cluster and a load client, each in its own namespace of `lab`.
struct NamespaceCluster {
    let dir: String
    let subnet: String

    init(lab: NamespaceLab, name: String, basePort: Int) throws {
        subnet = "10.\(200 + Int.random(in: 0..<50)).\(Int.random(in: 0..<250))"
        try #require(lab.build(nodes: ["r0", "r1", "r2", "r3", "client"], subnet: subnet), "could not build namespaces")
        dir = LiveSupport.tempDir(name)
        let gen = try LiveSupport.run(["keygen", "--replicas", "4", "--clients", "16", "--out", dir, "--protocol", "pbft",
                                       "--base-port", String(basePort), "--view-timeout-ms", "300"])
        try #require(gen.status == 0, "\(gen.out)")
        var config = try ClusterConfig.load(path: dir + "/cluster.json")
        for i in 0..<4 { config.replicas[i].host = "\(subnet).\(i + 1)" }
        try config.write(to: dir + "/cluster.json")
        for i in 0..<4 {
            _ = try lab.start(in: "r\(i)", ["replica", "--config", dir + "/cluster.json", "--id", String(i), "--data", "\(dir)/data/r\(i)"],
                              output: "\(dir)/r\(i).log")
        }
        usleep(800_000)
        // The load must outlast the longest wait of a test (up to 180 s for commits to resume after a
        // heal, under the full suite's CPU load); the teardown stops the client whenever the test ends.
        // With 60 s, a slow recovery found no client left to commit for, and waited out its 180 s.
        _ = try lab.start(in: "client", ["client", "--config", dir + "/cluster.json", "--clients", "2", "--outstanding", "2",
                                          "--duration", "600", "--out", "\(dir)/load.json"], output: "\(dir)/client.log")
    }

    func committed(_ i: Int) -> Int {
        guard let d = FileManager.default.contents(atPath: "\(dir)/data/r\(i)/stats.json"),
              let s = try? JSONDecoder().decode(ShellStats.self, from: d) else { return 0 }
        return s.committed
    }

    func address(_ i: Int) -> String { "\(subnet).\(i + 1)" }
}

@Suite("live network namespaces", .serialized)
struct NetworkNamespaceTests {
    @Test("replicas in separate network namespaces: nftables random loss slows commits, DROP rules partition 2|2, deleting them heals")
    func nftablesLossAndPartition() throws {
        // Proves the live shell rides out real packet loss (nft numgen random) and a firewall partition
        // (nft DROP rules between the two halves), and recovers when the rules go; safety holds throughout.
        if let reason = NamespaceLab.unavailableReason() {
            print("skipping nftables test: \(reason)")
            return
        }
        guard NamespaceLab.nftPath != nil else {
            print("skipping nftables test: nft is missing (apt-get install nftables)")
            return
        }
        let lab = NamespaceLab()
        defer { lab.teardown() }
        let cluster = try NamespaceCluster(lab: lab, name: "netns-nft", basePort: 7100)
        #expect(LiveSupport.waitUntil(seconds: 5) { cluster.committed(0) > 20 }, "no commits before any rule")

        // 1. 15% random loss on every replica's input: TCP retransmits, commits continue.
        for i in 0..<4 {
            let r = "r\(i)"
            #expect(lab.nft(in: r, ["add", "table", "inet", "bftsim"]) == 0)
            #expect(lab.nft(in: r, ["add", "chain", "inet", "bftsim", "input", "{ type filter hook input priority 0; }"]) == 0)
            #expect(lab.nft(in: r, ["add", "chain", "inet", "bftsim", "output", "{ type filter hook output priority 0; }"]) == 0)
            #expect(lab.nft(in: r, ["add", "rule", "inet", "bftsim", "input", "numgen", "random", "mod", "100", "<", "15", "counter", "drop"]) == 0)
        }
        let lossStart = cluster.committed(0)
        let progressed = LiveSupport.waitUntil(seconds: 10) { cluster.committed(0) > lossStart + 10 }
        #expect(progressed, "no progress under 15% loss (r0 \(cluster.committed(0)), was \(lossStart))")
        let lost = (0..<4).map { lab.nftDropped(in: "r\($0)", chain: "input") }.reduce(0, +)
        #expect(lost > 0, "the loss rules dropped nothing")

        // 2. Loss off; r2 and r3 drop everything from and to r0 and r1: no side has a quorum.
        for i in 0..<4 { lab.nft(in: "r\(i)", ["flush", "chain", "inet", "bftsim", "input"]) }
        for i in [2, 3] {
            for peer in [0, 1] {
                #expect(lab.nft(in: "r\(i)", ["add", "rule", "inet", "bftsim", "input", "ip", "saddr", cluster.address(peer), "counter", "drop"]) == 0)
                #expect(lab.nft(in: "r\(i)", ["add", "rule", "inet", "bftsim", "output", "ip", "daddr", cluster.address(peer), "counter", "drop"]) == 0)
            }
        }
        usleep(1_500_000)
        let atPartition = cluster.committed(0)
        usleep(2_500_000)
        let duringPartition = cluster.committed(0) - atPartition
        #expect(duringPartition <= 2, "replica 0 committed \(duringPartition) batches without a quorum")
        #expect(lab.nftDropped(in: "r2", chain: "input") + lab.nftDropped(in: "r2", chain: "output") > 0, "the partition rules dropped nothing")

        // 3. Delete the rules: commits resume on both sides.
        for i in 0..<4 { lab.nft(in: "r\(i)", ["delete", "table", "inet", "bftsim"]) }
        let healed = cluster.committed(0)
        // View-change timeouts doubled through the partition (rule V6, up to 16 s), and the full suite runs
        // CPU-bound tests (explore, fuzz) and other clusters beside this one on two cores: a starved replica's
        // wall-clock timers fire before its messages are handled, so views churn until the load passes.
        // Alone this resumes in about 2 s; in the full suite it once took over a minute. Liveness, not
        // speed, is the property here: allow three minutes.
        let resumed = LiveSupport.waitUntil(seconds: 180) { cluster.committed(0) > healed + 20 && cluster.committed(3) > 0 }
        #expect(resumed, "commits did not resume after deleting the rules (r0 \(cluster.committed(0)), was \(healed))")
        lab.teardown()
        let check = try LiveSupport.run(["check", cluster.dir])
        #expect(check.out.contains("safety: holds"), "\(check.out)")
    }

    @Test("replicas in separate network namespaces: a 2|2 partition by link down stops commits, healing resumes them")
    func partitionAndHeal() throws {
        // Proves the live shell survives a real network partition: no quorum, no commits; heal, commits resume; safety holds.
        if let reason = NamespaceLab.unavailableReason() {
            print("skipping network-namespace test: \(reason)")
            return
        }
        let lab = NamespaceLab()
        defer { lab.teardown() }
        let cluster = try NamespaceCluster(lab: lab, name: "netns", basePort: 7000)
        let dir = cluster.dir
        func committed(_ i: Int) -> Int { cluster.committed(i) }
        let flowing = LiveSupport.waitUntil(seconds: 5) { committed(0) > 20 }
        #expect(flowing, "no commits before the partition")

        lab.setLink(2, up: false)
        lab.setLink(3, up: false)
        usleep(1_500_000)
        let atPartition = committed(0)
        usleep(2_500_000)
        let duringPartition = committed(0) - atPartition
        #expect(duringPartition <= 2, "replica 0 committed \(duringPartition) batches without a quorum")

        lab.setLink(2, up: true)
        lab.setLink(3, up: true)
        let healed = committed(0)
        // View-change timeouts doubled during the partition and TCP retransmission backed off, so
        // resuming takes a few seconds alone; under the full suite's CPU-bound tests on two cores it can
        // take much longer (see the nftables test above): bounded at three minutes.
        let resumed = LiveSupport.waitUntil(seconds: 180) { committed(0) > healed + 20 && committed(3) > 0 }
        #expect(resumed, "commits did not resume after healing (r0 \(committed(0)), was \(healed))")
        lab.teardown()
        let check = try LiveSupport.run(["check", dir])
        #expect(check.out.contains("safety: holds"), "\(check.out)")
    }
}
