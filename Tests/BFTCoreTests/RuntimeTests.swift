import BFTCore
import Testing

/// Records what a shell would do, in order.
private struct RecordingSink: EffectSink {
    var log: [String] = []
    mutating func persist(key: String, bytes: [UInt8]) { log.append("persist \(key)") }
    mutating func sync() { log.append("sync") }
    mutating func send(_ bytes: [UInt8], to: Principal) { log.append("send \(bytes[0]) to \(to)") }
    mutating func broadcast(_ bytes: [UInt8]) { log.append("broadcast \(bytes[0])") }
    mutating func sendToOtherInstances(_ bytes: [UInt8]) { log.append("self \(bytes[0])") }
    mutating func setTimer(_ timer: TimerID, after: Nanoseconds, generation: UInt64) { log.append("timer \(timer.kind) gen \(generation)") }
    mutating func cancelTimer(_ timer: TimerID) { log.append("cancel \(timer.kind)") }
    mutating func observe(_ observation: Observation) { log.append("observe \(observation.kind)") }
}

@Suite("runtime contract")
struct RuntimeTests {
    @Test("a send listed before its persist still leaves after it: persists, one sync, then the batch in order")
    func persistBeforeSendByConstruction() {
        var timers = TimerTable()
        var sink = RecordingSink()
        let vote = Observation.voted(view: 3, digest: .zero)
        Runtime.interpret([.send([1], to: .replica(2)), .observe(vote), .persist(key: "safety", bytes: [9]), .broadcast([2]),
                           .persist(key: "log", bytes: [8])],
                          sender: .replica(0), timers: &timers, into: &sink)
        #expect(sink.log == ["persist safety", "persist log", "sync", "send 1 to r2", "observe vote", "broadcast 2"])
    }

    @Test("a promise alone (a vote handed to itself as the next leader) needs the sync too; a batch that only observes does not")
    func promisesNeedDurability() {
        var timers = TimerTable()
        var sink = RecordingSink()
        Runtime.interpret([.persist(key: "safety", bytes: []), .observe(.locked(view: 2))], sender: .replica(0), timers: &timers, into: &sink)
        #expect(sink.log == ["persist safety", "sync", "observe locked"])
        sink.log = []
        Runtime.interpret([.persist(key: "x", bytes: []), .observe(.executed(sequence: 1, index: 0, request: RequestID(client: 0, timestamp: 1),
                                                                               requestDigest: .zero, result: .zero))],
                          sender: .replica(0), timers: &timers, into: &sink)
        #expect(sink.log == ["persist x", "observe execute"])
    }

    @Test("a send addressed to the sender itself is never a send: it goes to the other instances (Twins) or nowhere")
    func selfAddressed() {
        var timers = TimerTable()
        var sink = RecordingSink()
        Runtime.interpret([.send([5], to: .replica(1)), .send([6], to: .replica(0))], sender: .replica(1), timers: &timers, into: &sink)
        #expect(sink.log == ["sync", "self 5", "send 6 to r0"])
    }

    @Test("timer generations: re-arming or cancelling makes an earlier firing stale, and a crash never reuses a generation")
    func timerGenerations() {
        var table = TimerTable()
        let t = TimerID(kind: 1)
        let first = table.arm(t)
        let second = table.arm(t)
        do { let fired = table.fire(t, generation: first); #expect(!fired) }
        do { let fired = table.fire(t, generation: second); #expect(fired) }
        do { let fired = table.fire(t, generation: second); #expect(!fired) }  // a firing disarms
        let third = table.arm(t)
        table.cancel(t)
        do { let fired = table.fire(t, generation: third); #expect(!fired) }
        let beforeCrash = table.arm(t)
        table.removeAll()
        let afterRestart = table.arm(t)
        #expect(afterRestart != beforeCrash)
        do { let fired = table.fire(t, generation: beforeCrash); #expect(!fired) }
        do { let fired = table.fire(t, generation: afterRestart); #expect(fired) }
    }

    @Test("counters: one way to count what a machine observed")
    func counters() {
        var c = ObservationCounters()
        for o: Observation in [.committed(sequence: 4, view: 1, digest: .zero, requestCount: 2), .committed(sequence: 2, view: 1, digest: .zero, requestCount: 1),
                               .viewEntered(view: 3, leader: 3), .viewChangeStarted(view: 4), .rejected(reason: .stale, from: .replica(1)),
                               .rejected(reason: .stale, from: .replica(2))] {
            c.count(o)
        }
        #expect(c.committed == 2 && c.lastCommittedSequence == 4 && c.highestView == 3 && c.viewChangesStarted == 1)
        #expect(c.rejected[.stale] == 2)
        #expect(Runtime.restartInputs(durable: [:]).observation == .restarted)
    }
}
