import BFTCore
import ScenarioFormat
import Testing

@Suite("Command-line Byzantine behaviour lists (cluster up --byzantine)")
struct CommandLineBehaviourTests {
    @Test("behaviours, parameters and layers parse in order")
    func parses() throws {
        let specs = try ByzantineSpec.parse(commandLine: "slow=200ms,mutate=forged-certificate,omit=0/2", replica: 3)
        #expect(specs.map(\.behaviour) == ["slow", "mutate", "omit"])
        #expect(specs.allSatisfy { $0.replica == 3 && $0.isAlwaysOn })
        #expect(specs[0].delay == 200 * nanosPerMillisecond)
        #expect(specs[1].mutation == "forged-certificate")
        #expect(specs[2].targets == [0, 2])
        #expect(try ByzantineSpec.parse(commandLine: "conflict", replica: 0).first?.mutation == "conflicting-batch")
        #expect(try ByzantineSpec.parse(commandLine: "mutate", replica: 0).first?.mutation == "digest")
        for name in ByzantineSpec.knownBehaviours { _ = try ByzantineSpec.parse(commandLine: name, replica: 1) }
    }

    @Test("bad lists say what is wrong", arguments: [
        ("colour", "unknown behaviour 'colour'"), ("mutate=colour", "unknown mutation"), ("slow=fast", "not a positive duration"),
        ("omit=a/b", "targets are replica ids"), ("silent=3", "takes no parameter"), ("silent,silent", "given twice"),
        ("equivocate,fork-below-lock", "at most one of"), ("slow=200ms,", "empty behaviour"),
    ])
    func rejects(text: String, message: String) {
        do {
            _ = try ByzantineSpec.parse(commandLine: text, replica: 1)
            Issue.record("'\(text)' was accepted")
        } catch {
            #expect(error.description.contains(message), "\(error.description)")
        }
    }
}
