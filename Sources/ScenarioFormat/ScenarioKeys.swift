import BFTCore
/// Every key the scenario format accepts, in one place: the parser checks against these lists, the
/// encoder writes them in this order, and a test compares them with `Scenarios/scenario.schema.json`.
public enum ScenarioKeys {
    public static let topLevel = [
        "name", "description", "protocol", "replicas", "f", "seed", "crypto", "stop", "network",
        "workload", "parameters", "timeline", "byzantine", "twins", "liveness", "expect", "schedule",
        "costs", "hosts",
    ]
    public static let required = ["name", "replicas"]
    public static let stop = ["time_limit", "until_clients_done"]
    public static let network = ["latency", "loss", "duplication", "jitter", "gst", "delay_max_after_gst", "links", "bandwidth"]
    /// Keys of a cost table (inline under `costs:` or a profile file's top level).
    public static let costs = ["message", "byte", "send", "timer", "sign", "verify", "execute", "sync", "sync_cpu", "handoff", "wakeup", "scheme"]
    public static let host = ["cores", "replicas", "clients"]
    public static let link = ["from", "to", "latency", "loss"]
    /// Parameters of each latency distribution (besides `distribution` itself).
    public static let latencyDistributions: [(name: String, parameters: [String])] = [
        ("constant", ["value"]),
        ("uniform", ["min", "max"]),
        ("normal", ["mean", "stddev"]),
        ("exponential", ["mean"]),
        ("lognormal", ["median", "sigma"]),
    ]
    public static let workload = [
        "clients", "mode", "think_time", "rate", "requests_per_client", "key_space", "read_ratio",
        "append_ratio", "value_size", "retry_timeout", "retry_timeout_max", "rate_changes",
    ]
    /// Keys of one `workload.rate_changes` entry.
    public static let rateChange = ["at", "rate"]
    public static let workloadModes = ["closed", "open"]
    public static let parameters = [
        "batch_size_max", "batch_delay_max", "checkpoint_interval", "watermark_window",
        "view_change_timeout", "view_change_timeout_max", "leader_schedule", "adaptive",
    ]
    /// Keys of `parameters.adaptive` (issue 18).
    public static let adaptive = ["epoch", "batch_size_max", "batch_delay_max", "view_change_timeout", "alpha"]
    /// The action keys of a timeline event; each event has `at` and exactly one of these.
    public static let timelineActions = [
        "crash", "partition", "isolate", "cut_link", "heal", "set_latency", "set_loss", "restart", "storage_fault",
        "message_fault",
    ]
    public static let restart = ["replica", "delay"]
    public static let storageFault = ["replica", "writes_lost"]
    public static let messageFault = ["action", "from", "to", "both_ways", "type", "views", "sequences", "until", "delay"]
    public static let twins = ["replicas", "round_leaders", "round_partitions"]
    public static let cutLink = ["from", "to", "one_way"]
    public static let setLatency = ["from", "to", "latency"]
    public static let setLoss = ["from", "to", "loss"]
    public static let byzantine = ["replica", "behaviour", "from", "until", "targets", "delay", "mutation", "script"]
    public static let scriptStep = ["at", "send", "view", "sequence", "value", "to", "view_changes", "parent"]
    public static let liveness = ["bound"]
    public static let expect = ["safety", "liveness"]
    public static let verdicts = ["holds", "violated"]

    /// Keys valid in a latency map: `distribution` plus every distribution's parameters.
    static var latencyAll: [String] {
        var keys = ["distribution"]
        for d in latencyDistributions { for p in d.parameters where !keys.contains(p) { keys.append(p) } }
        return keys
    }
}

