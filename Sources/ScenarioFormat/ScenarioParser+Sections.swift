import BFTCore
import Yams

extension ScenarioParser {
    /// The whole scenario from the root node.
    mutating func scenario(_ root: Node) -> Scenario? {
        guard let top = fields(root, allowed: ScenarioKeys.topLevel, what: "the scenario", allowNull: false) else { return nil }
        var scenario = Scenario(name: "")

        if let node = requireKey(top, "replicas", what: "the scenario"),
           let n = integer(node, "replicas", atLeast: 1, atMost: ProtocolLimits.replicasMax) {
            scenario.replicas = n
            replicaCount = n
        }
        if let node = requireKey(top, "name", what: "the scenario"), let name = string(node) {
            if name.trimmingWhitespace().isEmpty { error(node, "name must not be empty") }
            scenario.name = name
        }
        if let node = top["description"], let text = string(node) { scenario.description = text }
        if let node = top["protocol"],
           let text = choice(node, ProtocolKind.allCases.map(\.rawValue), what: "protocol"),
           let kind = ProtocolKind(rawValue: text) {
            scenario.protocolKind = kind
        }
        scenario.f = QuorumMath.maxFaulty(n: scenario.replicas)
        if let node = top["f"], let f = integer(node, "f", atLeast: 0) {
            scenario.f = f
            if let n = replicaCount, f > (n - 1) / 3 {
                let (triple, overflow) = f.multipliedReportingOverflow(by: 3)
                let needed = overflow || triple == Int.max ? "more than \(Int.max)" : "at least \(triple + 1)"
                error(node, "f = \(f) needs \(needed) replicas, got \(n)")
            }
        }
        if let node = top["seed"], let seed = unsigned(node) { scenario.seed = seed }
        if let node = top["crypto"],
           let text = choice(node, SignatureScheme.allCases.map(\.rawValue), what: "crypto scheme"),
           let scheme = SignatureScheme(rawValue: text) {
            scenario.crypto = scheme
        }
        if let node = top["stop"] { scenario.stop = stop(node) }
        if let node = top["network"] { scenario.network = network(node) }
        if let node = top["workload"] { scenario.workload = workload(node) }
        if let node = top["parameters"] { scenario.parameters = parameters(node) }
        if let node = top["timeline"] { scenario.timeline = timeline(node) }
        if let node = top["byzantine"] { scenario.byzantine = byzantine(node) }
        if let node = top["twins"], !node.isNull { scenario.twins = twins(node) }
        if let node = top["liveness"], let spec = fields(node, allowed: ScenarioKeys.liveness, what: "'liveness'") {
            if let b = spec["bound"], let bound = positiveDuration(b, "bound") { scenario.liveness.bound = bound }
        }
        if let node = top["expect"], let spec = fields(node, allowed: ScenarioKeys.expect, what: "'expect'") {
            if let v = spec["safety"], let text = choice(v, ScenarioKeys.verdicts, what: "verdict"),
               let verdict = Verdict(rawValue: text) {
                scenario.expect.safety = verdict
            }
            if let v = spec["liveness"], let text = choice(v, ScenarioKeys.verdicts, what: "verdict"),
               let verdict = Verdict(rawValue: text) {
                scenario.expect.liveness = verdict
            }
        }
        if let node = top["schedule"], !node.isNull { scenario.schedule = schedule(node) }
        if let node = top["costs"], !node.isNull { scenario.costs = costs(node) }
        if let node = top["hosts"], !node.isNull { scenario.hosts = hosts(node, clientCount: scenario.workload.clients) }
        return scenario
    }

    mutating func stop(_ node: Node) -> StopCondition {
        var stop = StopCondition()
        guard let spec = fields(node, allowed: ScenarioKeys.stop, what: "'stop'") else { return stop }
        if let v = spec["time_limit"], let d = positiveDuration(v, "time_limit") { stop.timeLimit = d }
        if let v = spec["until_clients_done"], let b = boolean(v) { stop.untilClientsDone = b }
        return stop
    }

    // MARK: Network

