import BFTCore
import ScenarioFormat
import Testing

@Suite("durations")
struct DurationTests {
    @Test("durations: every unit, fractions and plain nanoseconds parse exactly")
    func parsesUnits() {
        // Proves the duration syntax the README documents, including exact decimal fractions.
        #expect(ScenarioLoader.parseDuration("150ms") == 150_000_000)
        #expect(ScenarioLoader.parseDuration("2s") == 2_000_000_000)
        #expect(ScenarioLoader.parseDuration("500us") == 500_000)
        #expect(ScenarioLoader.parseDuration("500µs") == 500_000)
        #expect(ScenarioLoader.parseDuration("10ns") == 10)
        #expect(ScenarioLoader.parseDuration("1.5s") == 1_500_000_000)
        #expect(ScenarioLoader.parseDuration("0.001s") == 1_000_000)
        #expect(ScenarioLoader.parseDuration("2m") == 120_000_000_000)
        #expect(ScenarioLoader.parseDuration("1h") == 3_600_000_000_000)
        #expect(ScenarioLoader.parseDuration("12345") == 12345)
        #expect(ScenarioLoader.parseDuration("0") == 0)
        #expect(ScenarioLoader.parseDuration(" 3 ms ") == 3_000_000)
        #expect(ScenarioLoader.parseDuration("-5ms") == -5_000_000)
    }

    @Test("durations: malformed, sub-nanosecond and overflowing values are rejected")
    func rejectsMalformed() {
        // Proves parseDuration returns nil instead of guessing or trapping.
        for bad in ["", "ms", "1.5", "1.5ns", "abc", "5 xs", "1..5s", ".5s", "5.s", "1e3ms", "99999999999h",
                    "9223372036854775808", "--5s", "5sm", "0x10ms"] {
            #expect(ScenarioLoader.parseDuration(bad) == nil, "\(bad)")
        }
    }

    @Test("durations: the canonical spelling uses the largest exact unit and parses back")
    func formatsCanonically() {
        // Proves encodeYAML's durations round-trip.
        #expect(ScenarioLoader.formatDuration(0) == "0s")
        #expect(ScenarioLoader.formatDuration(1_500_000_000) == "1500ms")
        #expect(ScenarioLoader.formatDuration(120_000_000_000) == "2m")
        #expect(ScenarioLoader.formatDuration(7) == "7ns")
        for v: Nanoseconds in [0, 1, 999, 1_000, 2_500_000, 60_000_000_000, 3_600_000_000_001, Int64.max] {
            #expect(ScenarioLoader.parseDuration(ScenarioLoader.formatDuration(v)) == v)
        }
    }
}
