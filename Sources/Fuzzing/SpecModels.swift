import Foundation

/// The SPIN models in `Specs/` and the configurations `bftsim spec check` verifies.
///
/// Each configuration is one set of `-D` switches: the honest models must verify exhaustively (no
/// bitstate: `-DCOLLAPSE`), every mutant switch must produce an assertion violation with a trail.
public enum SpecModel: String, Sendable, CaseIterable, Codable {
    case pbft
    case hotstuff

    /// Path of the model, relative to the repository root.
    public var file: String { "Specs/\(rawValue).pml" }
}

/// One row of `bftsim spec check`: a model with switches and the verdict expected of SPIN.
public struct SpecConfiguration: Sendable, Equatable {
    public var model: SpecModel
    /// The `-D` switches (without `-D`), e.g. `["TWO_CHAIN", "VOTE_WITHOUT_LOCK_CHECK"]`.
    public var defines: [String]
    /// The mutant switch ("honest" for none), named after the Swift mutant when one exists.
    public var name: String
    /// The Swift test-only mutant the switch mirrors (nil: none).
    public var mutant: TestMutant?
    public var expectViolation: Bool
    /// Model property the mutant breaks (for the table).
    public var property: String

    public var switchLabel: String { defines.isEmpty ? "-" : defines.map { "-D\($0)" }.joined(separator: " ") }

    /// Every configuration, honest ones first for each model.
    public static let all: [SpecConfiguration] = [
        .init(model: .pbft, defines: [], name: "honest", mutant: nil, expectViolation: false, property: "all"),
        .init(model: .pbft, defines: ["N=5"], name: "honest", mutant: nil, expectViolation: false, property: "all"),
        .init(model: .pbft, defines: ["BYZ=1"], name: "honest", mutant: nil, expectViolation: false, property: "safety"),
        .init(model: .pbft, defines: ["COMMIT_WITHOUT_DIGEST_MATCH"], name: "commit-without-digest-match", mutant: .commitWithoutDigestMatch, expectViolation: true, property: "agreement"),
        .init(model: .pbft, defines: ["PREPARE_WITHOUT_DIGEST_MATCH"], name: "prepare-without-digest-match", mutant: .prepareWithoutDigestMatch, expectViolation: true, property: "lemma"),
        .init(model: .pbft, defines: ["COMMIT_QUORUM_WEAK"], name: "commit-quorum-weak", mutant: .commitQuorumWeak, expectViolation: true, property: "lemma"),
        .init(model: .pbft, defines: ["PREPARE_QUORUM_WEAK"], name: "prepare-quorum-weak", mutant: .prepareQuorumWeak, expectViolation: true, property: "lemma"),
        .init(model: .pbft, defines: ["N=5", "QUORUM_2F_PLUS_1"], name: "quorum-2f-plus-1", mutant: .quorumTwoFPlusOne, expectViolation: true, property: "lemma"),
        .init(model: .pbft, defines: ["SKIP_REQUEST_SIGNATURE_CHECK"], name: "skip-request-signature-check", mutant: .skipRequestSignatureCheck, expectViolation: true, property: "validity"),
        .init(model: .pbft, defines: ["ACCEPT_CONFLICTING_PRE_PREPARE"], name: "accept-conflicting-pre-prepare", mutant: .acceptConflictingPrePrepare, expectViolation: true, property: "lemma"),
        .init(model: .pbft, defines: ["NO_VIEW_CHANGE_TIMER"], name: "no-view-change-timer", mutant: .noViewChangeTimer, expectViolation: true, property: "liveness"),
        .init(model: .pbft, defines: ["ACCEPT_UNVERIFIED_VIEW_CHANGE"], name: "accept-unverified-view-change", mutant: .acceptUnverifiedViewChange, expectViolation: true, property: "lemma"),
        .init(model: .pbft, defines: ["BYZ=1", "NEW_VIEW_WITHOUT_QUORUM"], name: "new-view-without-quorum", mutant: .newViewWithoutQuorum, expectViolation: true, property: "lemma"),
        .init(model: .pbft, defines: ["BYZ=1", "ACCEPT_NEW_VIEW_WITHOUT_RECOMPUTE"], name: "accept-new-view-without-recompute", mutant: .acceptNewViewWithoutRecompute, expectViolation: true, property: "lemma"),
        .init(model: .hotstuff, defines: [], name: "honest", mutant: nil, expectViolation: false, property: "all"),
        .init(model: .hotstuff, defines: ["TWO_CHAIN"], name: "honest", mutant: nil, expectViolation: false, property: "all"),
        .init(model: .hotstuff, defines: ["COMMIT_ON_PARENT_LINKS"], name: "commit-on-parent-links", mutant: .commitOnParentLinks, expectViolation: true, property: "lemma"),
        .init(model: .hotstuff, defines: ["VOTE_WITHOUT_LOCK_CHECK"], name: "vote-without-lock-check", mutant: .voteWithoutLockCheck, expectViolation: true, property: "lemma"),
        .init(model: .hotstuff, defines: ["TWO_CHAIN", "VOTE_WITHOUT_LOCK_CHECK"], name: "vote-without-lock-check", mutant: .voteWithoutLockCheck, expectViolation: true, property: "lemma"),
        .init(model: .hotstuff, defines: ["LOCK_NEVER_UPDATED"], name: "lock-never-updated", mutant: .lockNeverUpdated, expectViolation: true, property: "lemma"),
        .init(model: .hotstuff, defines: ["COMMIT_ON_TWO_CHAIN", "MAXV=3", "MAXB=4"], name: "commit-on-two-chain", mutant: .commitOnTwoChain, expectViolation: true, property: "lemma"),
        .init(model: .hotstuff, defines: ["QUORUM_ONE_SHORT"], name: "quorum-one-short", mutant: .quorumOneShort, expectViolation: true, property: "unique QC per view"),
        .init(model: .hotstuff, defines: ["TWO_CHAIN", "QUORUM_ONE_SHORT"], name: "quorum-one-short", mutant: .quorumOneShort, expectViolation: true, property: "unique QC per view"),
        .init(model: .hotstuff, defines: ["VOTE_TWICE_IN_VIEW"], name: "vote-twice-in-view", mutant: .voteTwiceInView, expectViolation: true, property: "unique QC per view"),
        .init(model: .hotstuff, defines: ["TWO_CHAIN", "VOTE_TWICE_IN_VIEW"], name: "vote-twice-in-view", mutant: .voteTwiceInView, expectViolation: true, property: "unique QC per view"),
    ]