    mutating func network(_ node: Node) -> NetworkSpec {
        var net = NetworkSpec()
        guard let spec = fields(node, allowed: ScenarioKeys.network, what: "'network'") else { return net }
        if let v = spec["latency"], let l = latency(v) { net.latency = l }
        if let v = spec["loss"], let p = probability(v, "loss") { net.loss = p }
        if let v = spec["duplication"], let p = probability(v, "duplication") { net.duplication = p }
        if let v = spec["jitter"], let d = duration(v, "jitter") { net.jitter = d }
        if let v = spec["gst"], let d = duration(v, "gst") { net.gst = d }
        if let v = spec["delay_max_after_gst"], let d = positiveDuration(v, "delay_max_after_gst") { net.delayMaxAfterGST = d }
        if let v = spec["bandwidth"], !v.isNull { net.bandwidth = bandwidth(v) }
        if let v = spec["links"], let items = sequence(v, what: "'links'") {
            for item in items {
                guard let link = fields(item, allowed: ScenarioKeys.link, what: "a link", allowNull: false) else { continue }
                let from = requireKey(link, "from", what: "a link").flatMap { replicaID($0) }
                let to = requireKey(link, "to", what: "a link").flatMap { replicaID($0) }
                let lat = link["latency"].flatMap { latency($0) }
                let loss = link["loss"].flatMap { probability($0, "loss") }
                if let from, let to, from == to {
                    error(link["to"], "a link joins two different replicas, got from = to = \(from)")
                }
                if let from, let to { net.links.append(LinkSpec(from: from, to: to, latency: lat, loss: loss)) }
            }
        }
        return net
    }

    /// A latency: a duration (constant) or a map naming a distribution and its parameters.
    mutating func latency(_ node: Node) -> LatencyDistribution? {
        if case .scalar = node, !node.isNull {
            return duration(node, "latency").map { .constant($0) }
        }
        guard case .mapping = node else {
            error(node, "expected a latency (a duration like 2ms, or a map with 'distribution'), got \(Self.describe(node))")
            return nil
        }
        let names = ScenarioKeys.latencyDistributions.map(\.name)
        // Read the distribution first so unknown keys are judged against its own parameters.
        var kind: String?
        if case .mapping(let m) = node, let d = m["distribution"] { kind = choice(d, names, what: "distribution") }
        let allowed = ["distribution"] + (ScenarioKeys.latencyDistributions.first { $0.name == kind }?.parameters
                                          ?? ScenarioKeys.latencyAll.filter { $0 != "distribution" })
        guard let spec = fields(node, allowed: allowed, what: kind.map { "a \($0) latency" } ?? "a latency") else { return nil }
        if !spec.has("distribution") { error(node, "missing required key 'distribution' in a latency (one of: \(names.joined(separator: ", ")))") }
        guard let kind else { return nil }
        let what = "a \(kind) latency"
        func need(_ parser: inout ScenarioParser, _ key: String) -> Nanoseconds? {
            parser.requireKey(spec, key, what: what).flatMap { parser.duration($0, key) }
        }
        switch kind {
        case "constant":
            return need(&self, "value").map { .constant($0) }
        case "uniform":
            let low = need(&self, "min"), high = need(&self, "max")
            guard let low, let high else { return nil }
            guard low <= high else {
                error(spec["max"], "uniform latency needs min <= max, got min \(DurationSyntax.format(low)) and max \(DurationSyntax.format(high))")
                return nil
            }
            return .uniform(min: low, max: high)
        case "normal":
            let mean = need(&self, "mean"), stddev = need(&self, "stddev")
            guard let mean, let stddev else { return nil }
            return .normal(mean: mean, stddev: stddev)
        case "exponential":
            return need(&self, "mean").map { .exponential(mean: $0) }
        case "lognormal":
            let median = need(&self, "median")
            var sigma: Double?
            if let s = requireKey(spec, "sigma", what: what), let value = number(s) {
                if value < 0 { error(s, "sigma must not be negative, got \(value)") } else { sigma = value }
            }
            guard let median, let sigma else { return nil }
            return .lognormal(median: median, sigma: sigma)
        default:
            return nil
        }
    }

    // MARK: Workload

