import Foundation
import RunRecords

/// `campaign.json`: everything except `timing` is a function of the config and the run indices.
public struct CampaignResult: Codable, Sendable, Equatable {
    public var config: FuzzConfig
    /// "K/N" for one shard's output; nil for a whole or merged campaign.
    public var shard: String?
    /// Shards merged into this result (empty unless merged).
    public var mergedShards: [String]
    public var runs: Int
    public var overThresholdRuns: Int
    public var invalidRuns: Int
    public var failingRuns: Int
    /// Violations not counted as bugs (over-threshold runs, liveness where none is promised).
    public var excusedViolations: Int
    public var failuresByKind: [String: Int]
    public var signatures: [SignatureRecord]
    public var coverage: CoverageSummary
    public var timing: CampaignTiming?

    public var meanStatesPerRun: Double { runs == 0 ? 0 : Double(coverage.stateVisits) / Double(runs) }
    /// Runs to the first failure of `kind` (first failing index + 1), if any.
    public func runsToFirstFailure(_ kind: String) -> Int? {
        signatures.filter { $0.kind == kind }.map(\.firstRun).min().map { $0 + 1 }
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted]
        e.keyEncodingStrategy = .convertToSnakeCase
        return e
    }()
    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }()

    public func json() -> String { String(decoding: try! Self.encoder.encode(self), as: UTF8.self) + "\n" }
    /// The deterministic part (no timing), for comparing campaigns.
    public var withoutTiming: CampaignResult { var c = self; c.timing = nil; return c }

    public static func load(directory: String) throws(FuzzError) -> CampaignResult {
        let path = directory + "/campaign.json"
        guard let data = FileManager.default.contents(atPath: path) else { throw .io("\(path): cannot read") }
        do { return try decoder.decode(CampaignResult.self, from: data) } catch { throw .io("\(path): \(error)") }
    }
}

/// Which run first reached each coverage state (`coverage.json`), so shards merge exactly.
public struct CoverageMap: Codable, Sendable, Equatable {
    /// (state, first run index) pairs sorted by state.
    public var firstReach: [[UInt64]]

    public init(_ map: [UInt64: Int]) { firstReach = map.keys.sorted().map { [$0, UInt64(map[$0]!)] } }
    public var dictionary: [UInt64: Int] {
        var d: [UInt64: Int] = [:]
        for p in firstReach where p.count == 2 { d[p[0]] = Int(p[1]) }
        return d
    }

    /// Distinct states after runs `0..<x`, sampled at about 32 points up to `runs`.
    public static func growth(_ map: [UInt64: Int], runs: Int) -> [[Int]] {
        guard runs > 0 else { return [] }
        let firsts = map.values.sorted()
        let step = max(1, (runs + 31) / 32)
        var out: [[Int]] = []
        var i = 0
        var x = step
        while true {
            let bound = min(x, runs)
            while i < firsts.count, firsts[i] < bound { i += 1 }
            out.append([bound, i])
            if bound == runs { break }
            x += step
        }
        return out
    }
}
