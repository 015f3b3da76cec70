import BFTCore
import Checkers
import Runner
import ScenarioFormat

/// A path found by the explorer as an ordinary scenario file, replayed and shrunk through the simulator.
public enum ExploreReplay {
    /// `base` with the path as its explicit `schedule:` (the simulator then carries out exactly these steps).
    /// A path ending in `gst` runs on after it until every client is done (or the time limit).
    public static func scenario(_ base: Scenario, steps: [ScheduleStep]) -> Scenario {
        var s = base
        s.schedule = steps
        s.stop.untilClientsDone = steps.last == .gst
        return s
    }

    /// Events one replay may simulate: a mutant that storms (view changes on every spammed message) stops
    /// here instead of running to the simulator's 50 M default; verdicts then cover the run so far.
    public static let replayEventsMax = 2_000_000

    /// One simulator run of `scenario` within `replayEventsMax` (nil if it cannot run).
    static func replayOutcome(_ scenario: Scenario, driver: any ProtocolDriver) -> RunOutcome? {
        try? ScenarioRun.execute(scenario, driver: driver, eventsMax: replayEventsMax)
    }

    /// The first safety violation the simulator's checkers report for `scenario` (nil: none).
    public static func safetyViolation(_ scenario: Scenario, driver: any ProtocolDriver) -> Violation? {
        guard let outcome = replayOutcome(scenario, driver: driver), outcome.safety == .violated else { return nil }
        return outcome.checks.violations.first { $0.kind.isSafety }
    }

    /// The simulator's liveness verdict on `scenario` as written (its own network model, open-ended in
    /// time): the first liveness violation, nil when liveness holds. Used to confirm a bounded liveness
    /// failure of `bftsim explore --liveness` with the ordinary checkers.
    public static func livenessViolation(_ scenario: Scenario, driver: any ProtocolDriver) -> Violation? {
        replayOutcome(scenario, driver: driver).flatMap(firstLivenessViolation)
    }

    static func firstLivenessViolation(_ outcome: RunOutcome) -> Violation? {
        guard outcome.liveness == .violated else { return nil }
        return outcome.checks.violations.first { !$0.kind.isSafety }
    }

    /// The simulator's word on a bounded liveness failure: the liveness violation it reports, or the
    /// storm that stopped it on `replayEventsMax` events with requests still outstanding (a mutant that
    /// starts a view change on every spammed message never gets to the liveness deadline); nil when it
    /// completes every request.
    public static func livenessReplay(_ scenario: Scenario, driver: any ProtocolDriver) -> String? {
        guard let outcome = replayOutcome(scenario, driver: driver) else { return nil }
        if let v = firstLivenessViolation(outcome) {
            return "\(v.kind.rawValue) violation reproduced: \(v)"
        }
        let total = outcome.checks.issuedRequests
        if outcome.simulation.stoppedBecause == .eventBudget, outcome.checks.completedRequests < total {
            return "storm: the simulator stopped on its \(replayEventsMax)-event budget at \(outcome.simulation.endTime / nanosPerMillisecond) ms with \(outcome.checks.completedRequests) of \(total) request(s) completed, highest view \(outcome.highestView)"
        }
        return nil
    }

    /// Events a run may take after its `gst` step before it counts as a storm. A run of an explore
    /// scenario (a handful of requests) completes in a few thousand events once the faults stop.
    public static let gstEventsMax = 200_000

    /// Liveness after the faults of `scenario`'s schedule, which ends in `gst`: a request that never
    /// completes, by the end of the run (the scenario's time limit, 60 s by default, well past the
    /// protocols' largest backed-off timeout) or within `gstEventsMax` events (a storm); nil when every
    /// request completes. A request that completes after the liveness bound but before the end is not
    /// a stall: a view timeout that doubled during the faults may legitimately delay recovery past the
    /// bound (honest two-chain HotStuff needs up to ~17 s after two early timeouts and two drops), so
    /// the verdict here is "recovers at all", and the violation is the checker's own report.
    /// With `withinBound`, a request completed after the liveness bound counts too (`--liveness-bound`):
    /// the scenario's bound is then the property, as in `bftsim run`.
    public static func livenessAfterGST(_ scenario: Scenario, driver: any ProtocolDriver, withinBound: Bool = false) -> Violation? {
        guard scenario.schedule?.last == .gst,
              let outcome = try? ScenarioRun.execute(scenario, driver: driver, eventsMax: gstEventsMax) else { return nil }
        let total = outcome.checks.issuedRequests
        if withinBound, let v = firstLivenessViolation(outcome) { return v }
        guard outcome.checks.completedRequests < total else { return nil }
        if let v = firstLivenessViolation(outcome) { return v }
        return Violation(kind: .liveness, time: outcome.simulation.endTime, eventIndex: outcome.simulation.eventsProcessed, source: nil,
                         message: "after GST the run stopped (\(outcome.simulation.stoppedBecause)) at \(formatTime(outcome.simulation.endTime)) "
                            + "with \(outcome.checks.completedRequests) of \(total) request(s) completed, highest view \(outcome.highestView)")
    }

    /// The first violation of `kind` the simulator reports for `scenario` (liveness after GST for a
    /// schedule that ends in `gst`).
    public static func violation(_ scenario: Scenario, driver: any ProtocolDriver, kind: ViolationKind, withinBound: Bool = false) -> Violation? {
        kind.isSafety ? safetyViolation(scenario, driver: driver) : livenessAfterGST(scenario, driver: driver, withinBound: withinBound)
    }

    /// Greedy one-step-at-a-time removal (last step first), keeping a removal whenever the simulator
    /// still reports a violation of the same kind: a schedule where every remaining step is needed
    /// (1-minimal in the sense of Zeller's delta debugging). Steps keep their meaning when others are
    /// removed because messages are named by sender, receiver and byte hash (`ScheduleStep`).
    public static func shrink(_ scenario: Scenario, driver: any ProtocolDriver, kind: ViolationKind, withinBound: Bool = false,
                              runsMax: Int = 2000) -> (scenario: Scenario, runs: Int) {
        guard var steps = scenario.schedule else { return (scenario, 0) }
        var runs = 0
        var i = steps.count - 1
        while i >= 0, runs < runsMax {
            if steps[i] == .gst {  // the end of the adversary's part is not a step to remove
                i -= 1
                continue
            }
            var candidate = steps
            candidate.remove(at: i)
            runs += 1
            if violation(Self.scenario(scenario, steps: candidate), driver: driver, kind: kind, withinBound: withinBound)?.kind == kind {
                steps = candidate
            }
            i -= 1
        }
        return (Self.scenario(scenario, steps: steps), runs)
    }
}
