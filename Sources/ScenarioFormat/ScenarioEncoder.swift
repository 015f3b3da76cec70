import BFTCore

extension ScenarioLoader {
    /// Writes `scenario` in the scenario format, every key explicit, in `ScenarioKeys` order.
    ///
    /// Canonical: equal scenarios give identical text, and parsing the text gives back an equal
    /// scenario (the fuzzer saves generated scenarios with it).
    public static func encodeYAML(_ scenario: Scenario) -> String {
        var out: [String] = []
        out.append("name: \(yamlString(scenario.name))")
        out.append("description: \(yamlString(scenario.description))")
        out.append("protocol: \(scenario.protocolKind.rawValue)")
        out.append("replicas: \(scenario.replicas)")
        out.append("f: \(scenario.f)")
        out.append("seed: \(scenario.seed)")
        out.append("crypto: \(scenario.crypto.rawValue)")
        out.append("stop: {time_limit: \(dur(scenario.stop.timeLimit)), until_clients_done: \(scenario.stop.untilClientsDone)}")

        let net = scenario.network
        out.append("network:")
        out.append("  latency: \(latency(net.latency))")
        out.append("  loss: \(number(net.loss))")
        out.append("  duplication: \(number(net.duplication))")
        out.append("  jitter: \(dur(net.jitter))")
        if let gst = net.gst { out.append("  gst: \(dur(gst))") }
        out.append("  delay_max_after_gst: \(dur(net.delayMaxAfterGST))")
        if let bps = net.bandwidth { out.append("  bandwidth: \(CostSyntax.formatBandwidth(bps))") }
        appendList("  links", net.links, into: &out) { link in
            var parts = ["from: \(link.from)", "to: \(link.to)"]
            if let l = link.latency { parts.append("latency: \(latency(l))") }
            if let l = link.loss { parts.append("loss: \(number(l))") }
            return "{\(parts.joined(separator: ", "))}"
        }

        let w = scenario.workload
        out.append("workload:")
        out.append("  clients: \(w.clients)")
        switch w.mode {
        case .closed(let think):
            out.append("  mode: closed")
            out.append("  think_time: \(dur(think))")
        case .open(let rate):
            out.append("  mode: open")
            out.append("  rate: \(number(rate))")
            if let changes = w.rateChanges {
                out.append("  rate_changes: [\(changes.map { "{at: \(dur($0.at)), rate: \(number($0.rate))}" }.joined(separator: ", "))]")
            }
        }
        out.append("  requests_per_client: \(w.requestsPerClient.map(String.init) ?? "unbounded")")
        out.append("  key_space: \(w.keySpace)")
        out.append("  read_ratio: \(number(w.readRatio))")
        out.append("  append_ratio: \(number(w.appendRatio))")
        out.append("  value_size: \(w.valueSize)")
        out.append("  retry_timeout: \(dur(w.retryTimeout))")
        out.append("  retry_timeout_max: \(dur(w.retryTimeoutMax))")

        let p = scenario.parameters
        out.append("parameters:")
        out.append("  batch_size_max: \(p.batchSizeMax)")
        out.append("  batch_delay_max: \(dur(p.batchDelayMax))")
        out.append("  checkpoint_interval: \(p.checkpointInterval)")
        out.append("  watermark_window: \(p.watermarkWindow)")
        out.append("  view_change_timeout: \(dur(p.viewChangeTimeout))")
        out.append("  view_change_timeout_max: \(dur(p.viewChangeTimeoutMax))")
        if let schedule = p.leaderSchedule { out.append("  leader_schedule: [\(schedule.map(String.init).joined(separator: ", "))]") }
        if let a = p.adaptive {
            out.append("  adaptive:")
            out.append("    epoch: \(a.epoch)")
            out.append("    batch_size_max: [\(a.batchSizeChoices.map(String.init).joined(separator: ", "))]")
            out.append("    batch_delay_max: [\(a.batchDelayChoices.map(dur).joined(separator: ", "))]")
            out.append("    view_change_timeout: [\(a.viewChangeTimeoutChoices.map(dur).joined(separator: ", "))]")
            out.append("    alpha: \(number(a.alpha))")
        }

        appendList("timeline", scenario.timeline, into: &out) { event in "{at: \(dur(event.at)), \(action(event.action))}" }
        appendList("byzantine", scenario.byzantine, into: &out) { b in
            var parts = ["replica: \(b.replica)", "behaviour: \(yamlString(b.behaviour))"]
            if let v = b.from { parts.append("from: \(dur(v))") }
            if let v = b.until { parts.append("until: \(dur(v))") }
            if let v = b.targets { parts.append("targets: [\(v.map(String.init).joined(separator: ", "))]") }
            if let v = b.delay { parts.append("delay: \(dur(v))") }
            if let v = b.mutation { parts.append("mutation: \(yamlString(v))") }
            if let steps = b.script {
                let items = steps.map { st in
                    "{at: \(dur(st.at)), send: \(st.send), view: \(st.view), sequence: \(st.sequence), value: \(st.value), to: [\(st.to.map(String.init).joined(separator: ", "))]\(st.viewChanges.map { ", view_changes: [\($0.map(String.init).joined(separator: ", "))]" } ?? "")\(st.parent.map { ", parent: \($0)" } ?? "")}"
                }
                parts.append("script: [\(items.joined(separator: ", "))]")
            }
            return "{\(parts.joined(separator: ", "))}"
        }
        if let t = scenario.twins {
            var parts = ["replicas: [\(t.replicas.map(String.init).joined(separator: ", "))]"]
            if let l = t.roundLeaders { parts.append("round_leaders: [\(l.map(String.init).joined(separator: ", "))]") }
            if let p = t.roundPartitions { parts.append("round_partitions: [\(p.map(groups).joined(separator: ", "))]") }
            out.append("twins: {\(parts.joined(separator: ", "))}")
        } else {
            out.append("twins: null")
        }
        out.append("liveness: {bound: \(dur(scenario.liveness.bound))}")
        out.append("expect: {safety: \(scenario.expect.safety.rawValue), liveness: \(scenario.expect.liveness.rawValue)}")
        if let steps = scenario.schedule {
            out.append("schedule:")
            for step in steps { out.append("  - \(yamlString(step.text(replicas: scenario.replicas)))") }
        }
        if let costs = scenario.costs { out.append(contentsOf: encodeCosts(costs, indent: "  ", key: "costs:")) }
        if !scenario.hosts.isEmpty { appendList("hosts", scenario.hosts, into: &out) { h in
            var parts = ["cores: \(h.cores)", "replicas: [\(h.replicas.map(String.init).joined(separator: ", "))]"]
            parts.append(h.allClients ? "clients: all" : "clients: [\(h.clients.map(String.init).joined(separator: ", "))]")
            return "{\(parts.joined(separator: ", "))}"
        } }
        return out.joined(separator: "\n") + "\n"
    }

