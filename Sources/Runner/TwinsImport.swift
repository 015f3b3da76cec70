import BFTCore
import Foundation
import ScenarioFormat

/// Reads the JSON the public Twins generator emits (Bano et al., OPODIS'21; the Libra/Diem
/// `twins-generator` format) and turns each of its scenarios into a bftsim scenario, unchanged:
///
///     {"num_of_nodes": 4, "num_of_twins": 1,
///      "scenarios": [{"round_leaders": {"1": 0, "2": 4},
///                     "round_partitions": {"1": [[0, 1, 2, 3], [4]], "2": [[0, 1, 2, 4], [3]]}}]}
///
/// Nodes `0..<num_of_nodes` are the replicas and node `num_of_nodes + k` is the twin of replica k
/// (the generator twins the first `num_of_twins` replicas). A leader given as a twin node names its
/// replica id (both instances lead that round). Rounds are views; a round the file skips keeps the
/// previous round's partition (round 0 takes the first listed one) and leader round-robin; after the
/// last listed round its partition stays in force.
public enum TwinsImport {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The scenarios of `json`, each built on `base` (protocol, workload, time limit, seed).
    public static func scenarios(fromJSON data: Data, file: String, base: Scenario) throws -> [Scenario] {
        func fail(_ what: String) -> Failure { Failure(description: "\(file): \(what)") }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw fail("expected a JSON object with num_of_nodes, num_of_twins and scenarios")
        }
        guard let n = root["num_of_nodes"] as? Int, n >= 1, n <= 1024 else { throw fail("num_of_nodes must be an integer in 1...1024") }
        guard let t = root["num_of_twins"] as? Int, t >= 0, t <= n else { throw fail("num_of_twins must be an integer in 0...num_of_nodes") }
        guard let list = root["scenarios"] as? [[String: Any]] else { throw fail("scenarios must be a list of objects") }
        var out: [Scenario] = []
        for (i, entry) in list.enumerated() {
            let at = "scenarios[\(i)]"
            var leadersByRound: [Int: Int] = [:]
            for (key, value) in entry["round_leaders"] as? [String: Any] ?? [:] {
                guard let round = Int(key), round >= 0, let node = value as? Int, node >= 0, node < n + t else {
                    throw fail("\(at).round_leaders: \"\(key)\": expected a round number and a node in 0..<\(n + t)")
                }
                leadersByRound[round] = node >= n ? node - n : node
            }
            var partitionsByRound: [Int: [[Int]]] = [:]
            for (key, value) in entry["round_partitions"] as? [String: Any] ?? [:] {
                guard let round = Int(key), round >= 0, let groups = value as? [[Int]],
                      groups.allSatisfy({ $0.allSatisfy { $0 >= 0 && $0 < n + t } }) else {
                    throw fail("\(at).round_partitions: \"\(key)\": expected a round number and groups of nodes in 0..<\(n + t)")
                }
                partitionsByRound[round] = groups
            }
            let lastRound = max(leadersByRound.keys.max() ?? 0, partitionsByRound.keys.max() ?? 0)
            var leaders: [Int] = []
            var partitions: [[[Int]]] = []
            var current = partitionsByRound.keys.min().flatMap { partitionsByRound[$0] } ?? [Array(0..<(n + t))]
            for round in 0...lastRound {
                leaders.append(leadersByRound[round] ?? round % n)
                if let p = partitionsByRound[round] { current = p }
                partitions.append(current)
            }
            var s = base
            s.name = "\(base.name)-\(i)"
            s.description = "Twins scenario \(i) of \(file) (\(n) nodes, \(t) twins)."
            s.replicas = n
            s.f = QuorumMath.maxFaulty(n: n)
            s.twins = TwinsSpec(replicas: Array(0..<t), roundLeaders: leaders.isEmpty ? nil : leaders,
                                roundPartitions: partitions)
            out.append(s)
        }
        return out
    }
}
