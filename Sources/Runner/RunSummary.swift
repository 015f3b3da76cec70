import BFTCore
import BFTCrypto
import Checkers
import Foundation
import Histogram
import ScenarioFormat
import Simulation

import RunRecords

extension RunSummary {
    /// The summary of a finished run (`summary.json`): a function of the scenario and seed only.
    public init(outcome o: RunOutcome, file: String?) {
        self.init()
        let s = o.scenario
        scenario = s.name
        self.file = file
        protocolName = s.protocolKind.rawValue
        replicas = s.replicas
        f = s.f
        seed = s.seed
        status = o.status.label
        exitCode = o.status.rawValue
        expect = s.expect
        safety = o.safety.rawValue
        liveness = o.liveness.rawValue
        // Checks over HotStuff's own observations are listed for HotStuff runs (or when they fired).
        let chainKinds: Set<ViolationKind> = [.conflictingCertificates, .chain, .lockRegression, .doubleVote]
        let isHotStuff = s.protocolKind != .pbft
        checks = ViolationKind.allCases.filter { kind in
            isHotStuff || !chainKinds.contains(kind) || o.checks.violations.contains { $0.kind == kind }
        }.map { kind in
            let v = o.checks.violations.first { $0.kind == kind }
            return Check(name: kind.rawValue, verdict: v == nil ? "holds" : "violated", time: v?.time, eventIndex: v?.eventIndex, message: v?.message)
        }
        requestsIssued = o.checks.issuedRequests
        requestsCompleted = o.checks.completedRequests
        batchesCommitted = o.checks.committedBatches
        simDurationNs = o.simulation.endTime
        let seconds = Double(o.simulation.endTime) / 1e9
        throughputPerSimSecond = seconds > 0 ? (Double(requestsCompleted) / seconds * 10).rounded() / 10 : 0
        latencyNs = RunSummary.latency(o.checks.latency)
        messages = o.simulation.messagesByType.map { MessageCount(type: $0.type, sent: $0.sent, delivered: $0.delivered) }
        messagesSent = o.simulation.messagesSent
        messagesDelivered = o.simulation.messagesDelivered
        let drops = o.simulation.messagesDropped
        messagesDropped = Dictionary(uniqueKeysWithValues: DropReason.allCases.compactMap { r in drops[r] > 0 ? (r.rawValue, drops[r]) : nil })
        viewChanges = o.viewChangesStarted
        highestView = o.highestView
        crypto = Crypto(scheme: s.crypto.rawValue, signed: o.crypto.signed, verifyRequests: o.crypto.verifyRequests,
                        verified: o.crypto.verified, cacheHits: o.crypto.cacheHits, failures: o.crypto.failures)
        rejected = Dictionary(uniqueKeysWithValues: o.rejected.map { ($0.key.rawValue, $0.value) })
        events = o.simulation.eventsProcessed
        traceHash = o.simulation.traceHash.hex
        diagnosis = o.checks.diagnosis.map(\.summary)
        replay = RunSummary.replayCommand(file: file, seed: s.seed)
        adaptiveArms = o.adaptiveArms
    }

    public static func replayCommand(file: String?, seed: UInt64) -> String {
        "bftsim run \(file ?? "SCENARIO.yaml") --seed \(seed)"
    }

    static func latency(_ l: LatencyRecord) -> Latency? {
        guard l.count > 0 else { return nil }
        let h = l.histogram
        return Latency(count: l.count, p50: Int64(h.valueAtPercentile(50)), p90: Int64(h.valueAtPercentile(90)),
                       p99: Int64(h.valueAtPercentile(99)), max: Int64(h.max), mean: l.sum / Int64(l.count))
    }

