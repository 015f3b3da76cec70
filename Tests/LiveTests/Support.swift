import Foundation
import Live

/// Paths and process helpers for live tests: the built `bftsim` binary next to the test bundle, a
/// temporary cluster directory with its own port range, and bounded waits.
enum LiveSupport {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var bftsim: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("bftsim")
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDir), !isDir.boolValue { return candidate.path }
            dir = dir.deletingLastPathComponent()
        }
        return root.appendingPathComponent(".build/debug/bftsim").path
    }

    /// Runs the CLI to completion; returns exit status and stdout+stderr.
    @discardableResult
    static func run(_ args: [String]) throws -> (status: Int32, out: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bftsim)
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Starts the CLI in the background with output to a file.
    static func start(_ args: [String], output: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bftsim)
        p.arguments = args
        FileManager.default.createFile(atPath: output, contents: nil)
        let h = FileHandle(forWritingAtPath: output)!
        p.standardOutput = h
        p.standardError = h
        try p.run()
        return p
    }

    /// A port range unlikely to collide with other tests or runs: random, and below Linux's ephemeral
    /// range (32768–60999), where outgoing connections of this very test could already hold the port.
    /// Blocks of 20 ports are never handed out twice in one test process (concurrent tests drew the
    /// same block: with a dozen clusters that happened about once in ten runs), and a block is taken
    /// only if its protocol and metrics ports (base…base+3, base+10…base+13, base+18) can be bound now.
    static func basePort() -> Int {
        portLock.lock()
        defer { portLock.unlock() }
        for _ in 0..<1_000 {
            let k = Int.random(in: 0..<1_100)
            guard !portBlocksUsed.contains(k) else { continue }
            let base = 10_000 + k * 20
            guard ([0, 1, 2, 3, 10, 11, 12, 13, 18].allSatisfy { canBind(base + $0) }) else { continue }
            portBlocksUsed.insert(k)
            return base
        }
        return 10_000 + Int.random(in: 0..<1_100) * 20
    }
    private static let portLock = NSLock()
    nonisolated(unsafe) private static var portBlocksUsed: Set<Int> = []

    /// True when a TCP listener could bind 127.0.0.1:`port` right now.
    static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    static func tempDir(_ name: String) -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("bftsim-live-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    static func stats(_ dir: String, _ id: Int) -> ShellStats? {
        guard let data = FileManager.default.contents(atPath: "\(dir)/data/r\(id)/stats.json") else { return nil }
        return try? JSONDecoder().decode(ShellStats.self, from: data)
    }

    /// Polls `condition` every 100 ms for at most `seconds`.
    static func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(100_000)
        }
        return condition()
    }
}

/// A cluster for one test: keygen, up, and a guaranteed `down` (call `stop()` in a defer).
struct TestCluster {
    let dir: String
    let basePort: Int
    var config: String { dir + "/cluster.json" }

    init(name: String, protocolName: String, clients: Int = 64, extra: [String] = []) throws {
        dir = LiveSupport.tempDir(name)
        basePort = LiveSupport.basePort()
        let r = try LiveSupport.run(["keygen", "--replicas", "4", "--clients", String(clients), "--out", dir,
                                     "--protocol", protocolName, "--base-port", String(basePort)] + extra)
        precondition(r.status == 0, "keygen failed: \(r.out)")
    }

    func up(_ extra: [String] = []) throws {
        let r = try LiveSupport.run(["cluster", "up", dir] + extra)
        precondition(r.status == 0, "cluster up failed: \(r.out)")
    }

    func stop() {
        _ = try? LiveSupport.run(["cluster", "down", dir])
    }

    func load(clients: Int, outstanding: Int, duration: Double, first: Int = 0) throws -> (status: Int32, out: String) {
        try LiveSupport.run(["client", "--config", config, "--clients", String(clients), "--outstanding", String(outstanding),
                             "--duration", String(duration), "--first-client", String(first), "--out", "\(dir)/load-\(first).json"])
    }

    func check() throws -> (status: Int32, out: String) { try LiveSupport.run(["check", dir]) }

    func report(first: Int = 0) -> LoadReport? {
        guard let d = FileManager.default.contents(atPath: "\(dir)/load-\(first).json") else { return nil }
        return try? JSONDecoder().decode(LoadReport.self, from: d)
    }
}