    /// A cost table's lines: under `key` indented by `indent`, or at the top level (a profile file) when `key` is nil.
    public static func encodeCosts(_ c: CostTable, indent: String = "", key: String? = nil) -> [String] {
        var out: [String] = []
        let pad = key == nil ? "" : indent
        if let key { out.append(key) }
        func cost(_ v: Picoseconds) -> String { CostSyntax.formatCost(v) }
        func schemes(_ s: CostTable.SchemeCosts) -> String {
            "{" + SignatureScheme.allCases.map { "\($0.rawValue): \(cost(s[$0]))" }.joined(separator: ", ") + "}"
        }
        out.append("\(pad)message:")
        out.append("\(pad)  default: \(cost(c.messageDefault))")
        for type in CostTable.messageTypes { if let v = c.messages[type] { out.append("\(pad)  \(type): \(cost(v))") } }
        out.append("\(pad)byte: \(cost(c.byte))")
        out.append("\(pad)send: \(cost(c.send))")
        out.append("\(pad)timer: \(cost(c.timer))")
        out.append("\(pad)sign: \(schemes(c.sign))")
        out.append("\(pad)verify: \(schemes(c.verify))")
        out.append("\(pad)execute: \(cost(c.execute))")
        if c.sync != 0 { out.append("\(pad)sync: \(cost(c.sync))") }
        if c.syncCPU != 0 { out.append("\(pad)sync_cpu: \(cost(c.syncCPU))") }
        if c.handoff != 0 { out.append("\(pad)handoff: \(cost(c.handoff))") }
        if c.wakeup != 0 { out.append("\(pad)wakeup: \(cost(c.wakeup))") }
        if let scheme = c.scheme { out.append("\(pad)scheme: \(scheme.rawValue)") }
        return out
    }