    mutating func workload(_ node: Node) -> WorkloadSpec {
        var w = WorkloadSpec()
        guard let spec = fields(node, allowed: ScenarioKeys.workload, what: "'workload'") else { return w }
        if let v = spec["clients"], let c = integer(v, "clients", atLeast: 1, atMost: 100_000) { w.clients = c }
        var mode = "closed"
        if let v = spec["mode"], let m = choice(v, ScenarioKeys.workloadModes, what: "workload mode") { mode = m }
        if mode == "closed" {
            var think: Nanoseconds = 0
            if let v = spec["think_time"], let d = duration(v, "think_time") { think = d }
            w.mode = .closed(thinkTime: think)
            if spec.has("rate") { error(spec.keyNode("rate"), "rate applies only to mode: open (add 'mode: open')") }
        } else {
            if spec.has("think_time") { error(spec.keyNode("think_time"), "think_time applies only to mode: closed") }
            if let v = spec["rate"] {
                if let r = number(v) {
                    if r > 0, r <= ProtocolLimits.openLoopRateMax {
                        w.mode = .open(rate: r)
                    } else {
                        error(v, "rate must be in (0, \(Int(ProtocolLimits.openLoopRateMax))] requests per second over all clients, got \(r)")
                    }
                }
            } else {
                error(spec.node, "mode: open needs 'rate' (requests per second over all clients)")
            }
        }
        if let v = spec["rate_changes"] {
            if mode != "open" {
                error(spec.keyNode("rate_changes"), "rate_changes applies only to mode: open (add 'mode: open')")
            } else if let changes = rateChanges(v) {
                w.rateChanges = changes
            }
        }
        if let v = spec["requests_per_client"] {
            if case .scalar(let s) = v, s.string == "unbounded" {
                w.requestsPerClient = nil
            } else if case .scalar(let s) = v, Int(s.string) == nil, !v.isNull {
                error(v, "expected an integer or 'unbounded' for requests_per_client, got '\(s.string)'")
            } else if let r = integer(v, "requests_per_client", atLeast: 1) {
                w.requestsPerClient = r
            }
        }
        if let v = spec["key_space"], let k = integer(v, "key_space", atLeast: 1) { w.keySpace = k }
        if let v = spec["read_ratio"], let p = probability(v, "read_ratio") { w.readRatio = p }
        if let v = spec["append_ratio"], let p = probability(v, "append_ratio") { w.appendRatio = p }
        if spec.has("read_ratio") || spec.has("append_ratio"), w.readRatio + w.appendRatio > 1 {
            error(spec["append_ratio"] ?? spec["read_ratio"],
                  "read_ratio + append_ratio must be at most 1, got \(w.readRatio) + \(w.appendRatio)")
        }
        if let v = spec["value_size"], let s = integer(v, "value_size", atLeast: 0, atMost: 1 << 20) { w.valueSize = s }
        if let v = spec["retry_timeout"], let d = timeout(v, "retry_timeout") { w.retryTimeout = d }
        if let v = spec["retry_timeout_max"], let d = timeout(v, "retry_timeout_max") { w.retryTimeoutMax = d }
        if w.retryTimeoutMax < w.retryTimeout {
            error(spec["retry_timeout_max"] ?? spec["retry_timeout"],
                  "retry_timeout_max (\(DurationSyntax.format(w.retryTimeoutMax))) must be at least retry_timeout (\(DurationSyntax.format(w.retryTimeout)))")
        }
        return w
    }

    /// `rate_changes: [{at: 10s, rate: 2000}, …]`: the open-loop rate from each `at` on; times strictly
    /// increasing, rates in [0, max] (0 pauses arrivals).
    mutating func rateChanges(_ node: Node) -> [WorkloadSpec.RateChange]? {
        guard let items = sequence(node, what: "'rate_changes'") else { return nil }
        var out: [WorkloadSpec.RateChange] = []
        var valid = true
        for item in items {
            guard let f = fields(item, allowed: ScenarioKeys.rateChange, what: "a rate change", allowNull: false) else {
                valid = false
                continue
            }
            guard let atNode = f["at"], let rateNode = f["rate"] else {
                error(item, "a rate change needs 'at' (a time) and 'rate' (requests per second over all clients)")
                valid = false
                continue
            }
            guard let at = duration(atNode, "at"), let rate = number(rateNode) else {
                valid = false
                continue
            }
            if !(rate >= 0 && rate <= ProtocolLimits.openLoopRateMax) {
                error(rateNode, "rate must be in [0, \(Int(ProtocolLimits.openLoopRateMax))] requests per second over all clients, got \(rate)")
                valid = false
            } else if let last = out.last, at <= last.at {
                error(atNode, "rate changes must be in strictly increasing time: \(DurationSyntax.format(at)) is not after \(DurationSyntax.format(last.at))")
                valid = false
            } else {
                out.append(WorkloadSpec.RateChange(at: at, rate: rate))
            }
        }
        return valid ? out : nil
    }

    // MARK: Protocol parameters

