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

    @Test("persist before send holds for every batch: 2,000 random batches in any emission order")
    func persistBeforeSendForAnyOrder() {
        // Proves the guarantee is the runtime's, not the machine's: however a batch lists its actions,
        // the sink sees every persist, then one sync, before anything leaves; the wrong order cannot reach it.
        var rng = DeterministicRNG(seed: 14, stream: "runtime/persist-order")
        for _ in 0..<2_000 {
            var batch: [ReplicaAction] = []
            for k in 0..<(1 + Int(rng.below(8))) {
                switch rng.below(5) {
                case 0: batch.append(.persist(key: "k\(k)", bytes: [UInt8(k)]))
                case 1: batch.append(.send([UInt8(k)], to: .replica(1 + Int(rng.below(3)))))
                case 2: batch.append(.broadcast([UInt8(k)]))
                case 3: batch.append(.setTimer(TimerID(kind: UInt16(k)), after: 1))
                default: batch.append(.observe(.voted(view: UInt64(k), digest: .zero)))
                }
            }
            var timers = TimerTable()
            var sink = RecordingSink()
            Runtime.interpret(batch, sender: .replica(0), timers: &timers, into: &sink)
            let leaves = sink.log.indices.filter { sink.log[$0].hasPrefix("send") || sink.log[$0].hasPrefix("broadcast") }
            let persists = sink.log.indices.filter { sink.log[$0].hasPrefix("persist") }
            let syncs = sink.log.indices.filter { sink.log[$0] == "sync" }
            #expect(syncs.count <= 1, "one sync per batch: \(sink.log)")
            if let firstLeave = leaves.first {
                #expect(syncs.first.map { $0 < firstLeave } == true, "a send left before the sync: \(sink.log)")
                #expect(persists.allSatisfy { $0 < syncs[0] }, "a persist came after the sync: \(sink.log)")
            }
            #expect(persists == Array(0..<persists.count), "persists come first, in emission order: \(sink.log)")
        }
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