    /// The configuration `bftsim spec trail --model M --mutant NAME [--two-chain]` means.
    public static func find(model: SpecModel, mutant: String?, twoChain: Bool = false) -> SpecConfiguration? {
        all.first { c in
            c.model == model && c.name == (mutant ?? "honest") && c.defines.contains("TWO_CHAIN") == twoChain
        }
    }
}

/// What SPIN reported for one configuration.
public struct SpecResult: Sendable, Equatable {
    public var configuration: SpecConfiguration
    public var violated: Bool
    /// The first line naming the violation (`assertion violated ...`), if any.
    public var violation: String?
    public var statesStored: Int
    public var depth: Int
    public var memoryMB: Double
    /// pan's own elapsed time, in seconds.
    public var seconds: Double
    /// The trail file (copied next to the output), when violated.
    public var trail: String?
    public var asExpected: Bool { violated == configuration.expectViolation }
}

public enum SpecError: Error, CustomStringConvertible {
    case tool(String)
    public var description: String {
        switch self { case .tool(let s): return s }
    }
}

/// Runs SPIN: `spin -a`, `gcc -O2 -DSAFETY -DCOLLAPSE pan.c`, `./pan -m...`, and `spin -t` for trails.
public enum SpecChecker {
    /// Whether `spin` and `gcc` are on PATH.
    public static var toolsAvailable: Bool { which("spin") != nil && which("gcc") != nil }