    mutating func parameters(_ node: Node) -> ProtocolParameters {
        var p = ProtocolParameters()
        guard let spec = fields(node, allowed: ScenarioKeys.parameters, what: "'parameters'") else { return p }
        if let v = spec["batch_size_max"], let b = integer(v, "batch_size_max", atLeast: 1, atMost: ProtocolLimits.batchSizeMax) { p.batchSizeMax = b }
        if let v = spec["batch_delay_max"], let d = duration(v, "batch_delay_max") { p.batchDelayMax = d }
        var intervalValid = true
        if let v = spec["checkpoint_interval"] {
            if let k = integer(v, "checkpoint_interval", atLeast: 1, atMost: ProtocolLimits.watermarkWindowMax) { p.checkpointInterval = k } else { intervalValid = false }
        }
        if let v = spec["watermark_window"], let window = integer(v) {
            if intervalValid, window <= 0 || window % p.checkpointInterval != 0 {
                error(v, "watermark_window must be a positive multiple of checkpoint_interval (\(p.checkpointInterval)), got \(window)")
            } else if window > ProtocolLimits.watermarkWindowMax {
                error(v, "watermark_window must be at most \(ProtocolLimits.watermarkWindowMax) (the VIEW-CHANGE and NEW-VIEW wire limit), got \(window)")
            } else {
                p.watermarkWindow = window
            }
        } else if intervalValid, !spec.has("watermark_window"), p.watermarkWindow % p.checkpointInterval != 0 {
            error(spec["checkpoint_interval"],
                  "the default watermark_window (\(p.watermarkWindow)) is not a multiple of checkpoint_interval (\(p.checkpointInterval)); set watermark_window")
        }
        if let v = spec["view_change_timeout"], let d = timeout(v, "view_change_timeout") { p.viewChangeTimeout = d }
        if let v = spec["view_change_timeout_max"], let d = timeout(v, "view_change_timeout_max") { p.viewChangeTimeoutMax = d }
        if let v = spec["leader_schedule"], let items = sequence(v, what: "'leader_schedule'") {
            if items.isEmpty {
                error(v, "leader_schedule needs at least one replica id")
            } else {
                let ids = items.compactMap { replicaID($0) }
                if ids.count == items.count { p.leaderSchedule = ids }
            }
        }
        if p.viewChangeTimeoutMax < p.viewChangeTimeout {
            error(spec["view_change_timeout_max"] ?? spec["view_change_timeout"],
                  "view_change_timeout_max (\(DurationSyntax.format(p.viewChangeTimeoutMax))) must be at least view_change_timeout (\(DurationSyntax.format(p.viewChangeTimeout)))")
        }
        if let v = spec["adaptive"] { p.adaptive = adaptive(v, p) }
        return p
    }

    /// `parameters.adaptive` (issue 18): each parameter's choices (a list; absent = the static value),
    /// the epoch (default checkpoint_interval; two epochs must fit the watermark window) and α.
    mutating func adaptive(_ node: Node, _ p: ProtocolParameters) -> AdaptiveConfig? {
        guard let spec = fields(node, allowed: ScenarioKeys.adaptive, what: "'adaptive'") else { return nil }
        var a = AdaptiveConfig(epoch: p.checkpointInterval, batchSizeChoices: [p.batchSizeMax],
                               batchDelayChoices: [p.batchDelayMax], viewChangeTimeoutChoices: [p.viewChangeTimeout])
        var valid = true
        if let v = spec["epoch"] {
            if let e = integer(v, "epoch", atLeast: 1, atMost: max(1, p.watermarkWindow / 2)) { a.epoch = e } else { valid = false }
        } else if 2 * a.epoch > p.watermarkWindow {
            error(node, "adaptive: the default epoch (checkpoint_interval, \(a.epoch)) must fit twice in watermark_window (\(p.watermarkWindow)); set epoch")
            valid = false
        }
        if let v = spec["batch_size_max"] {
            if let items = choices(v, "batch_size_max"), case let xs = items.compactMap({ integer($0, "batch_size_max", atLeast: 1, atMost: ProtocolLimits.batchSizeMax) }),
               xs.count == items.count { a.batchSizeChoices = xs } else { valid = false }
        }
        if let v = spec["batch_delay_max"] {
            if let items = choices(v, "batch_delay_max"), case let xs = items.compactMap({ duration($0, "batch_delay_max") }),
               xs.count == items.count { a.batchDelayChoices = xs } else { valid = false }
        }
        if let v = spec["view_change_timeout"] {
            if let items = choices(v, "view_change_timeout"), case let xs = items.compactMap({ timeout($0, "view_change_timeout") }),
               xs.count == items.count { a.viewChangeTimeoutChoices = xs } else { valid = false }
        }
        if let v = spec["alpha"] {
            if let x = number(v), x >= 0, x <= 100 { a.alpha = x } else {
                error(v, "alpha must be a number between 0 and 100")
                valid = false
            }
        }
        let arms = a.batchSizeChoices.count * a.batchDelayChoices.count * a.viewChangeTimeoutChoices.count
        if valid && arms > AdaptiveConfig.armsMax {
            error(node, "adaptive: \(arms) arms (the product of the choice lists) exceed the maximum \(AdaptiveConfig.armsMax)")
            valid = false
        }
        return valid ? a : nil
    }

