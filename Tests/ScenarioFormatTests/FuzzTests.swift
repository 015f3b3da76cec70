import ScenarioFormat
import Testing

/// Applies one random edit: truncation, deletion, insertion of YAML-significant characters,
/// duplication or swap of lines, or replacing a number with an extreme one.
func mutate(_ text: String, _ rng: inout TestRNG) -> String {
    var chars = Array(text)
    guard !chars.isEmpty else { return "x" }
    let alphabet = Array(":{}[]-,#&*!|>'\"%@` \n\t0123456789abcxyz.~?µ\u{0}\u{FEFF}é")
    switch rng.below(7) {
    case 0:
        return String(chars.prefix(rng.below(chars.count)))
    case 1:
        let start = rng.below(chars.count)
        let end = min(chars.count, start + 1 + rng.below(20))
        chars.removeSubrange(start..<end)
    case 2:
        for _ in 0..<(1 + rng.below(4)) { chars.insert(rng.pick(alphabet), at: rng.below(chars.count + 1)) }
    case 3:
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let i = rng.below(lines.count)
        lines.insert(lines[i], at: rng.below(lines.count + 1))
        return lines.joined(separator: "\n")
    case 4:
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines.swapAt(rng.below(lines.count), rng.below(lines.count))
        return lines.joined(separator: "\n")
    case 5:
        if let i = chars.indices.filter({ chars[$0].isNumber }).randomElementDeterministic(&rng) {
            let replacement = rng.pick(["99999999999999999999999", "-1", "0", "1e308", "nan", "-0", "4.5", "1025", "18446744073709551616"])
            chars.replaceSubrange(i...i, with: Array(replacement))
        }
    default:
        chars[rng.below(chars.count)] = rng.pick(alphabet)
    }
    return String(chars)
}

extension Array {
    func randomElementDeterministic(_ rng: inout TestRNG) -> Element? { isEmpty ? nil : self[rng.below(count)] }
}

@Suite("scenario fuzzing")
struct FuzzTests {
    @Test("fuzz: 600 mutations of valid YAML and JSON never crash and always locate their errors")
    func mutations() {
        // Proves the loader survives malformed input and every diagnostic has a real position.
        var rng = TestRNG(state: 42)
        var rejected = 0
        for i in 0..<600 {
            var text = i % 2 == 0 ? fullExampleYAML : fullExampleJSON
            for _ in 0..<(1 + rng.below(3)) { text = mutate(text, &rng) }
            let d = diagnostics(text, file: "fuzz.yaml")
            if !d.isEmpty { rejected += 1 }
            for diagnostic in d {
                #expect(diagnostic.line >= 1 && diagnostic.column >= 1, "\(diagnostic)")
                #expect(!diagnostic.message.isEmpty)
            }
        }
        #expect(rejected > 100)
    }

    @Test("fuzz: random garbage and every truncation of the example never crash")
    func garbageAndTruncation() {
        // Proves the parser handles inputs that are not YAML at all, and every prefix of a valid file.
        var rng = TestRNG(state: 1)
        let alphabet = Array(":{}[]-,#&*!|>'\"%@` \n\t0123456789abcxyz.~?µ")
        for _ in 0..<300 {
            let garbage = String((0..<rng.below(200)).map { _ in rng.pick(alphabet) })
            _ = diagnostics(garbage)
        }
        let chars = Array(fullExampleYAML)
        for cut in stride(from: 0, through: chars.count, by: 7) {
            _ = diagnostics(String(chars.prefix(cut)))
        }
        #expect(diagnostics(String(repeating: "[", count: 5000)).count == 1)
        #expect(diagnostics("a: &x [1]\nb: *x\nc: *y\n").count == 1)
    }
}