    static func which(_ tool: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let p = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// Runs `tool args` in `directory`; returns (status, stdout + stderr).
    @discardableResult
    static func run(_ tool: String, _ args: [String], in directory: String) throws -> (Int32, String) {
        guard let exe = tool.hasPrefix("./") ? directory + "/" + tool.dropFirst(2) : which(tool) else {
            throw SpecError.tool("\(tool) is not on PATH (scripts/setup.sh installs spin and gcc)")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: directory)
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Verifies one configuration in a fresh directory under `work`; a trail is copied to
    /// `trailDirectory/<model>-<name>[-two-chain].trail` when given.
    public static func check(_ c: SpecConfiguration, root: String, work: String, trailDirectory: String? = nil) throws -> SpecResult {
        let dir = "\(work)/\(c.model.rawValue)-\(c.name)-\(c.defines.joined(separator: "_").replacingOccurrences(of: "=", with: ""))"
        let fm = FileManager.default
        try? fm.removeItem(atPath: dir)
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let model = "\(c.model.rawValue).pml"
        try fm.copyItem(atPath: "\(root)/\(c.model.file)", toPath: "\(dir)/\(model)")
        let defs = c.defines.map { "-D\($0)" }
        let (sa, so) = try run("spin", ["-a"] + defs + [model], in: dir)
        guard sa == 0 else { throw SpecError.tool("spin -a \(defs.joined(separator: " ")) \(c.model.file) failed:\n\(so)") }
        let (ga, go) = try run("gcc", ["-O2", "-DSAFETY", "-DCOLLAPSE", "-o", "pan", "pan.c"], in: dir)
        guard ga == 0 else { throw SpecError.tool("gcc pan.c failed:\n\(go)") }
        let (_, out) = try run("./pan", ["-m1000000"], in: dir)
        var r = parsePan(out, configuration: c)
        if r.violated, fm.fileExists(atPath: "\(dir)/\(model).trail") {
            if let trailDirectory {
                try? fm.createDirectory(atPath: trailDirectory, withIntermediateDirectories: true)
                let dest = "\(trailDirectory)/\(trailName(c))"
                try? fm.removeItem(atPath: dest)
                try fm.copyItem(atPath: "\(dir)/\(model).trail", toPath: dest)
                r.trail = dest
            } else {
                r.trail = "\(dir)/\(model).trail"
            }
        }
        return r
    }

    public static func trailName(_ c: SpecConfiguration) -> String {
        "\(c.model.rawValue)-\(c.name)\(c.defines.contains("TWO_CHAIN") ? "-two-chain" : "").trail"
    }

    static func number(after marker: String, in text: String, backwards: Bool = false) -> Double? {
        for line in text.split(separator: "\n") where line.contains(marker) {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," })
            if backwards {
                // "   37322 states, stored"
                if let v = parts.first.flatMap({ Double($0) }) { return v }
            } else if let i = parts.firstIndex(where: { marker.hasSuffix(String($0)) }), i + 1 < parts.count {
                if let v = Double(parts[i + 1]) { return v }
            }
        }
        return nil
    }

    static func parsePan(_ out: String, configuration c: SpecConfiguration) -> SpecResult {
        let errors = out.split(separator: "\n").first { $0.contains("errors:") }.flatMap { line in
            Int(line.split(separator: " ").last.map(String.init) ?? "")
        } ?? -1
        let violation = out.split(separator: "\n").first { $0.contains("violated") || $0.contains("invalid end state") }.map(String.init)
        let states = Int(number(after: "states, stored", in: out, backwards: true) ?? -1)
        let depth = Int(number(after: "depth reached", in: out) ?? -1)
        let memory = number(after: "total actual memory usage", in: out, backwards: true) ?? -1
        let seconds = number(after: "elapsed time", in: out) ?? 0
        return SpecResult(configuration: c, violated: errors != 0, violation: violation, statesStored: states, depth: depth,
                          memoryMB: memory, seconds: seconds, trail: nil)
    }

    /// The `EV ...` lines SPIN prints replaying `trail` against the model with the configuration's switches.
    public static func events(trail: String, configuration c: SpecConfiguration, root: String, work: String) throws -> [String] {
        let fm = FileManager.default
        let dir = "\(work)/replay-\(c.model.rawValue)"
        try? fm.removeItem(atPath: dir)
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try fm.copyItem(atPath: "\(root)/\(c.model.file)", toPath: "\(dir)/\(c.model.rawValue).pml")
        try fm.copyItem(atPath: trail, toPath: "\(dir)/model.trail")
        let defs = c.defines.map { "-D\($0)" }
        let (status, out) = try run("spin", ["-t", "-k", "model.trail"] + defs + ["\(c.model.rawValue).pml"], in: dir)
        guard status == 0 else { throw SpecError.tool("spin -t failed:\n\(out)") }
        return out.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.hasPrefix("EV ") }
    }

    /// The table `bftsim spec check` prints (fixed columns, configuration order).
    public static func table(_ results: [SpecResult]) -> String {
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        var lines = [pad("model", 10) + pad("switch", 52) + pad("expected", 10) + pad("verdict", 10) + pad("states", 10) + pad("depth", 7) + pad("memory", 10) + "time"]
        for r in results {
            let c = r.configuration
            let model = c.model == .hotstuff && c.defines.contains("TWO_CHAIN") ? "hs-2chain" : (c.model == .hotstuff ? "hs-3chain" : "pbft")
            let verdict = r.violated ? "violated" : "verified"
            lines.append(pad(model, 10) + pad(c.switchLabel, 52) + pad(c.expectViolation ? "violated" : "verified", 10)
                         + pad(verdict + (r.asExpected ? "" : "!"), 10) + pad(String(r.statesStored), 10) + pad(String(r.depth), 7)
                         + pad(String(format: "%.1fMB", r.memoryMB), 10) + String(format: "%.2fs", r.seconds))
        }
        return lines.joined(separator: "\n")
    }
}
