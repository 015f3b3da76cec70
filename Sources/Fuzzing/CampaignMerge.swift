import RunRecords
import Foundation
import ScenarioFormat

/// Merges shard outputs (`bftsim fuzz merge DIR…`) into one campaign: counts add up, each signature
/// keeps its earliest run (and that shard's files), coverage keeps each state's earliest run. For the
/// random and twins strategies the merge of shards 0/N…N-1/N equals the unsharded campaign.
public enum CampaignMerge {
    public static func merge(_ dirs: [String], out: String) throws(FuzzError) -> CampaignResult {
        guard !dirs.isEmpty else { throw .invalid("merge needs at least one campaign directory") }
        var parts: [(String, CampaignResult)] = []
        for d in dirs { parts.append((d, try CampaignResult.load(directory: d))) }
        let config = parts[0].1.config
        for (d, p) in parts where p.config != config {
            throw .invalid("\(d)/campaign.json: config differs from \(parts[0].0)/campaign.json (merge shards of one campaign)")
        }
        var merged = CampaignResult(config: config, mergedShards: parts.compactMap { $0.1.shard }.sorted())
        var sigs: [String: (SignatureRecord, String)] = [:]
        var reach: [UInt64: Int] = [:]
        var elapsed = 0.0
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: out + "/failures", withIntermediateDirectories: true) } catch { throw .io("\(out): \(error)") }
        for (d, p) in parts {
            merged.runs += p.runs
            merged.overThresholdRuns += p.overThresholdRuns
            merged.invalidRuns += p.invalidRuns
            merged.failingRuns += p.failingRuns
            merged.excusedViolations += p.excusedViolations
            merged.coverage.stateVisits += p.coverage.stateVisits
            for (k, v) in p.failuresByKind { merged.failuresByKind[k, default: 0] += v }
            for r in p.signatures {
                if let (old, dir) = sigs[r.signature] {
                    var keep = r.firstRun < old.firstRun ? r : old
                    keep.count = old.count + r.count
                    sigs[r.signature] = (keep, r.firstRun < old.firstRun ? d : dir)
                } else {
                    sigs[r.signature] = (r, d)
                }
            }
            if let data = fm.contents(atPath: d + "/coverage.json"), let map = try? CampaignJSON.decoder.decode(CoverageMap.self, from: data) {
                for (s, i) in map.dictionary { reach[s] = min(reach[s] ?? .max, i) }
            }
            elapsed = max(elapsed, p.timing?.elapsedSeconds ?? 0)
            // Every saved failing scenario (file names are run indices, so shards never collide).
            if let files = try? fm.contentsOfDirectory(atPath: d + "/failures") {
                for f in files.sorted() where !f.hasSuffix(".shrunk.yaml") { copy(d + "/failures/" + f, out + "/failures/" + f) }
            }
        }
        for (r, d) in sigs.values {
            if let f = r.shrunkFile { copy(d + "/" + f, out + "/" + f) }
        }
        merged.signatures = sigs.values.map(\.0).sorted { ($0.firstRun, $0.signature) < ($1.firstRun, $1.signature) }
        merged.coverage.distinctStates = reach.count
        merged.coverage.growth = CoverageMap.growth(reach, runs: merged.runs)
        merged.timing = CampaignTiming(runs: merged.runs, elapsedSeconds: elapsed, jobs: nil, shrinkSeconds: 0)
        do {
            try CampaignJSON.encoder.encode(CoverageMap(reach)).write(to: URL(fileURLWithPath: out + "/coverage.json"))
            try merged.json().write(toFile: out + "/campaign.json", atomically: true, encoding: .utf8)
            try CampaignMarkdown.render(merged).write(toFile: out + "/campaign.md", atomically: true, encoding: .utf8)
        } catch {
            throw .io("\(out): \(error)")
        }
        return merged
    }

    static func copy(_ from: String, _ to: String) {
        let fm = FileManager.default
        guard from != to, fm.fileExists(atPath: from) else { return }
        try? fm.removeItem(atPath: to)
        try? fm.copyItem(atPath: from, toPath: to)
    }
}

/// `campaign.md`: the campaign at a glance.
public enum CampaignMarkdown {
    public static func render(_ r: CampaignResult) -> String {
        let c = r.config
        var md = ["# Fuzz campaign: \(c.protocolKind.rawValue), strategy \(c.strategy.rawValue)", ""]
        md.append("- seed \(c.seed), n=\(c.replicasText) (f=\(c.f) at n=\(c.replicas)), Byzantine budget \(c.byzantineBudget), crash budget \(c.crashBudget)"
                  + (c.withinF ? " (each at most f of the run's n, at most f faulty in all)" : "")
                  + (c.budgetExceedsThreshold ? " (over threshold: runs with more than f faulty replicas are labelled, not reported)" : ""))
        md.append("- fault classes: \(c.faultClasses.joined(separator: ", ")); run length \(ScenarioLoader.formatDuration(c.duration)); crypto \(c.crypto.rawValue)")
        if let m = c.mutant { md.append("- **test-only mutant**: `\(m.rawValue)`") }
        if let s = r.shard { md.append("- shard \(s)") }
        if !r.mergedShards.isEmpty { md.append("- merged shards: \(r.mergedShards.joined(separator: ", "))") }
        md.append("")
        md.append("| runs | runs/s | failing runs | signatures | over-threshold runs | excused violations | invalid | distinct states | states/run |")
        md.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        let rate = r.timing.map { String(format: "%.0f", $0.runsPerSecond) } ?? "-"
        md.append("| \(r.runs) | \(rate) | \(r.failingRuns) | \(r.signatures.count) | \(r.overThresholdRuns) | \(r.excusedViolations) | \(r.invalidRuns) | \(r.coverage.distinctStates) | \(String(format: "%.1f", r.meanStatesPerRun)) |")
        md.append("")
        md.append("## Failures by kind")
        md.append("")
        if r.failuresByKind.isEmpty { md.append("None.") }
        for k in r.failuresByKind.keys.sorted() {
            md.append("- \(k): \(r.failuresByKind[k]!) runs, first at run \(r.runsToFirstFailure(k).map { String($0 - 1) } ?? "-")")
        }
        md.append("")
        md.append("## Signatures (shrunk, with replay commands; run them from this directory)")
        md.append("")
        for s in r.signatures.prefix(20) {
            md.append("- **\(s.kind)** ×\(s.count), first run \(s.firstRun): \(s.message)")
            md.append("  - signature: `\(s.signature)`")
            md.append("  - fault events: \(s.originalFaultEvents) → \(s.shrunkFaultEvents.map(String.init) ?? "not shrunk")")
            md.append("  - replay: `\(s.replay)`")
        }
        md.append("")
        md.append("## Coverage growth (distinct abstract states after N runs)")
        md.append("")
        md.append("| runs | states |")
        md.append("|---:|---:|")
        for p in r.coverage.growth { md.append("| \(p[0]) | \(p[1]) |") }
        return md.joined(separator: "\n") + "\n"
    }
}
