import BFTCore
import ScenarioFormat

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why the network did not deliver a message.
public enum DropReason: String, Sendable, CaseIterable {
    case loss
    case partition
    case crashed
    /// A scripted message-level fault (timeline `message_fault`).
    case fault
}

/// The fate of one send, decided at send time: dropped, or delivered after one or two delays.
struct SendOutcome {
    var drop: DropReason?
    var delay: Nanoseconds = 0
    /// Delay of a duplicate copy, when the network duplicated the message.
    var duplicateDelay: Nanoseconds?
}

/// Per-directed-link network state: latency, loss, duplication, jitter, partitions, cut links, GST.
///
/// Endpoints are indexed like machines: replicas `0..<n`, then clients `n + clientID`. Link
/// overrides, partitions and cut links concern replica-to-replica links only; links with a client
/// endpoint use the default latency and loss.
///
/// All randomness comes from one stream, drawn in a fixed order per send (loss, delay, jitter,
/// duplication, duplicate delay, duplicate jitter), so a run replays exactly.
struct NetworkModel {
    /// Latency samples are clamped to this (about 3 years) so Double → Int64 never traps.
    static let delayMax: Nanoseconds = 1 << 56

    let replicaCount: Int
    var rng: DeterministicRNG
    /// The scenario's network as it stands: duplication, jitter and `delayMaxAfterGST` as given; `latency`
    /// and `loss` are what links with a client endpoint use, changed by timeline events for all links.
    var spec: NetworkSpec
    /// `spec.gst`, or never.
    let gst: Nanoseconds
    /// Replica links, row-major `from * n + to`.
    private var latency: [LatencyDistribution]
    private var loss: [Double]
    private var cut: [Bool]
    /// Partition group of each replica; replicas in different groups cannot talk.
    private var group: [Int]
    /// True while any partition or cut is in force (fast path when false).
    private var hasFaults = false

    init(spec: NetworkSpec, replicaCount n: Int, seed: UInt64) {
        replicaCount = n
        rng = DeterministicRNG(seed: seed, stream: "network")
        self.spec = spec
        gst = spec.gst ?? Nanoseconds.max
        latency = Array(repeating: spec.latency, count: n * n)
        loss = Array(repeating: spec.loss, count: n * n)
        cut = Array(repeating: false, count: n * n)
        group = Array(repeating: 0, count: n)
        for link in spec.links where link.from < n && link.to < n && link.from >= 0 && link.to >= 0 {
            if let l = link.latency { latency[link.from * n + link.to] = l }
            if let p = link.loss { loss[link.from * n + link.to] = p }
        }
    }

    // MARK: Deciding a send

    /// Whether a partition or cut link currently blocks `from → to` (both endpoint indices).
    /// Timeline partitions apply before and after GST alike: they are explicit faults.
    @inline(__always)
    func isBlocked(from: Int, to: Int, at now: Nanoseconds) -> Bool {
        guard hasFaults, from < replicaCount, to < replicaCount, from != to else { return false }
        if group[from] != group[to] { return true }
        return cut[from * replicaCount + to]
    }

    /// Decides the fate of one message sent at `now` (partition, loss, delays). Draws from the network stream.
    mutating func decide(from: Int, to: Int, at now: Nanoseconds) -> SendOutcome {
        if from == to { return SendOutcome(delay: 0) }  // loopback: immediate, never lost
        if isBlocked(from: from, to: to, at: now) { return SendOutcome(drop: .partition) }
        let isReplicaLink = from < replicaCount && to < replicaCount
        let index = from * replicaCount + to
        let beforeGST = now < gst
        if beforeGST {
            let p = isReplicaLink ? loss[index] : spec.loss
            if rng.chance(p) { return SendOutcome(drop: .loss) }
        }
        let distribution = isReplicaLink ? latency[index] : spec.latency
        var outcome = SendOutcome(delay: sampleDelay(distribution, beforeGST: beforeGST))
        if beforeGST, rng.chance(spec.duplication) {
            outcome.duplicateDelay = sampleDelay(distribution, beforeGST: beforeGST)
        }
        return outcome
    }

    private mutating func sampleDelay(_ distribution: LatencyDistribution, beforeGST: Bool) -> Nanoseconds {
        var delay = NetworkModel.sample(distribution, &rng)
        if spec.jitter > 0 { delay += Nanoseconds(rng.below(UInt64(spec.jitter) + 1)) }
        if !beforeGST { delay = min(delay, max(1, spec.delayMaxAfterGST)) }
        return delay
    }

    /// One latency sample, at least 1 ns.
    static func sample(_ distribution: LatencyDistribution, _ rng: inout DeterministicRNG) -> Nanoseconds {
        switch distribution {
        case .constant(let c):
            return max(1, c)
        case .uniform(let lo, let hi):
            guard hi > lo else { return max(1, lo) }
            return max(1, lo + Nanoseconds(rng.below(UInt64(hi - lo) + 1)))
        case .normal(let mean, let stddev):
            return clamp(Double(mean) + Double(stddev) * rng.standardNormal())
        case .exponential(let mean):
            return clamp(rng.exponential(mean: Double(mean)))
        case .lognormal(let median, let sigma):
            return clamp(Double(median) * exp(sigma * rng.standardNormal()))
        }
    }

    @inline(__always)
    static func clamp(_ x: Double) -> Nanoseconds {
        guard x.isFinite else { return x > 0 ? delayMax : 1 }
        if x < 1 { return 1 }
        if x > Double(delayMax) { return delayMax }
        return Nanoseconds(x.rounded())
    }

    // MARK: Faults

    /// Symmetric partition; replicas not listed form one more group.
    mutating func partition(groups: [[Int]]) {
        for r in 0..<replicaCount { group[r] = groups.count }
        for (g, members) in groups.enumerated() {
            for r in members where r >= 0 && r < replicaCount { group[r] = g }
        }
        hasFaults = true
    }

    /// Cuts every link between `replica` and the others, both ways.
    mutating func isolate(_ replica: Int) {
        guard replica >= 0, replica < replicaCount else { return }
        for other in 0..<replicaCount where other != replica {
            cut[replica * replicaCount + other] = true
            cut[other * replicaCount + replica] = true
        }
        hasFaults = true
    }

    mutating func cutLink(from: Int, to: Int, oneWay: Bool) {
        guard from >= 0, from < replicaCount, to >= 0, to < replicaCount else { return }
        cut[from * replicaCount + to] = true
        if !oneWay { cut[to * replicaCount + from] = true }
        hasFaults = true
    }

    /// Removes every partition and cut link (latency and loss changes stay).
    mutating func heal() {
        for i in cut.indices { cut[i] = false }
        for r in group.indices { group[r] = 0 }
        hasFaults = false
    }

    /// Replica links matching `from`/`to` (nil matches any), in row-major order.
    private func links(from: Int?, to: Int?) -> [Int] {
        var out: [Int] = []
        for a in 0..<replicaCount where from == nil || from == a {
            for b in 0..<replicaCount where to == nil || to == b { out.append(a * replicaCount + b) }
        }
        return out
    }

    /// Changes latency of one directed link, of links from/to one replica, or of all (then the
    /// default used by client links changes too).
    mutating func setLatency(from: Int?, to: Int?, _ distribution: LatencyDistribution) {
        for i in links(from: from, to: to) { latency[i] = distribution }
        if from == nil && to == nil { spec.latency = distribution }
    }

    mutating func setLoss(from: Int?, to: Int?, _ p: Double) {
        for i in links(from: from, to: to) { loss[i] = p }
        if from == nil && to == nil { spec.loss = p }
    }
}
