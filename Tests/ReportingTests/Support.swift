import RunRecords
import BFTCore
import Foundation
import PBFT
import Reporting
import Runner
import ScenarioFormat
import Simulation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Paths and helpers for report tests: the repository root, the built `bftsim`, run directories.
enum Fixture {
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func scenario(_ relative: String) throws -> Scenario {
        try ScenarioLoader.load(path: root.appendingPathComponent("Scenarios/" + relative).path)
    }

    /// A fresh temporary directory unique to this process and name.
    static func temporaryDirectory(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bftsim-report-\(getpid())-\(name)").path
        try? FileManager.default.removeItem(atPath: dir)
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Runs `scenario` in-process and writes summary.json and trace.jsonl into a new directory,
    /// as `bftsim run --out` does.
    static func runDirectory(_ scenario: Scenario, name: String, file: String? = nil, driver: (any ProtocolDriver)? = nil) throws -> (dir: String, outcome: RunOutcome) {
        let dir = temporaryDirectory(name)
        guard let sink = JSONLFileSink(path: dir + "/trace.jsonl") else { throw ReportError(file: dir, "cannot write trace") }
        let outcome = try ScenarioRun.execute(scenario, trace: .full(sink), driver: driver)
        sink.close()
        try RunOutputs.write(RunSummary(outcome: outcome, file: file), to: dir)
        return (dir, outcome)
    }

    /// Cached run directories shared by the tests of one process (each scenario runs once).
    nonisolated(unsafe) static var cache: [String: String] = [:]
    static let lock = NSLock()

    static func cached(_ key: String, _ make: () throws -> String) rethrows -> String {
        lock.lock()
        defer { lock.unlock() }
        if let d = cache[key] { return d }
        let d = try make()
        cache[key] = d
        return d
    }

    /// A normal run with a crash and view change: PBFT, primary crashes at 1s.
    static func primaryCrash() throws -> String {
        try cached("primary-crash") {
            try runDirectory(try scenario("pbft/primary-crash.yaml"), name: "primary-crash", file: "Scenarios/pbft/primary-crash.yaml").dir
        }
    }

    /// A liveness violation (the negative control): two of four replicas crash.
    static func tooManyCrashes() throws -> String {
        try cached("too-many-crashes") {
            try runDirectory(try scenario("pbft/too-many-crashes.yaml"), name: "too-many-crashes", file: "Scenarios/pbft/too-many-crashes.yaml").dir
        }
    }

    /// A safety violation: PBFT that commits without matching digests under an equivocating primary.
    static func agreementViolation() throws -> String {
        try cached("agreement") {
            for seed in UInt64(1)...6 {
                let s = Scenario(name: "equivocation-attack", replicas: 4, seed: seed, crypto: .fast,
                                 stop: StopCondition(timeLimit: 10 * nanosPerSecond, untilClientsDone: true),
                                 network: NetworkSpec(latency: .uniform(min: 1_000_000, max: 3_000_000)),
                                 workload: WorkloadSpec(clients: 2, requestsPerClient: 10),
                                 byzantine: [ByzantineSpec(replica: 0, behaviour: "equivocate")])
                let r = try runDirectory(s, name: "agreement-\(seed)", driver: PBFTDriver(mutations: [.commitWithoutDigestMatch]))
                if r.outcome.safety == .violated { return r.dir }
            }
            throw ReportError(file: "agreementViolation", "no seed produced a violation")
        }
    }

    /// `.build/<config>/bftsim`, next to the test bundle.
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

    /// Runs a program; returns exit status, stdout and stderr.
    static func run(_ executable: String, _ args: [String], in directory: String? = nil) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: directory ?? root.path)
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}

/// Well-formedness of generated HTML (which is written as XHTML-compatible markup).
enum Markup {
    /// Parses with Foundation's XMLDocument where available, else checks tag balance; returns the
    /// problems found (empty when well-formed).
    static func problems(_ html: String) -> [String] {
        var found = tagBalance(html)
        #if canImport(FoundationXML)
        do {
            _ = try XMLDocument(xmlString: html, options: [])
        } catch {
            found.append("XMLDocument: \(error)")
        }
        #endif
        return found
    }

    static let void: Set<String> = ["meta", "br", "hr", "img", "link", "input"]

    /// A small tag-balance checker: every opened element closes in order.
    static func tagBalance(_ html: String) -> [String] {
        var stack: [String] = []
        var problems: [String] = []
        let scalars = Array(html.unicodeScalars)
        var i = 0
        while i < scalars.count {
            guard scalars[i] == "<" else { i += 1; continue }
            var j = i + 1
            while j < scalars.count, scalars[j] != ">" { j += 1 }
            guard j < scalars.count else { problems.append("unterminated tag at \(i)"); break }
            let body = String(String.UnicodeScalarView(scalars[(i + 1)..<j]))
            i = j + 1
            if body.hasPrefix("!") || body.hasPrefix("?") { continue }
            let selfClosing = body.hasSuffix("/")
            let closing = body.hasPrefix("/")
            let name = String((closing ? body.dropFirst() : Substring(body)).prefix { !$0.isWhitespace && $0 != "/" }).lowercased()
            if closing {
                guard let top = stack.popLast() else { problems.append("</\(name)> with nothing open"); continue }
                if top != name { problems.append("</\(name)> closes <\(top)>") }
            } else if !selfClosing && !void.contains(name) {
                stack.append(name)
                if name == "style" || name == "script" {
                    // Raw text up to the matching end tag.
                    let rest = String(String.UnicodeScalarView(scalars[i...]))
                    if let r = rest.range(of: "</\(name)>") {
                        i += rest.unicodeScalars.distance(from: rest.unicodeScalars.startIndex, to: r.lowerBound.samePosition(in: rest.unicodeScalars)!)
                    }
                }
            }
        }
        if !stack.isEmpty { problems.append("unclosed: \(stack.joined(separator: " > "))") }
        return problems
    }
}