extension ByzantineSpec {
    /// Behaviour names a scenario may use: the protocol-specific ones, then every generic layer of
    /// `LayerRegistry` (BFTCore: `silent`, `omit`, `slow`, `bad-signature`, `replay`, `amnesia`, each
    /// documented in its own file). `equivocate`: PBFT primary / HotStuff leader sends conflicting
    /// proposals to different halves. `fork-view-gap`, `fork-below-lock`: HotStuff leader scripts a fork
    /// that a commit rule without the consecutive-view check, or a vote rule without the lock check, would
    /// accept (Specs/HotStuff.md). `double-vote` (also votes for conflicting proposals it sees), `mutate`
    /// (changes `mutation` in its outgoing votes or proposals, re-signed), `conflict` (both versions to the
    /// same replica), `forge-sender` (signs its votes as another replica), `spam-view-change`
    /// (VIEW-CHANGE / TIMEOUT for far future views) and `script` read and re-sign their protocol's messages.
    public static let knownBehaviours: [String] = [
        "equivocate", "fork-view-gap", "fork-below-lock", "double-vote", "mutate", "forge-sender", "spam-view-change",
        "conflict", "script",
    ] + LayerRegistry.names
    /// Behaviours that replace the honest replica for the whole run (no `from`/`until`).
    public static let wholeRunBehaviours: [String] =
        ["equivocate", "fork-view-gap", "fork-below-lock", "script"] + LayerRegistry.all.filter(\.wholeRun).map(\.name)
    /// Fields `mutate` can change.
    public static let mutations: [String] = [
        "view+1", "view-1", "sequence+1", "sequence-1", "digest", "stale-certificate", "truncated-certificate",
        "forged-certificate", "requests", "conflicting-batch", "forged-request", "null-new-view", "short-new-view",
        "forged-state", "forged-batch", "duplicate-requests",
    ]
}

extension ByzantineSpec {
    /// Parses a command-line behaviour list for replica `replica`: `BEHAVIOUR[=PARAM][,BEHAVIOUR[=PARAM]...]`,
    /// e.g. `equivocate`, `mutate=forged-certificate`, `slow=200ms,conflict`, `omit=1/2` (a comma, not `+`, separates layers:
    /// `view+1` is a mutation). PARAM is the
    /// `mutation` of `mutate`/`conflict`, the `delay` of `slow`/`replay`, the `/`-separated `targets` of
    /// `omit`. Layers compose in the order given, as scenario-file entries do; whole-run behaviours
    /// (`equivocate`, `fork-*`, `amnesia`) wrap the replica itself. Throws a message naming the bad part.
    public static func parse(commandLine text: String, replica: Int) throws(ScenarioCommandLineError) -> [ByzantineSpec] {
        var specs: [ByzantineSpec] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            let pieces = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard let name = pieces.first, !name.isEmpty else { throw .init("'\(text)': empty behaviour") }
            guard knownBehaviours.contains(name) else {
                throw .init("unknown behaviour '\(name)' (known: \(knownBehaviours.joined(separator: ", ")))")
            }
            var spec = ByzantineSpec(replica: replica, behaviour: name)
            let param = pieces.count == 2 ? pieces[1] : nil
            switch (name, param) {
            case (_, let d?) where LayerRegistry.named(name)?.parameter == .delay:
                guard let delay = DurationSyntax.parse(d), delay > 0 else { throw .init("'\(name)=\(d)': not a positive duration (try 200ms)") }
                spec.delay = delay
            case (_, let t?) where LayerRegistry.named(name)?.parameter == .targets:
                let ids = t.split(separator: "/").map { Int($0) }
                guard !ids.isEmpty, ids.allSatisfy({ ($0 ?? -1) >= 0 }) else { throw .init("'\(name)=\(t)': targets are replica ids separated by /") }
                spec.targets = ids.compactMap { $0 }
            case ("mutate", let m), ("conflict", let m):
                let value = m ?? (name == "mutate" ? "digest" : "conflicting-batch")
                guard mutations.contains(value) else { throw .init("'\(name)=\(value)': unknown mutation (known: \(mutations.joined(separator: ", ")))") }
                spec.mutation = value
            case (_, let p?):
                throw .init("'\(name)=\(p)': behaviour '\(name)' takes no parameter")
            default:
                break
            }
            if specs.contains(where: { $0.behaviour == name }) { throw .init("'\(text)': behaviour '\(name)' given twice") }
            specs.append(spec)
        }
        if specs.filter({ wholeRunBehaviours.contains($0.behaviour) && LayerRegistry.named($0.behaviour) == nil }).count > 1 {
            throw .init("'\(text)': at most one of equivocate, fork-view-gap, fork-below-lock")
        }
        return specs
    }
}

/// A bad command-line behaviour list.
public struct ScenarioCommandLineError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
