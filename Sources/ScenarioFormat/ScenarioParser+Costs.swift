import BFTCore
import Foundation
import Yams

extension ScenarioParser {
    // MARK: Costs (issue 15)

    /// `costs:` is either a profile file's path (relative to the scenario file, else to the working
    /// directory) or an inline table with the profile's keys.
    mutating func costs(_ node: Node) -> CostTable? {
        if case .scalar(let s) = node, !node.isNull {
            return profile(at: s.string, node: node)
        }
        return costTable(node)
    }

    /// Reads a profile file (as `bftsim calibrate` writes it); its problems are reported at their place in it.
    mutating func profile(at path: String, node: Node) -> CostTable? {
        let candidates = path.hasPrefix("/") ? [path]
            : [URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(path).path, path]
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }),
              let text = try? String(contentsOfFile: found, encoding: .utf8) else {
            error(node, "cannot read the cost profile '\(path)' (looked at \(candidates.joined(separator: " and ")))")
            return nil
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            let d = ScenarioLoader.syntaxDiagnostic(error, text: text, file: found)
            self.error(node, "cost profile \(d.file):\(d.line):\(d.column): \(d.message)")
            return nil
        }
        guard let root else {
            error(node, "the cost profile '\(found)' is empty")
            return nil
        }
        var inner = ScenarioParser(file: found)
        let table = inner.costTable(root)
        for d in inner.diagnostics { error(node, "cost profile \(d.file):\(d.line):\(d.column): \(d.message)") }
        return inner.diagnostics.isEmpty ? table : nil
    }

    /// An inline cost table.
    mutating func costTable(_ node: Node) -> CostTable? {
        guard let spec = fields(node, allowed: ScenarioKeys.costs, what: "a cost table", allowNull: false) else { return nil }
        var table = CostTable()
        if let v = spec["message"] {
            if case .scalar = v, let c = cost(v, "message") {
                table.messageDefault = c
            } else if let m = fields(v, allowed: ["default"] + CostTable.messageTypes, what: "'message' costs (by message type)") {
                for (key, _, value) in m.entries {
                    guard let c = cost(value, key) else { continue }
                    if key == "default" { table.messageDefault = c } else { table.messages[key] = c }
                }
            }
        }
        if let v = spec["byte"], let c = cost(v, "byte") { table.byte = c }
        if let v = spec["send"], let c = cost(v, "send") { table.send = c }
        if let v = spec["timer"], let c = cost(v, "timer") { table.timer = c }
        if let v = spec["execute"], let c = cost(v, "execute") { table.execute = c }
        if let v = spec["sync"], let c = cost(v, "sync") { table.sync = c }
        if let v = spec["sync_cpu"], let c = cost(v, "sync_cpu") { table.syncCPU = c }
        if let v = spec["handoff"], let c = cost(v, "handoff") { table.handoff = c }
        if let v = spec["wakeup"], let c = cost(v, "wakeup") { table.wakeup = c }
        if let v = spec["sign"], let c = schemeCosts(v, "sign") { table.sign = c }
        if let v = spec["verify"], let c = schemeCosts(v, "verify") { table.verify = c }
        if let v = spec["scheme"], let text = choice(v, SignatureScheme.allCases.map(\.rawValue), what: "crypto scheme") {
            table.scheme = SignatureScheme(rawValue: text)
        }
        return table
    }

    /// One cost for every scheme, or a map by scheme name (schemes left out cost nothing).
    mutating func schemeCosts(_ node: Node, _ name: String) -> CostTable.SchemeCosts? {
        if case .scalar = node { return cost(node, name).map { CostTable.SchemeCosts(all: $0) } }
        let schemes = SignatureScheme.allCases.map(\.rawValue)
        guard let m = fields(node, allowed: schemes, what: "'\(name)' costs (by signature scheme)", allowNull: false) else { return nil }
        var costs = CostTable.SchemeCosts()
        for (key, _, value) in m.entries {
            guard let c = cost(value, "\(name).\(key)"), let scheme = SignatureScheme(rawValue: key) else { continue }
            costs[scheme] = c
        }
        return costs
    }

    /// A CPU cost between 0 and one second: `0.4ns`, `12us`, `1.5ms`; a plain number is nanoseconds.
    mutating func cost(_ node: Node, _ name: String) -> Picoseconds? {
        quantity(node, name, what: "a cost", examples: "0.4ns, 12us or 1.5ms",
                 syntax: "a number and a unit: ps, ns, us, ms, s; plain numbers are nanoseconds", parse: CostSyntax.parseCost,
                 max: CostTable.costMax, maxText: "1s of CPU time")
    }

    /// A link bandwidth between 1 kbit/s and 1 Tbit/s, with its unit.
    mutating func bandwidth(_ node: Node) -> Int64? {
        guard case .scalar(let s) = node else {
            error(node, "expected a bandwidth (like 25Mbit/s or 1Gbit/s), got \(Self.describe(node))")
            return nil
        }
        guard let bps = CostSyntax.parseBandwidth(s.string) else {
            error(node, "expected a bandwidth with a unit (bit/s, kbit/s, Mbit/s, Gbit/s, bps, Mbps, Gbps, B/s, kB/s, MB/s, GB/s), got '\(s.string)'")
            return nil
        }
        guard bps >= CostSyntax.bandwidthMin, bps <= CostSyntax.bandwidthMax else {
            error(node, "bandwidth must be between 1kbit/s and 1000Gbit/s, got '\(s.string)'")
            return nil
        }
        return bps
    }

    /// `hosts:` a list of {cores, replicas, clients}; each replica and client on at most one host.
    mutating func hosts(_ node: Node, clientCount: Int) -> [HostSpec] {
        guard let items = sequence(node, what: "'hosts'") else { return [] }
        var result: [HostSpec] = []
        var placedReplicas = Set<Int>(), placedClients = Set<Int>()
        var allClientsSeen = false
        for item in items {
            guard let spec = fields(item, allowed: ScenarioKeys.host, what: "a host", allowNull: false) else { continue }
            var host = HostSpec()
            if let v = requireKey(spec, "cores", what: "a host"), let c = integer(v, "cores", atLeast: 1, atMost: 1024) { host.cores = c }
            if let v = spec["replicas"], let list = sequence(v, what: "a host's replicas") {
                for r in list {
                    guard let id = replicaID(r) else { continue }
                    if !placedReplicas.insert(id).inserted { error(r, "replica \(id) is already placed on another host"); continue }
                    host.replicas.append(id)
                }
            }
            if let v = spec["clients"] {
                if case .scalar(let s) = v, s.string == "all" {
                    if allClientsSeen || !placedClients.isEmpty { error(v, "'clients: all' leaves no client for another host") }
                    allClientsSeen = true
                    host.allClients = true
                } else if let list = sequence(v, what: "a host's clients (a list of client ids, or all)") {
                    for c in list {
                        guard let id = integer(c, "client id", atLeast: 0) else { continue }
                        if id >= clientCount { error(c, "client \(id) does not exist: the workload has \(clientCount) clients"); continue }
                        if allClientsSeen || !placedClients.insert(id).inserted { error(c, "client \(id) is already placed on another host"); continue }
                        host.clients.append(id)
                    }
                }
            }
            result.append(host)
        }
        return result
    }
}