    /// The human summary printed by `bftsim run`.
    public func text() -> String {
        var out: [String] = []
        out.append("scenario  \(scenario)  (\(protocolName), n=\(replicas), f=\(f), seed=\(seed), crypto=\(crypto?.scheme ?? "?"))")
        out.append("outcome   \(status.uppercased())  safety: \(safety) (expected \(expect.safety.rawValue)), liveness: \(liveness) (expected \(expect.liveness.rawValue))")
        for c in checks {
            var line = "  \(c.verdict == "holds" ? "ok  " : "FAIL") \(c.name.padding(toLength: 24, withPad: " ", startingAt: 0))"
            if let m = c.message, let t = c.time, let i = c.eventIndex { line += " at \(formatNanos(t)) (event \(i)): \(m)" }
            out.append(line)
        }
        out.append("requests  \(requestsCompleted)/\(requestsIssued) completed, \(batchesCommitted) batches committed, sim time \(formatNanos(simDurationNs)), \(throughputPerSimSecond) req/s (sim)")
        if let l = latencyNs {
            out.append("latency   p50 \(formatNanos(l.p50))  p90 \(formatNanos(l.p90))  p99 \(formatNanos(l.p99))  max \(formatNanos(l.max))  (sim time)")
        }
        let dropped = messagesDropped.keys.sorted().map { "\($0) \(messagesDropped[$0]!)" }.joined(separator: ", ")
        out.append("messages  \(messagesSent) sent, \(messagesDelivered) delivered\(dropped.isEmpty ? "" : ", dropped: \(dropped)")")
        out.append("          " + messages.map { "\($0.type) \($0.sent)" }.joined(separator: "  "))
        out.append("views     highest view \(highestView); \(viewChanges) view changes/timeouts started by correct replicas")
        if let crypto {
            out.append("crypto    \(crypto.signed) signed, \(crypto.verifyRequests) verifications (\(crypto.verified) computed, \(crypto.cacheHits) cached, \(crypto.failures) failed)")
        }
        if let rejected, !rejected.isEmpty {
            out.append("rejected  " + rejected.keys.sorted().map { "\($0) \(rejected[$0]!)" }.joined(separator: ", "))
        }
        if !diagnosis.isEmpty {
            out.append("diagnosis (liveness):")
            for d in diagnosis { out.append("  \(d)") }
        }
        if let arms = adaptiveArms {
            let changes = zip(arms, arms.dropFirst()).filter { $0 != $1 }.count
            out.append("adaptive  \(arms.count) epochs, \(changes) arm changes; arm per epoch: \(arms.prefix(64).map(String.init).joined(separator: " "))\(arms.count > 64 ? " ..." : "")")
        }
        out.append("trace     \(events) events, hash \(traceHash.prefix(16))")
        if exitCode != 0 || safety == "violated" || liveness == "violated" {
            out.append("replay    \(replay)")
        }
        return out.joined(separator: "\n")
    }

    public func markdown() -> String {
        var facts = [("protocol", "\(protocolName), n=\(replicas), f=\(f)"), ("seed", "\(seed)"), ("outcome", "**\(status)** (exit \(exitCode))"),
                     ("safety", "\(safety) (expected \(expect.safety.rawValue))"), ("liveness", "\(liveness) (expected \(expect.liveness.rawValue))"),
                     ("requests", "\(requestsCompleted)/\(requestsIssued) completed"), ("sim time", formatNanos(simDurationNs)),
                     ("throughput", "\(throughputPerSimSecond) req/s (sim)")]
        if let l = latencyNs {
            facts.append(("latency", "p50 \(formatNanos(l.p50)), p90 \(formatNanos(l.p90)), p99 \(formatNanos(l.p99)), max \(formatNanos(l.max))"))
        }
        facts.append(("view changes", "\(viewChanges) (highest view \(highestView))"))
        if let arms = adaptiveArms { facts.append(("adaptive arms per epoch", arms.map(String.init).joined(separator: " "))) }
        if let crypto { facts.append(("signatures", "\(crypto.signed) made, \(crypto.verified) verified, \(crypto.cacheHits) cache hits")) }
        facts.append(("replay", "`\(replay)`"))
        var md = "# \(scenario)\n\n" + markdownFacts(facts)
        md += "\n## Checks\n\n| check | verdict | first violation |\n|---|---|---|\n"
        for c in checks {
            md += "| \(c.name) | \(c.verdict) | \(c.message.map { "\($0) (t=\(formatNanos(c.time ?? 0)), event \(c.eventIndex ?? 0))" } ?? "") |\n"
        }
        md += "\n## Messages\n\n| type | sent | delivered |\n|---|---|---|\n"
        for m in messages { md += "| \(m.type) | \(m.sent) | \(m.delivered) |\n" }
        if !diagnosis.isEmpty {
            md += "\n## Liveness diagnosis\n\n"
            for d in diagnosis { md += "- \(d)\n" }
        }
        return md
    }
}
