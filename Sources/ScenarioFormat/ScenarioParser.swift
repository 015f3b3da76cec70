import BFTCore
import Yams

/// The keys of one YAML mapping, checked against the keys valid at that level.
struct Fields {
    var entries: [(key: String, keyNode: Node, value: Node)] = []
    /// The mapping's own node, for "missing key" diagnostics.
    var node: Node?
    /// Valid keys already suggested for misspelled ones; no second "missing key" error for those.
    var suggested: [String] = []

    subscript(key: String) -> Node? { entries.first { $0.key == key }?.value }
    func keyNode(_ key: String) -> Node? { entries.first { $0.key == key }?.keyNode }
    func has(_ key: String) -> Bool { entries.contains { $0.key == key } }
}

/// Walks a composed YAML tree, collecting every diagnostic instead of stopping at the first.
///
/// Each reader returns `nil` after recording a diagnostic; callers then fall back to the model's
/// default so the walk continues and later problems are reported too.
struct ScenarioParser {
    let file: String
    private(set) var diagnostics: [ScenarioDiagnostic] = []
    /// Replica count, once known and valid; replica ids are range-checked against it.
    var replicaCount: Int?

    init(file: String) { self.file = file }

    // MARK: Diagnostics

    /// Diagnostics kept; past it the rest are counted (`omitted`), so a file of thousands of bad
    /// elements (or aliases expanding to them) cannot exhaust memory with messages.
    static let diagnosticsMax = 100
    private(set) var omitted = 0

    mutating func error(_ node: Node?, _ message: String) {
        guard diagnostics.count < Self.diagnosticsMax else { omitted += 1; return }
        let mark = node?.mark
        diagnostics.append(ScenarioDiagnostic(file: file, line: max(1, mark?.line ?? 1), column: max(1, mark?.column ?? 1),
                                              message: message))
    }