    /// A non-empty list of choices for an adaptive parameter (at most `AdaptiveConfig.armsMax`).
    mutating func choices(_ node: Node, _ name: String) -> [Node]? {
        guard let items = sequence(node, what: "'\(name)' choices") else { return nil }
        guard !items.isEmpty, items.count <= AdaptiveConfig.armsMax else {
            error(node, "adaptive \(name) needs between 1 and \(AdaptiveConfig.armsMax) choices, got \(items.count)")
            return nil
        }
        return items
    }

    // MARK: Timeline

    mutating func timeline(_ node: Node) -> [TimelineEvent] {
        guard let items = sequence(node, what: "'timeline'") else { return [] }
        var events: [TimelineEvent] = []
        for item in items {
            let allowed = ["at"] + ScenarioKeys.timelineActions
            guard let spec = fields(item, allowed: allowed, what: "a timeline event", allowNull: false) else { continue }
            let at = requireKey(spec, "at", what: "a timeline event").flatMap { duration($0, "at") }
            let actions = spec.entries.filter { $0.key != "at" }
            guard let first = actions.first else {
                error(item, "a timeline event needs one action: \(ScenarioKeys.timelineActions.joined(separator: ", "))")
                continue
            }
            for extra in actions.dropFirst() {
                error(extra.keyNode, "a timeline event has one action, got '\(first.key)' and '\(extra.key)' (write one event per action)")
            }
            if let action = timelineAction(first.key, first.value), let at {
                events.append(TimelineEvent(at: at, action: action))
            }
        }
        return events
    }

    mutating func timelineAction(_ key: String, _ node: Node) -> TimelineAction? {
        switch key {
        case "crash":
            return replicaID(node).map { .crash(replica: $0) }
        case "isolate":
            return replicaID(node).map { .isolate(replica: $0) }
        case "heal":
            guard let flag = boolean(node) else { return nil }
            if !flag { error(node, "heal takes 'true' (remove the event to not heal)") ; return nil }
            return .heal
        case "partition":
            return partition(node)
        case "cut_link":
            guard let spec = fields(node, allowed: ScenarioKeys.cutLink, what: "'cut_link'", allowNull: false) else { return nil }
            let from = requireKey(spec, "from", what: "'cut_link'").flatMap { replicaID($0) }
            let to = requireKey(spec, "to", what: "'cut_link'").flatMap { replicaID($0) }
            var oneWay = false
            if let v = spec["one_way"], let b = boolean(v) { oneWay = b }
            guard let from, let to else { return nil }
            if from == to { error(spec["to"], "cut_link joins two different replicas, got from = to = \(from)"); return nil }
            return .cutLink(from: from, to: to, oneWay: oneWay)
        case "set_latency":
            guard let spec = fields(node, allowed: ScenarioKeys.setLatency, what: "'set_latency'", allowNull: false) else { return nil }
            let ends = linkEnds(spec, what: "set_latency")
            let lat = requireKey(spec, "latency", what: "'set_latency'").flatMap { latency($0) }
            guard let ends, let lat else { return nil }
            return .setLatency(from: ends.from, to: ends.to, latency: lat)
        case "set_loss":
            guard let spec = fields(node, allowed: ScenarioKeys.setLoss, what: "'set_loss'", allowNull: false) else { return nil }
            let ends = linkEnds(spec, what: "set_loss")
            let loss = requireKey(spec, "loss", what: "'set_loss'").flatMap { probability($0, "loss") }
            guard let ends, let loss else { return nil }
            return .setLoss(from: ends.from, to: ends.to, loss: loss)
        case "restart":
            if case .mapping = node {
                guard let spec = fields(node, allowed: ScenarioKeys.restart, what: "'restart'", allowNull: false) else { return nil }
                let replica = requireKey(spec, "replica", what: "'restart'").flatMap { replicaID($0) }
                var delay: Nanoseconds = 0
                if let v = spec["delay"], let d = duration(v, "delay") { delay = d }
                return replica.map { .restart(replica: $0, delay: delay) }
            }
            return replicaID(node).map { .restart(replica: $0, delay: 0) }
        case "storage_fault":
            if case .mapping = node {
                guard let spec = fields(node, allowed: ScenarioKeys.storageFault, what: "'storage_fault'", allowNull: false) else { return nil }
                let replica = requireKey(spec, "replica", what: "'storage_fault'").flatMap { replicaID($0) }
                var lost: Int?
                if let v = spec["writes_lost"], let n = integer(v, "writes_lost", atLeast: 0) { lost = n }
                return replica.map { .storageFault(replica: $0, writesLost: lost) }
            }
            return replicaID(node).map { .storageFault(replica: $0, writesLost: nil) }
        case "message_fault":
            return messageFault(node)
        default:
            return nil
        }
    }