    /// `key: []` for an empty list, else `key:` and one `- item` line per element, indented two more than the key.
    private static func appendList<T>(_ key: String, _ items: [T], into out: inout [String], _ item: (T) -> String) {
        guard !items.isEmpty else { return out.append("\(key): []") }
        out.append("\(key):")
        let indent = String(key.prefix { $0 == " " }) + "  "
        for element in items { out.append("\(indent)- \(item(element))") }
    }

    private static func dur(_ value: Nanoseconds) -> String { DurationSyntax.format(value) }

    /// Shortest text that reads back as the same `Double`.
    private static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    private static func latency(_ l: LatencyDistribution) -> String {
        switch l {
        case .constant(let v): return dur(v)
        case .uniform(let low, let high): return "{distribution: uniform, min: \(dur(low)), max: \(dur(high))}"
        case .normal(let mean, let stddev): return "{distribution: normal, mean: \(dur(mean)), stddev: \(dur(stddev))}"
        case .exponential(let mean): return "{distribution: exponential, mean: \(dur(mean))}"
        case .lognormal(let median, let sigma): return "{distribution: lognormal, median: \(dur(median)), sigma: \(number(sigma))}"
        }
    }

    private static func linkEnds(_ from: Int?, _ to: Int?) -> String {
        guard let from, let to else { return "" }
        return "from: \(from), to: \(to), "
    }

    private static func action(_ a: TimelineAction) -> String {
        switch a {
        case .crash(let r): return "crash: \(r)"
        case .isolate(let r): return "isolate: \(r)"
        case .heal: return "heal: true"
        case .partition(let g):
            return "partition: " + groups(g)
        case .restart(let r, let delay): return "restart: {replica: \(r), delay: \(dur(delay))}"
        case .storageFault(let r, let lost):
            return "storage_fault: {replica: \(r)" + (lost.map { ", writes_lost: \($0)" } ?? "") + "}"
        case .messageFault(let m):
            var parts = ["action: \(m.action.rawValue)"]
            if let v = m.from { parts.append("from: \(v)") }
            if let v = m.to { parts.append("to: \(v)") }
            if m.bothWays { parts.append("both_ways: true") }
            if let v = m.type { parts.append("type: \(yamlString(v))") }
            if let v = m.views { parts.append("views: [\(v.lowerBound), \(v.upperBound)]") }
            if let v = m.sequences { parts.append("sequences: [\(v.lowerBound), \(v.upperBound)]") }
            if let v = m.until { parts.append("until: \(dur(v))") }
            if m.action == .delay || m.action == .duplicate { parts.append("delay: \(dur(m.delay))") }
            return "message_fault: {\(parts.joined(separator: ", "))}"
        case .cutLink(let from, let to, let oneWay): return "cut_link: {from: \(from), to: \(to), one_way: \(oneWay)}"
        case .setLatency(let from, let to, let l): return "set_latency: {\(linkEnds(from, to))latency: \(latency(l))}"
        case .setLoss(let from, let to, let loss): return "set_loss: {\(linkEnds(from, to))loss: \(number(loss))}"
        }
    }

    private static func groups(_ groups: [[Int]]) -> String {
        "[" + groups.map { "[" + $0.map(String.init).joined(separator: ", ") + "]" }.joined(separator: ", ") + "]"
    }

    /// A plain scalar when that is unambiguous YAML, otherwise a double-quoted string with escapes.
    static func yamlString(_ s: String) -> String {
        let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.;()/+=-")
        if let first = s.first, first.isASCII, first.isLetter || first.isNumber, s.last != " ",
           s.allSatisfy({ safe.contains($0) }), !["null", "Null", "NULL"].contains(s) {
            return s
        }
        return QuotedString.quote(s) { scalar in
            scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value)
                || scalar.value == 0x2028 || scalar.value == 0x2029 || scalar.value == 0xFEFF
        }
    }
}
