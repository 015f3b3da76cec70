import BFTCore
import ScenarioFormat
import Testing

private let header = "name: x\nreplicas: 4\n"

@Suite("adaptive parameters parsing")
struct AdaptiveParseTests {
    @Test("adaptive: parameters.adaptive parses choices, epoch and alpha; absent choices are the static value")
    func parses() throws {
        // Proves the key reaches ProtocolParameters with every field, and the defaults.
        let text = header + "parameters:\n  batch_size_max: 10\n  adaptive:\n    epoch: 8\n    batch_size_max: [4, 32]\n    batch_delay_max: [0ms, 5ms]\n    alpha: 0.25\n"
        #expect(messages(text).isEmpty)
        let s = try ScenarioLoader.parse(text, file: "s.yaml")
        let a = try #require(s.parameters.adaptive)
        #expect(a.epoch == 8)
        #expect(a.batchSizeChoices == [4, 32])
        #expect(a.batchDelayChoices == [0, 5 * nanosPerMillisecond])
        #expect(a.viewChangeTimeoutChoices == [s.parameters.viewChangeTimeout])
        #expect(a.alpha == 0.25)
        #expect(a.arms.count == 4)
        #expect(try ScenarioLoader.parse(header, file: "s.yaml").parameters.adaptive == nil)
    }

    @Test("adaptive: bad adaptive input gets positioned errors")
    func positionedErrors() {
        // Proves each adaptive error points at the offending node.
        #expect(messages(header + "parameters:\n  adaptive:\n    epohc: 4\n")
            == ["s.yaml:5:5: unknown key 'epohc' (did you mean 'epoch'?)"])
        #expect(messages(header + "parameters:\n  adaptive:\n    batch_size_max: []\n")
            == ["s.yaml:5:21: adaptive batch_size_max needs between 1 and 64 choices, got 0"])
        #expect(messages(header + "parameters:\n  adaptive:\n    batch_size_max: [4, 0]\n")
            == ["s.yaml:5:25: batch_size_max must be between 1 and \(ProtocolLimits.batchSizeMax), got 0"])
        #expect(messages(header + "parameters:\n  adaptive:\n    epoch: 100\n")
            == ["s.yaml:5:12: epoch must be between 1 and 32, got 100"])
        #expect(messages(header + "parameters:\n  adaptive:\n    alpha: -1\n")
            == ["s.yaml:5:12: alpha must be a number between 0 and 100"])
        #expect(messages(header + "parameters:\n  adaptive: 5\n")
            == ["s.yaml:4:13: expected a mapping for 'adaptive', got '5'"])
    }
}
