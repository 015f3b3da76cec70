import BFTCore
import Foundation
import Yams

/// Reads scenario files (YAML, or JSON through the same parser) into a validated `Scenario`.
///
/// Every problem is reported as `file:line:column: message`, pointing at the offending node, and all
/// problems of a file are reported together.
public enum ScenarioLoader {
    /// Reads and parses the file at `path`. An unreadable file is a diagnostic at 1:1.
    public static func load(path: String) throws(ScenarioErrors) -> Scenario {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ScenarioErrors(diagnostics: [ScenarioDiagnostic(file: path, line: 1, column: 1,
                                                                  message: "cannot read the file: \(error.localizedDescription)")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ScenarioErrors(diagnostics: [ScenarioDiagnostic(file: path, line: 1, column: 1,
                                                                  message: "the file is not valid UTF-8")])
        }
        return try parse(text, file: path)
    }

    /// Parses scenario text; `file` names it in diagnostics.
    public static func parse(_ text: String, file: String) throws(ScenarioErrors) -> Scenario {
        // Some editors start UTF-8 files with a byte-order mark; libyaml (through Yams) rejects it there.
        let text = text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
        if let problem = YAMLAliasGuard.check(text) {
            throw ScenarioErrors(diagnostics: [ScenarioDiagnostic(file: file, line: problem.line, column: problem.column,
                                                                  message: problem.message)])
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ScenarioErrors(diagnostics: [syntaxDiagnostic(error, text: text, file: file)])
        }
        guard let root, !root.isNull else {
            throw ScenarioErrors(diagnostics: [ScenarioDiagnostic(file: file, line: 1, column: 1,
                                                                  message: "the scenario is empty (it needs at least 'name' and 'replicas')")])
        }
        var parser = ScenarioParser(file: file)
        let scenario = parser.scenario(root)
        guard let scenario, parser.diagnostics.isEmpty else {
            // Source order; the sort is stable so problems at one node keep the order they were found in.
            let sorted = parser.diagnostics.enumerated().sorted {
                ($0.element.line, $0.element.column, $0.offset) < ($1.element.line, $1.element.column, $1.offset)
            }.map(\.element)
            var all = sorted
            if parser.omitted > 0, let last = sorted.last {
                all.append(ScenarioDiagnostic(file: file, line: last.line, column: last.column,
                                              message: "... and \(parser.omitted) more problems (only the first \(ScenarioParser.diagnosticsMax) are listed)"))
            }
            throw ScenarioErrors(diagnostics: all)
        }
        return scenario
    }

    /// Parses a duration: `150ms`, `2s`, `500us`, `10ns`, `1.5s`, `2m`; a plain integer is nanoseconds.
    /// A leading `-` gives a negative value (the loader rejects those with its own message). `nil` when
    /// malformed, not a whole number of nanoseconds, or out of range.
    public static func parseDuration(_ s: String) -> Nanoseconds? { DurationSyntax.parse(s) }

    /// The canonical spelling of a duration, in the largest unit that divides it exactly (`1500ms`).
    public static func formatDuration(_ value: Nanoseconds) -> String { DurationSyntax.format(value) }

    // MARK: YAML syntax errors

    static func syntaxDiagnostic(_ error: any Error, text: String, file: String) -> ScenarioDiagnostic {
        func at(_ mark: Mark, _ message: String) -> ScenarioDiagnostic {
            at(SourcePosition(line: mark.line, column: mark.column), message)
        }
        func at(_ mark: SourcePosition, _ message: String) -> ScenarioDiagnostic {
            ScenarioDiagnostic(file: file, line: max(1, mark.line), column: max(1, mark.column), message: message)
        }
        func contextNote(_ context: YamlError.Context?) -> String {
            guard let context else { return "" }
            return " (\(context.text) that starts at \(context.mark.line):\(context.mark.column))"
        }
        guard let yamlError = error as? YamlError else {
            return ScenarioDiagnostic(file: file, line: 1, column: 1, message: "invalid YAML: \(error)")
        }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            return at(mark, "invalid YAML: \(problem)\(contextNote(context))")
        case .reader(let problem, let offset, _, _):
            let mark = offset.map { position(ofCharacterOffset: $0, in: text) } ?? SourcePosition(line: 1, column: 1)
            return at(mark, "invalid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let key = duplicates.first ?? "?"
            let first = context.mark
            if let second = laterOccurrence(ofKey: key, after: first, in: text) {
                return at(second, "duplicate key '\(key)' (first defined at \(first.line):\(first.column))")
            }
            return at(first, "duplicate key '\(key)'")
        default:
            return ScenarioDiagnostic(file: file, line: 1, column: 1, message: "invalid YAML: \(yamlError)")
        }
    }

    /// Line and column (1-based, in Unicode scalars) of a character offset.
    static func position(ofCharacterOffset offset: Int, in text: String) -> SourcePosition {
        var line = 1, column = 1, count = 0
        for ch in text {
            if count >= offset { break }
            if ch == "\n" || ch == "\r\n" { line += 1; column = 1 } else { column += ch.unicodeScalars.count }
            count += 1
        }
        return SourcePosition(line: line, column: column)
    }

    /// Yams reports a duplicate key at its first occurrence; a reader fixes the second one, so find it:
    /// the next place after `first` where `key` (optionally quoted) is followed by `:`.
    static func laterOccurrence(ofKey key: String, after first: Mark, in text: String) -> SourcePosition? {
        guard !key.isEmpty else { return nil }
        // "\r\n" is one Character in Swift, so split on Unicode scalars.
        let lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false)
        guard first.line >= 1, first.line <= lines.count else { return nil }
        for lineIndex in (first.line - 1)..<lines.count {
            let scalars = Array(lines[lineIndex])
            let keyScalars = Array(key.unicodeScalars)
            var start = 0
            if lineIndex == first.line - 1 { start = first.column - 1 + 1 }
            var i = max(0, start)
            while i + keyScalars.count <= scalars.count {
                let quoted = scalars[i] == "\"" || scalars[i] == "'"
                let keyStart = quoted ? i + 1 : i
                let boundaryBefore = i == 0 || [" ", "{", ",", "\t"].contains(scalars[i - 1])
                if boundaryBefore, keyStart + keyScalars.count <= scalars.count,
                   Array(scalars[keyStart..<(keyStart + keyScalars.count)]) == keyScalars {
                    var j = keyStart + keyScalars.count
                    if quoted, j < scalars.count, scalars[j] == scalars[i] { j += 1 } else if quoted { i += 1; continue }
                    while j < scalars.count, scalars[j] == " " { j += 1 }
                    if j < scalars.count, scalars[j] == ":" {
                        if lineIndex == first.line - 1, i <= first.column - 1 { i += 1; continue }
                        return SourcePosition(line: lineIndex + 1, column: i + 1)
                    }
                }
                i += 1
            }
        }
        return nil
    }
}

/// A 1-based line and column (Yams' `Mark` cannot be created outside Yams).
struct SourcePosition {
    var line: Int
    var column: Int
}
