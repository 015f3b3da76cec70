import BFTCore
import Foundation
import Runner
import ScenarioFormat
import Simulation
import Testing

/// Runs `bftsim ARGS` in a shell with a virtual-memory limit and a wall-clock timeout: a trap or a
/// kill shows up as a signal status (128 + n), a hang as status 124 (from `timeout`).
private func boundedCLI(_ args: [String], seconds: Int, memoryKiB: Int = 6_000_000) throws -> (status: Int32, out: String) {
    let quoted = ([Paths.bftsim] + args).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", "ulimit -v \(memoryKiB); exec timeout -s KILL \(seconds) \(quoted)"]
    p.currentDirectoryURL = FileManager.default.temporaryDirectory
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// SplitMix64 (deterministic corpus).
private struct CorpusRNG {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
    mutating func pick<T>(_ xs: [T]) -> T { xs[below(xs.count)] }
}

/// One hostile edit of a scenario file: a byte flip, a truncation, a type swap, an extreme number or
/// duration in place of a value, or an alias bomb.
private func hostile(_ text: String, _ rng: inout CorpusRNG) -> String {
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let valued = lines.indices.filter { lines[$0].contains(": ") && !lines[$0].hasPrefix("#") }
    switch rng.below(6) {
    case 0:
        var bytes = Array(text.utf8)
        for _ in 0..<(1 + rng.below(3)) where !bytes.isEmpty { bytes[rng.below(bytes.count)] ^= UInt8(1 << rng.below(8)) }
        return String(decoding: bytes, as: UTF8.self)
    case 1:
        return String(text.prefix(rng.below(text.count)))
    case 2, 3:
        guard let i = valued.isEmpty ? nil : rng.pick(valued), let colon = lines[i].range(of: ": ") else { return text }
        let extremes = ["9223372036854775807", "-9223372036854775808", "18446744073709551616", "1e308", "-1", "0",
                        "65536", "2147483648", "4096", "1025", "1ns", "0s", "9223372036854775807ns", "1000000000h",
                        "[1, 2]", "{a: 1}", "''", "true", "null", "nan", "1e12", "-0.5"]
        // Replace the value (up to a closing brace or comma in flow style, else the line's end).
        let rest = lines[i][colon.upperBound...]
        let end = rest.firstIndex(where: { $0 == "," || $0 == "}" }) ?? rest.endIndex
        lines[i] = String(lines[i][..<colon.upperBound]) + rng.pick(extremes) + String(lines[i][end...])
        return lines.joined(separator: "\n")
    case 4:
        // Alias tree used as a mapping key.
        var bomb = "\nz0: &z0 [x, x]\n"
        for k in 1...24 { bomb += "z\(k): &z\(k) [*z\(k - 1), *z\(k - 1)]\n" }
        return text + bomb + "? *z24\n: 1\n"
    default:
        // Billion laughs in a list the parser walks element by element.
        var bomb = "\nq0: &q0 [{at: 1s, heal: true}, {at: 1s, heal: true}, {at: 1s, heal: true}, {at: 1s, heal: true}]\n"
        for k in 1...12 { bomb += "q\(k): &q\(k) [*q\(k - 1), *q\(k - 1), *q\(k - 1), *q\(k - 1)]\n" }
        return text.replacingOccurrences(of: "timeline:", with: "old_timeline:") + bomb + "timeline: *q12\n"
    }
}

@Suite("hostile scenario files")
struct HostileScenarioTests {
    @Test("a run that exhausts its event budget stops with exit code 6 and says so")
    func eventBudget() throws {
        let path = Paths.root.appendingPathComponent("Scenarios/pbft/normal-case.yaml").path
        let r = try boundedCLI(["run", path, "--events-max", "500", "--no-trace", "--out", NSTemporaryDirectory() + "/bftsim-budget"], seconds: 120)
        #expect(r.status == RunStatus.budgetExhausted.rawValue, "\(r.out)")
        #expect(r.out.contains("stopped: budget exhausted: 500 events (--events-max)"), "\(r.out)")
    }

    @Test("a run past its memory budget stops with exit code 6 instead of exhausting the machine")
    func memoryBudget() throws {
        // The check runs every 16,384 events; any real process is above 1 MiB resident.
        let path = Paths.root.appendingPathComponent("Scenarios/pbft/long-run-checkpoints.yaml").path
        let r = try boundedCLI(["run", path, "--memory-max", "1", "--no-trace", "--out", NSTemporaryDirectory() + "/bftsim-memory"], seconds: 300)
        #expect(r.status == RunStatus.budgetExhausted.rawValue, "\(r.out)")
        #expect(r.out.contains("stopped: budget exhausted: resident memory passed 1 MiB"), "\(r.out)")
    }

    @Test("the simulator stops on its memory check without touching determinism of runs inside it")
    func memoryCheckInProcess() throws {
        let s = try ScenarioLoader.load(path: Paths.root.appendingPathComponent("Scenarios/pbft/long-run-checkpoints.yaml").path)
        let stopped = try ScenarioRun.execute(s, trace: .hashOnly, memoryMaxBytes: 1)
        #expect(stopped.simulation.stoppedBecause == .memoryBudget)
        #expect(stopped.simulation.eventsProcessed == Simulator.memoryCheckInterval)
        let a = try ScenarioRun.execute(s, trace: .hashOnly, memoryMaxBytes: 1 << 40)
        let b = try ScenarioRun.execute(s, trace: .hashOnly)
        #expect(a.simulation.traceHash == b.simulation.traceHash)
    }

    @Test("a corpus of hostile edits of the shipped scenarios: validate and run never trap or hang, every rejection is positioned",
          .timeLimit(.minutes(10)))
    func hostileCorpus() throws {
        let sources = Paths.scenarios("pbft") + Paths.scenarios("hotstuff") + Paths.scenarios("byzantine")
        let dir = NSTemporaryDirectory() + "bftsim-hostile-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var rng = CorpusRNG(state: 13)
        var files: [String] = []
        for i in 0..<300 {
            let source = try String(contentsOfFile: sources[i % sources.count], encoding: .utf8)
            var text = hostile(source, &rng)
            if i % 4 == 3 { text = hostile(text, &rng) }
            let path = dir + "/m\(i).yaml"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            files.append(path)
        }
        // One process validates them all (a trap would end it with a signal); then each file alone, so
        // the report names the exact file and its outcome.
        let all = try boundedCLI(["validate"] + files, seconds: 300)
        #expect(all.status == 0 || all.status == RunStatus.invalidInput.rawValue, "validate of the corpus ended with \(all.status)")
        var valid: [String] = []
        for line in all.out.split(separator: "\n") {
            if line.hasPrefix("ok  ") { valid.append(String(line.dropFirst(4).prefix { $0 != " " })); continue }
            // Every rejection: FILE:LINE:COLUMN: message.
            let parts = line.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false)
            let positioned = parts.count == 4 && parts[0].hasPrefix(dir) && Int(parts[1]).map { $0 >= 1 } == true
                && Int(parts[2]).map { $0 >= 1 } == true && !parts[3].trimmingCharacters(in: .whitespaces).isEmpty
            #expect(positioned, "an unpositioned rejection: \(line)")
        }
        #expect(valid.count >= 15, "too few hostile files were still valid to exercise run (\(valid.count))")
        #expect(valid.count < files.count - 100, "too few hostile files were rejected (\(files.count - valid.count))")
        // Run the still-valid ones under a budget: any verdict or "budget exhausted", never a trap or hang.
        for path in valid.prefix(40) {
            let r = try boundedCLI(["run", path, "--events-max", "40000", "--memory-max", "2048", "--no-trace", "--quiet",
                                    "--out", dir + "/out"], seconds: 120)
            #expect([0, 1, 2, 5, 6].contains(r.status), "\(path): bftsim run ended with status \(r.status): \(r.out.suffix(400))")
        }
    }
}
