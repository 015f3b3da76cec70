import Foundation
import Testing

@Suite("tune command line")
struct TuneCLITests {
    @Test("bftsim tune: a bad --param exits 3 naming the argument; the shipped tuning scenarios validate")
    func badParamAndScenarios() throws {
        // Proves the command's error path end to end (exit code 3, the argument quoted) and that every
        // scenario in Scenarios/tuning/ loads with its cost profile.
        let file = Paths.scenarios("tuning").first { $0.hasSuffix("pbft-lan-batching.yaml") }!
        let bad = try Paths.runCLI(["tune", file, "--param", "batch=1..10"])
        #expect(bad.status == 3)
        #expect(bad.err.contains("--param 'batch=1..10': unknown parameter 'batch' (did you mean 'batch_size_max'?)"))
        let empty = try Paths.runCLI(["tune", file, "--param", "batch_size_max=8..2"])
        #expect(empty.status == 3)
        #expect(empty.err.contains("--param 'batch_size_max=8..2': the range is empty"))
        let scenarios = Paths.scenarios("tuning")
        #expect(scenarios.count >= 3)
        for s in scenarios {
            let r = try Paths.runCLI(["validate", s])
            #expect(r.status == 0, "\(s): \(r.err)")
        }
    }
}