    mutating func messageFault(_ node: Node) -> TimelineAction? {
        guard let spec = fields(node, allowed: ScenarioKeys.messageFault, what: "'message_fault'", allowNull: false) else { return nil }
        let actions = MessageFaultSpec.Action.allCases.map(\.rawValue)
        guard let actionNode = requireKey(spec, "action", what: "'message_fault'"),
              let name = choice(actionNode, actions, what: "message fault action"),
              let action = MessageFaultSpec.Action(rawValue: name) else { return nil }
        var fault = MessageFaultSpec(action: action)
        if let v = spec["from"] { fault.from = replicaID(v) }
        if let v = spec["to"] { fault.to = replicaID(v) }
        if let v = spec["both_ways"], let b = boolean(v) { fault.bothWays = b }
        if let v = spec["type"], let t = string(v) { fault.type = t }
        if let v = spec["views"] { fault.views = range(v, "views") }
        if let v = spec["sequences"] { fault.sequences = range(v, "sequences") }
        if let v = spec["until"], let d = positiveDuration(v, "until") { fault.until = d }
        if let v = spec["delay"], let d = positiveDuration(v, "delay") { fault.delay = d }
        if action == .hold, fault.until == nil { error(spec.node, "a hold needs 'until' (when held messages are released)") }
        if action == .delay || action == .duplicate, !spec.has("delay") { error(spec.node, "message fault '\(name)' needs 'delay'") }
        if (action == .drop || action == .hold), spec.has("delay") { error(spec.keyNode("delay"), "'delay' does not apply to '\(name)'") }
        return .messageFault(fault)
    }

    /// `[low, high]`, inclusive, low <= high.
    mutating func range(_ node: Node, _ name: String) -> ClosedRange<UInt64>? {
        guard case .sequence(let items) = node, items.count == 2 else {
            error(node, "expected [low, high] for \(name), got \(Self.describe(node))")
            return nil
        }
        guard let low = unsigned(items[0]), let high = unsigned(items[1]) else { return nil }
        guard low <= high else { error(items[1], "\(name) needs low <= high, got [\(low), \(high)]"); return nil }
        return low...high
    }

    /// `from` and `to` of a link change: both (one directed link) or neither (every link).
    mutating func linkEnds(_ spec: Fields, what: String) -> (from: Int?, to: Int?)? {
        switch (spec["from"], spec["to"]) {
        case (nil, nil):
            return (nil, nil)
        case (let f?, let t?):
            let from = replicaID(f), to = replicaID(t)
            guard let from, let to else { return nil }
            if from == to { error(t, "\(what) names a link between two different replicas, got from = to = \(from)"); return nil }
            return (from, to)
        default:
            error(spec.node, "\(what) needs both 'from' and 'to' (one directed link) or neither (every link)")
            return nil
        }
    }

