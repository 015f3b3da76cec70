import BFTCore
import Checkers
import ScenarioFormat

/// Delta debugging (Zeller & Hildebrandt, TSE'02) over a failing scenario, keeping the violation kind.
///
/// Passes, repeated until none makes progress: ddmin over timeline events, ddmin over Byzantine
/// replicas, a quiet network (no loss, duplication, jitter, link overrides; constant latency), a
/// smaller workload, a shorter run, and a smaller n (3f'+1 for smaller f', when every fault still
/// names a replica that exists). Each candidate is simulated; the number of simulations is bounded.
public struct Shrinker {
    public var mutant: TestMutant?
    public var kind: ViolationKind
    /// Simulations allowed in total.
    public var attemptsMax: Int
    public private(set) var attempts = 0

    public init(kind: ViolationKind, mutant: TestMutant?, attemptsMax: Int = 400) {
        self.kind = kind
        self.mutant = mutant
        self.attemptsMax = attemptsMax
    }

    /// Whether `s` still fails with the same kind (as a bug, not an excused violation).
    public mutating func fails(_ s: Scenario) -> Bool {
        guard attempts < attemptsMax else { return false }
        attempts += 1
        return FuzzRun.run(s, mutant: mutant, coverage: false).bug?.kind == kind
    }

    public mutating func shrink(_ original: Scenario) -> Scenario {
        var best = original
        var progress = true
        while progress, attempts < attemptsMax {
            progress = false
            let before = (FuzzRun.faultEventCount(best), best.stop.timeLimit, best.replicas, workloadSize(best))
            best = ddmin(best, items: best.timeline, set: { $0.timeline = $1 })
            best = ddmin(best, items: best.byzantine, set: { $0.byzantine = $1 })
            best = attempt(best) { $0.parameters.leaderSchedule = nil }
            best = quietNetwork(best)
            best = smallerWorkload(best)
            best = shorterRun(best)
            best = fewerReplicas(best)
            let after = (FuzzRun.faultEventCount(best), best.stop.timeLimit, best.replicas, workloadSize(best))
            progress = after != before
        }
        return best
    }

    func workloadSize(_ s: Scenario) -> Int { s.workload.clients * (s.workload.requestsPerClient ?? 1000) }

    /// ddmin: the smallest subset (1-minimal w.r.t. the tests tried) of `items` that keeps failing.
    mutating func ddmin<T>(_ s: Scenario, items: [T], set: (inout Scenario, [T]) -> Void) -> Scenario {
        var current = items
        var granularity = 2
        func with(_ subset: [T]) -> Scenario { var c = s; set(&c, subset); return c }
        if !current.isEmpty, fails(with([])) { return with([]) }
        while current.count >= 2, attempts < attemptsMax {
            let chunk = (current.count + granularity - 1) / granularity
            let chunks = stride(from: 0, to: current.count, by: chunk).map { Array(current[$0..<min($0 + chunk, current.count)]) }
            var reduced = false
            for c in chunks where fails(with(c)) {
                current = c
                granularity = 2
                reduced = true
                break
            }
            if !reduced {
                for i in chunks.indices {
                    let complement = chunks.enumerated().filter { $0.offset != i }.flatMap(\.element)
                    if fails(with(complement)) {
                        current = complement
                        granularity = max(granularity - 1, 2)
                        reduced = true
                        break
                    }
                }
            }
            if !reduced {
                if granularity >= current.count { break }
                granularity = min(current.count, granularity * 2)
            }
        }
        return with(current)
    }

    mutating func attempt(_ s: Scenario, _ change: (inout Scenario) -> Void) -> Scenario {
        var c = s
        change(&c)
        return c != s && fails(c) ? c : s
    }

    mutating func quietNetwork(_ s: Scenario) -> Scenario {
        var best = s
        best = attempt(best) { $0.network.loss = 0; $0.network.duplication = 0; $0.network.jitter = 0; $0.network.links = [] }
        best = attempt(best) { $0.network.loss = 0 }
        best = attempt(best) { $0.network.duplication = 0 }
        best = attempt(best) { $0.network.jitter = 0 }
        best = attempt(best) { $0.network.links = [] }
        best = attempt(best) { $0.network.latency = .constant(nanosPerMillisecond) }
        return best
    }

    mutating func smallerWorkload(_ s: Scenario) -> Scenario {
        var best = attempt(s) { $0.workload.clients = 1 }
        while let r = best.workload.requestsPerClient, r > 1, attempts < attemptsMax {
            let next = attempt(best) { $0.workload.requestsPerClient = r / 2 }
            if next == best { break }
            best = next
        }
        return best
    }

    mutating func shorterRun(_ s: Scenario) -> Scenario {
        var best = s
        let floor = max(100 * nanosPerMillisecond, (best.timeline.map(\.at).max() ?? 0) + 1)
        while best.stop.timeLimit / 2 >= floor, attempts < attemptsMax {
            let next = attempt(best) { $0.stop.timeLimit /= 2 }
            if next == best { break }
            best = next
        }
        return best
    }

    mutating func fewerReplicas(_ s: Scenario) -> Scenario {
        var best = s
        var f = best.f - 1
        while f >= 1, attempts < attemptsMax {
            let n = 3 * f + 1
            var c = best
            c.replicas = n
            c.f = f
            guard Self.referencedReplicas(c).allSatisfy({ $0 < n }) else { f -= 1; continue }
            if fails(c) { best = c }
            f -= 1
        }
        return best
    }

    static func referencedReplicas(_ s: Scenario) -> [Int] {
        // Every field that names a replica, Byzantine targets and scripted recipients included (a shrunk
        // file that names a removed replica does not parse, so it would not replay).
        var ids = s.byzantine.map(\.replica) + s.byzantine.flatMap { $0.targets ?? [] }
            + s.byzantine.flatMap { ($0.script ?? []).flatMap(\.to) }
            + (s.parameters.leaderSchedule ?? []) + s.network.links.flatMap { [$0.from, $0.to] }
        for e in s.timeline {
            switch e.action {
            case .partition(let groups): ids += groups.flatMap { $0 }
            case .isolate(let r), .crash(let r): ids.append(r)
            case .restart(let r, _), .storageFault(let r, _): ids.append(r)
            case .messageFault(let m): ids += [m.from, m.to].compactMap { $0 }
            case .cutLink(let a, let b, _): ids += [a, b]
            case .setLatency(let a, let b, _), .setLoss(let a, let b, _): ids += [a, b].compactMap { $0 }
            default: break  // .heal, and actions that name no replica
            }
        }
        return ids
    }
}