    /// How a node reads in an error message: `'abc'`, `nothing`, `a mapping`, `a list`.
    static func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let s):
            if node.isNull { return "nothing" }
            let text = s.string.count > 40 ? String(s.string.prefix(40)) + "..." : s.string
            switch s.style {
            case .singleQuoted, .doubleQuoted: return "the string \"\(text)\""
            default: return "'\(text)'"
            }
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    // MARK: Structure

    /// The entries of a mapping after reporting unknown keys. A null node (an empty section) reads as
    /// an empty mapping when `allowNull`; anything else that is not a mapping is an error.
    mutating func fields(_ node: Node, allowed: [String], what: String, allowNull: Bool = true) -> Fields? {
        if allowNull && node.isNull { return Fields(entries: [], node: node) }
        guard case .mapping(let mapping) = node else {
            error(node, "expected a mapping for \(what), got \(Self.describe(node))")
            return nil
        }
        var result = Fields(entries: [], node: node)
        for (keyNode, value) in mapping {
            guard case .scalar(let keyScalar) = keyNode, !keyNode.isNull else {
                error(keyNode, "expected a key name in \(what), got \(Self.describe(keyNode))")
                continue
            }
            let key = keyScalar.string
            guard allowed.contains(key) else {
                error(keyNode, "unknown key '\(key)' (\(Suggestion.hint(for: key, in: allowed)))")
                if let s = Suggestion.closest(to: key, in: allowed) { result.suggested.append(s) }
                continue
            }
            result.entries.append((key, keyNode, value))
        }
        return result
    }

    mutating func sequence(_ node: Node, what: String) -> [Node]? {
        if node.isNull { return [] }
        guard case .sequence(let s) = node else {
            error(node, "expected a list for \(what), got \(Self.describe(node))")
            return nil
        }
        return Array(s)
    }

    mutating func requireKey(_ fields: Fields, _ key: String, what: String) -> Node? {
        if let node = fields[key] { return node }
        guard !fields.suggested.contains(key) else { return nil }
        error(fields.node, what == "the scenario" ? "missing required key '\(key)'" : "missing required key '\(key)' in \(what)")
        return nil
    }

    // MARK: Scalars

    /// A plain (unquoted) scalar's text: numbers and booleans must not be quoted.
    private mutating func plainScalar(_ node: Node, expected: String) -> String? {
        guard case .scalar(let s) = node, !node.isNull, s.style == .plain || s.style == .any else {
            error(node, "expected \(expected), got \(Self.describe(node))")
            return nil
        }
        return s.string
    }

    mutating func integer(_ node: Node) -> Int? {
        number(node, expected: "an integer", invalid: "an integer")
    }

    /// A plain scalar parsed as `T`; `expected` names the wanted kind of scalar, `invalid` what the text failed to be.
    private mutating func number<T: FixedWidthInteger>(_ node: Node, expected: String, invalid: String) -> T? {
        guard let text = plainScalar(node, expected: expected) else { return nil }
        guard let value = T(text) else {
            error(node, "expected \(invalid), got '\(text)'")
            return nil
        }
        return value
    }

    /// An integer in `range`; `name` is the key, used in the message.
    mutating func integer(_ node: Node, _ name: String, atLeast low: Int, atMost high: Int = Int.max) -> Int? {
        guard let value = integer(node) else { return nil }
        if value < low {
            error(node, high == Int.max ? "\(name) must be at least \(low), got \(value)"
                                        : "\(name) must be between \(low) and \(high), got \(value)")
            return nil
        }
        if value > high {
            error(node, "\(name) must be between \(low) and \(high), got \(value)")
            return nil
        }
        return value
    }

    mutating func unsigned(_ node: Node) -> UInt64? {
        number(node, expected: "a non-negative integer", invalid: "a non-negative integer below 2^64")
    }

    mutating func number(_ node: Node) -> Double? {
        guard let text = plainScalar(node, expected: "a number") else { return nil }
        guard let value = Double(text), value.isFinite, !text.hasPrefix("0x"), !text.hasPrefix("-0x") else {
            error(node, "expected a number, got '\(text)'")
            return nil
        }
        return value
    }

    mutating func probability(_ node: Node, _ name: String) -> Double? {
        guard let value = number(node) else { return nil }
        guard value >= 0, value <= 1 else {
            error(node, "\(name) must be a probability in [0, 1], got \(node.scalar?.string ?? "\(value)")")
            return nil
        }
        return value
    }

    mutating func boolean(_ node: Node) -> Bool? {
        guard let text = plainScalar(node, expected: "true or false") else { return nil }
        switch text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default:
            error(node, "expected true or false, got '\(text)'")
            return nil
        }
    }

    mutating func string(_ node: Node) -> String? {
        guard case .scalar(let s) = node, !node.isNull else {
            error(node, "expected a string, got \(Self.describe(node))")
            return nil
        }
        return s.string
    }

    /// One of `options`, with a suggestion when misspelled.
    mutating func choice(_ node: Node, _ options: [String], what: String) -> String? {
        guard let text = string(node) else { return nil }
        guard options.contains(text) else {
            error(node, "unknown \(what) '\(text)' (\(Suggestion.hint(for: text, in: options)))")
            return nil
        }
        return text
    }

    /// A non-negative duration (`150ms`, `2s`; a plain integer is nanoseconds).
    mutating func duration(_ node: Node, _ name: String) -> Nanoseconds? {
        quantity(node, name, what: "a duration", examples: "150ms or 2s",
                 syntax: "like 150ms, 2s, 1.5s, 500us; plain integers are nanoseconds", parse: DurationSyntax.parse,
                 max: ProtocolLimits.durationMax, maxText: "\(DurationSyntax.format(ProtocolLimits.durationMax)) of simulated time")
    }

    /// A scalar `parse` reads, between 0 and `max`: the checks durations and CPU costs share, each
    /// failure with its own positioned message.
    mutating func quantity(_ node: Node, _ name: String, what: String, examples: String, syntax: String,
                           parse: (String) -> Int64?, max: Int64, maxText: String) -> Int64? {
        guard case .scalar(let s) = node, !node.isNull else {
            error(node, "expected \(what) for \(name) (like \(examples)), got \(Self.describe(node))")
            return nil
        }
        guard let value = parse(s.string) else {
            error(node, "expected \(what) for \(name) (\(syntax)), got '\(s.string)'")
            return nil
        }
        guard value >= 0 else {
            error(node, "\(name) must not be negative, got '\(s.string)'")
            return nil
        }
        guard value <= max else {
            error(node, "\(name) must be at most \(maxText), got '\(s.string)'")
            return nil
        }
        return value
    }

    /// A timer's timeout, inside `ProtocolLimits.timeoutMin...timeoutMax` (shorter ones turn a run into
    /// a timer storm; the replicas need a positive timeout).
    mutating func timeout(_ node: Node, _ name: String) -> Nanoseconds? {
        guard let value = duration(node, name) else { return nil }
        guard value >= ProtocolLimits.timeoutMin, value <= ProtocolLimits.timeoutMax else {
            error(node, "\(name) must be between \(DurationSyntax.format(ProtocolLimits.timeoutMin)) and "
                  + "\(DurationSyntax.format(ProtocolLimits.timeoutMax)), got '\(DurationSyntax.format(value))'")
            return nil
        }
        return value
    }

    /// A duration that must be strictly positive (timeouts, limits).
    mutating func positiveDuration(_ node: Node, _ name: String) -> Nanoseconds? {
        guard let value = duration(node, name) else { return nil }
        guard value > 0 else {
            error(node, "\(name) must be positive, got '\(DurationSyntax.format(value))'")
            return nil
        }
        return value
    }

    /// A replica id in `0..<n` (unchecked when n itself is invalid).
    mutating func replicaID(_ node: Node) -> Int? {
        guard let value = integer(node) else { return nil }
        guard value >= 0 else {
            error(node, "replica ids are non-negative, got \(value)")
            return nil
        }
        if let n = replicaCount, value >= n {
            error(node, "replica \(value) does not exist: replicas are 0...\(n - 1)")
            return nil
        }
        return value
    }
}

extension Node {
    /// True for an empty value, `~` and `null` (the YAML null forms), unquoted.
    var isNull: Bool {
        guard case .scalar(let s) = self else { return false }
        guard s.style == .plain || s.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(s.string)
    }
}