    mutating func partition(_ node: Node, nodeCount: Int? = nil) -> TimelineAction? {
        guard case .sequence(let groupNodes) = node else {
            error(node, "expected a list of replica groups for partition (like [[0, 1], [2, 3]]), got \(Self.describe(node))")
            return nil
        }
        var groups: [[Int]] = []
        var seen: Set<Int> = []
        var ok = true
        for groupNode in groupNodes {
            guard case .sequence(let members) = groupNode else {
                error(groupNode, "expected a group of replica ids (like [0, 1]), got \(Self.describe(groupNode))")
                ok = false
                continue
            }
            if members.isEmpty { error(groupNode, "a partition group needs at least one replica"); ok = false }
            var group: [Int] = []
            for member in members {
                let parsed: Int?
                if let nodeCount {
                    parsed = integer(member, "node", atLeast: 0, atMost: nodeCount - 1)
                } else {
                    parsed = replicaID(member)
                }
                guard let id = parsed else { ok = false; continue }
                if !seen.insert(id).inserted {
                    error(member, "replica \(id) is in more than one partition group")
                    ok = false
                }
                group.append(id)
            }
            groups.append(group)
        }
        if groupNodes.isEmpty { error(node, "a partition needs at least one group"); ok = false }
        return ok ? .partition(groups: groups) : nil
    }

    // MARK: Byzantine

    mutating func byzantine(_ node: Node) -> [ByzantineSpec] {
        guard let items = sequence(node, what: "'byzantine'") else { return [] }
        var specs: [ByzantineSpec] = []
        var seen: Set<String> = []
        for item in items {
            guard let spec = fields(item, allowed: ScenarioKeys.byzantine, what: "a byzantine entry", allowNull: false) else { continue }
            let replica = requireKey(spec, "replica", what: "a byzantine entry").flatMap { replicaID($0) }
            let behaviour = requireKey(spec, "behaviour", what: "a byzantine entry")
                .flatMap { choice($0, ByzantineSpec.knownBehaviours, what: "behaviour") }
            guard let replica, let behaviour else { continue }
            var b = ByzantineSpec(replica: replica, behaviour: behaviour)
            if let v = spec["from"], let d = duration(v, "from") { b.from = d }
            if let v = spec["until"], let d = positiveDuration(v, "until") { b.until = d }
            if let from = b.from, let until = b.until, until <= from {
                error(spec["until"], "until (\(DurationSyntax.format(until))) must be later than from (\(DurationSyntax.format(from)))")
            }
            if ByzantineSpec.wholeRunBehaviours.contains(behaviour), !b.isAlwaysOn {
                error(spec.keyNode("from") ?? spec.keyNode("until"), "behaviour '\(behaviour)' applies to the whole run; remove 'from'/'until'")
            }
            if let v = spec["targets"], let items = sequence(v, what: "'targets'") {
                let ids = items.compactMap { replicaID($0) }
                if ids.count == items.count { b.targets = ids }
            }
            if let v = spec["delay"], let d = positiveDuration(v, "delay") { b.delay = d }
            if let v = spec["mutation"], let m = choice(v, ByzantineSpec.mutations, what: "mutation") { b.mutation = m }
            if let v = spec["script"] {
                if behaviour == "script" { b.script = script(v) } else { error(spec.keyNode("script"), "'script' applies only to behaviour 'script'") }
            }
            // A generic layer states its field in its registration (`LayerRegistry`).
            let layer = LayerRegistry.named(behaviour)
            var needs: [String: String] = ["mutate": "mutation", "script": "script"]
            if let layer, let p = layer.parameter, layer.parameterRequired { needs[layer.name] = p.key }
            if let key = needs[behaviour], !spec.has(key) {
                error(spec.node, "behaviour '\(behaviour)' needs '\(key)'")
            }
            // `mutate` and `conflict` may address a subset of recipients (ByzzFuzz small scope); `conflict`
            // may name the field it varies; a layer's optional field (`replay`'s period) may be given.
            var optional: Set<String> = ["mutate/targets", "conflict/targets", "conflict/mutation"]
            if let layer, let p = layer.parameter, !layer.parameterRequired { optional.insert("\(layer.name)/\(p.key)") }
            for key in ["targets", "delay", "mutation"] where spec.has(key) && needs[behaviour] != key
                && !optional.contains("\(behaviour)/\(key)") {
                error(spec.keyNode(key), "'\(key)' does not apply to behaviour '\(behaviour)'")
            }
            if !seen.insert("\(replica)/\(behaviour)").inserted {
                error(spec["behaviour"], "replica \(replica) already has behaviour '\(behaviour)' (give one entry per behaviour)")
                continue
            }
            specs.append(b)
        }
        return specs
    }

