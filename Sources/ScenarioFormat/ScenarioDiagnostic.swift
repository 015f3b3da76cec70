/// One problem in a scenario file, located at the node that causes it (STYLE.md: "Errors a person can act on").
public struct ScenarioDiagnostic: Error, CustomStringConvertible, Sendable, Equatable {
    public var file: String
    /// 1-based line.
    public var line: Int
    /// 1-based column, counted in Unicode scalars (as libyaml counts them).
    public var column: Int
    public var message: String

    /// `file:line:column: message`, the form editors and terminals turn into a link.
    public var description: String { "\(file):\(line):\(column): \(message)" }
}

/// Every problem found in one scenario file, in source order (not just the first).
public struct ScenarioErrors: Error, CustomStringConvertible, Sendable, Equatable {
    public var diagnostics: [ScenarioDiagnostic]

    public init(diagnostics: [ScenarioDiagnostic]) { self.diagnostics = diagnostics }

    /// One diagnostic per line.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// "Did you mean ...?" suggestions by edit distance.
enum Suggestion {
    /// The candidate closest to `word`, if it is close enough to be a plausible misspelling.
    ///
    /// Case and underscores are ignored first (`timeLimit` suggests `time_limit`); then the optimal
    /// string alignment distance (a transposition counts as one edit) must be small for the word's length.
    static func closest(to word: String, in candidates: [String]) -> String? {
        let normalizedWord = normalize(word)
        if let exact = candidates.first(where: { normalize($0) == normalizedWord }) { return exact }
        guard word.count <= 64 else { return nil }
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let d = distance(Array(word.lowercased()), Array(candidate.lowercased()))
            let allowed = candidate.count <= 3 ? 1 : max(2, candidate.count / 3)
            guard d <= allowed else { continue }
            if best == nil || d < best!.distance { best = (candidate, d) }
        }
        return best?.candidate
    }

    /// `unknown key 'x' (did you mean 'y'?)`, or the list of valid choices when nothing is close.
    static func hint(for word: String, in candidates: [String]) -> String {
        if let s = closest(to: word, in: candidates) { return "did you mean '\(s)'?" }
        return "expected one of: " + candidates.joined(separator: ", ")
    }

    private static func normalize(_ s: String) -> String {
        s.lowercased().filter { $0 != "_" && $0 != "-" }
    }

    /// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var v = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    v = min(v, d[i - 2][j - 2] + 1)
                }
                d[i][j] = v
            }
        }
        return d[a.count][b.count]
    }
}
