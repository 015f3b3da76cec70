import Foundation
import RunRecords

/// `campaign.json` as the fuzzer writes it (`CampaignRecord`, defined once in RunRecords).
public typealias CampaignResult = CampaignRecord<FuzzConfig>

/// The JSON coding of campaign files: sorted snake_case keys, pretty-printed.
enum CampaignJSON {
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
}

extension CampaignRecord where Config == FuzzConfig {
    public var meanStatesPerRun: Double { runs == 0 ? 0 : Double(coverage.stateVisits) / Double(runs) }
    /// Runs to the first failure of `kind` (first failing index + 1), if any.
    public func runsToFirstFailure(_ kind: String) -> Int? {
        signatures.filter { $0.kind == kind }.map(\.firstRun).min().map { $0 + 1 }
    }

    public func json() -> String { String(decoding: try! CampaignJSON.encoder.encode(self), as: UTF8.self) + "\n" }
    /// The deterministic part (no timing), for comparing campaigns.
    public var withoutTiming: CampaignResult { var c = self; c.timing = nil; return c }

    public static func load(directory: String) throws(FuzzError) -> CampaignResult {
        let path = directory + "/campaign.json"
        guard let data = FileManager.default.contents(atPath: path) else { throw .io("\(path): cannot read") }
        do { return try CampaignJSON.decoder.decode(CampaignResult.self, from: data) } catch { throw .io("\(path): \(error)") }
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