    /// A `script` behaviour's steps: `{at, send, view, sequence, value, to}` each (ScriptStep).
    mutating func script(_ node: Node) -> [ScriptStep]? {
        guard let items = sequence(node, what: "'script'") else { return nil }
        var steps: [ScriptStep] = []
        for item in items {
            guard let f = fields(item, allowed: ScenarioKeys.scriptStep, what: "a script step", allowNull: false) else { continue }
            let at = requireKey(f, "at", what: "a script step").flatMap { duration($0, "at") }
            let send = requireKey(f, "send", what: "a script step").flatMap { choice($0, ScriptStep.messages, what: "send") }
            let view = requireKey(f, "view", what: "a script step").flatMap { unsigned($0) }
            let value = requireKey(f, "value", what: "a script step").flatMap { integer($0) }
            let sequenceNumber = f["sequence"].map { unsigned($0) } ?? 1
            var to: [Int]?
            if let v = requireKey(f, "to", what: "a script step"), let ids = sequence(v, what: "'to'") {
                let r = ids.compactMap { replicaID($0) }
                if r.count == ids.count { to = r }
                if r.isEmpty { error(v, "a script step sends to at least one replica") }
            }
            var viewChanges: [Int]?
            if let v = f["view_changes"] {
                if send != "NEW-VIEW" {
                    error(f.keyNode("view_changes"), "'view_changes' applies only to a NEW-VIEW step")
                } else if let ids = sequence(v, what: "'view_changes'") {
                    let r = ids.compactMap { replicaID($0) }
                    if r.count == ids.count { viewChanges = r }
                    if r.isEmpty { error(v, "a NEW-VIEW carries at least one VIEW-CHANGE") }
                }
            } else if send == "NEW-VIEW", let node = f["send"] {
                error(node, "a NEW-VIEW step needs 'view_changes' (the replicas whose VIEW-CHANGEs it carries)")
            }
            var parent: Int?
            if let v = f["parent"] {
                if send != "PROPOSAL" {
                    error(f.keyNode("parent"), "'parent' applies only to a PROPOSAL step")
                } else {
                    parent = integer(v)
                    if let p = parent, p < 0 { error(v, "a parent label is at least 0 (genesis), got \(p)") }
                }
            }
            guard let at, let send, let view, let value, let sequenceNumber, let to else { continue }
            steps.append(ScriptStep(at: at, send: send, view: view, sequence: sequenceNumber, value: value, to: to, viewChanges: viewChanges,
                                    parent: parent))
        }
        return steps
    }

    // MARK: Twins

    mutating func twins(_ node: Node) -> TwinsSpec? {
        guard let spec = fields(node, allowed: ScenarioKeys.twins, what: "'twins'", allowNull: false) else { return nil }
        guard let list = requireKey(spec, "replicas", what: "'twins'"), let items = sequence(list, what: "'replicas'") else { return nil }
        let ids = items.compactMap { replicaID($0) }
        guard ids.count == items.count else { return nil }
        if ids.isEmpty { error(list, "twins needs at least one replica to twin") }
        if Set(ids).count != ids.count { error(list, "a replica is twinned at most once") }
        var twins = TwinsSpec(replicas: ids)
        let nodes = (replicaCount ?? 0) + ids.count
        if let v = spec["round_leaders"], let leaders = sequence(v, what: "'round_leaders'") {
            let l = leaders.compactMap { replicaID($0) }
            if l.count == leaders.count { twins.roundLeaders = l }
        }
        if let v = spec["round_partitions"], let rounds = sequence(v, what: "'round_partitions'") {
            var all: [[[Int]]] = []
            for round in rounds {
                guard case .partition(let groups)? = partition(round, nodeCount: nodes) else { continue }
                all.append(groups)
            }
            if all.count == rounds.count { twins.roundPartitions = all }
        }
        return twins
    }

    // MARK: Schedule

    /// `schedule:` — a list of steps such as `deliver r0 r1 00a1b2c3d4e5f607` (see `ScheduleStep`).
    mutating func schedule(_ node: Node) -> [ScheduleStep]? {
        guard let items = sequence(node, what: "'schedule'") else { return nil }
        var steps: [ScheduleStep] = []
        for (i, item) in items.enumerated() {
            guard let text = string(item) else { continue }
            switch ScheduleStep.parse(text, replicas: replicaCount ?? 0) {
            case .success(.gst) where i != items.count - 1:
                error(item, "'gst' ends the adversarial part of a schedule, so it must be the last step (step \(i + 1) of \(items.count))")
            case .success(let step): steps.append(step)
            case .failure(let e): error(item, e.message)
            }
        }
        return steps
    }
}
