/// The one contract between a state machine's actions and the shell that carries them out. The
/// simulator, the live replica host, the live load generator and the test shells all run a machine's
/// batch through `Runtime.interpret`, so the rules below are written once:
///
/// 1. **Persist before send, by construction.** Every `.persist` of a batch reaches the sink first, in
///    the order emitted; then, if anything in the batch leaves the replica or records a promise (a send,
///    a broadcast, `Observation.isPromise`), `sync()` once; then everything else in emission order. A
///    sink never sees a send before the persists of its batch, whatever order the machine listed them in
///    (`ReplicaAction`'s ordering contract), and a sink that syncs asynchronously (the live host) holds
///    what follows `sync()` until the persists are durable.
/// 2. **Self-addressed sends have one meaning:** a machine handles its own messages internally, so a send
///    addressed to the machine's own principal is never delivered back to it. It reaches the sink as
///    `sendToOtherInstances` — in the simulator's Twins the other instance of the same replica id is a
///    different node and receives it; every other shell drops it (the default).
/// 3. **Timers carry generations** (`TimerTable`): re-arming or cancelling makes an earlier firing stale,
///    and a stale firing is never handed to the machine.
/// 4. **A restart is observed:** `restartInputs` gives the `.restarted` observation a shell records
///    before `.recover`, so the checkers accept re-execution after a state transfer.
/// 5. **Observations are counted one way** (`ObservationCounters`) for summaries, stats and metrics.
public enum Runtime {
    /// Carries out one batch of `sender`'s actions on `sink` under the rules above.
    @inlinable
    public static func interpret<S: EffectSink>(_ actions: [ReplicaAction], sender: Principal, timers: inout TimerTable,
                                                into sink: inout S) {
        var needsDurability = false
        for action in actions {
            switch action {
            case .persist(let key, let bytes): sink.persist(key: key, bytes: bytes)
            case .send, .broadcast: needsDurability = true
            case .observe(let o) where o.isPromise: needsDurability = true
            default: continue
            }
        }
        if needsDurability { sink.sync() }
        for action in actions {
            switch action {
            case .persist:
                continue
            case .send(let bytes, let to):
                if to == sender { sink.sendToOtherInstances(bytes) } else { sink.send(bytes, to: to) }
            case .broadcast(let bytes):
                sink.broadcast(bytes)
            case .setTimer(let timer, let after):
                sink.setTimer(timer, after: after, generation: timers.arm(timer))
            case .cancelTimer(let timer):
                timers.cancel(timer)
                sink.cancelTimer(timer)
            case .observe(let o):
                sink.observe(o)
            }
        }
    }

    /// What a shell records and then hands a machine it rebuilt after a crash: the `.restarted`
    /// observation (its volatile state is gone; it may execute again what a state transfer skips), then
    /// `.recover` with what its storage had synced.
    public static func restartInputs(durable: [String: [UInt8]]) -> (observation: Observation, input: ReplicaInput) {
        (.restarted, .recover(durable: durable))
    }
}

/// The effects a shell carries out (see `Runtime`). Calls arrive in contract order: persists, at most
/// one `sync()`, then the rest in the order the machine emitted them.
public protocol EffectSink {
    /// Store `bytes` under `key` (durable once synced).
    mutating func persist(key: String, bytes: [UInt8])
    /// Every persist so far must be durable before any later effect of this batch leaves the process.
    mutating func sync()
    /// Send to another principal (never the sender itself).
    mutating func send(_ bytes: [UInt8], to: Principal)
    /// Send to every replica but the sender.
    mutating func broadcast(_ bytes: [UInt8])
    /// A send the machine addressed to itself: never delivered back to it. Default: dropped.
    mutating func sendToOtherInstances(_ bytes: [UInt8])
    /// Arm `timer` to fire after `after`; the firing carries `generation` (`TimerTable.fire`).
    mutating func setTimer(_ timer: TimerID, after: Nanoseconds, generation: UInt64)
    /// The timer no longer fires (the table already made any pending firing stale).
    mutating func cancelTimer(_ timer: TimerID)
    mutating func observe(_ observation: Observation)
}

extension EffectSink {
    public mutating func sendToOtherInstances(_ bytes: [UInt8]) {}
    public mutating func cancelTimer(_ timer: TimerID) {}
}

/// Armed timers of one machine with generations: a firing is current only if its generation is the one
/// the timer was last armed with and it has not been cancelled since. Generations are never reused by a
/// table (`removeAll` keeps the counter), so a firing scheduled before a crash can never pass for one
/// armed after the restart. Kept as two short arrays searched linearly (a machine arms a handful of
/// timers: no hashing per set, cancel or fire); nothing iterates it, so order is irrelevant.
public struct TimerTable: Sendable {
    @usableFromInline var ids: [TimerID] = []
    @usableFromInline var generations: [UInt64] = []
    @usableFromInline var next: UInt64 = 1

    public init() {}

    @inlinable
    func find(_ timer: TimerID) -> Int? {
        for i in ids.indices where ids[i] == timer { return i }
        return nil
    }

    /// Arms (or re-arms) `timer`; returns the generation its firing must carry.
    @inlinable
    public mutating func arm(_ timer: TimerID) -> UInt64 {
        let g = next
        next += 1
        if let i = find(timer) { generations[i] = g } else {
            ids.append(timer)
            generations.append(g)
        }
        return g
    }

    @inlinable
    public mutating func cancel(_ timer: TimerID) {
        guard let i = find(timer) else { return }
        ids.swapAt(i, ids.count - 1)
        generations.swapAt(i, generations.count - 1)
        ids.removeLast()
        generations.removeLast()
    }

    /// Whether a firing of `timer` with `generation` is current; a current firing disarms the timer.
    @inlinable
    public mutating func fire(_ timer: TimerID, generation: UInt64) -> Bool {
        guard let i = find(timer), generations[i] == generation else { return false }
        cancel(timer)
        return true
    }

    /// Whether `timer` is armed.
    public func isArmed(_ timer: TimerID) -> Bool { find(timer) != nil }

    /// Forgets every armed timer (a crash: volatile state is gone); generations keep counting.
    public mutating func removeAll() {
        ids.removeAll(keepingCapacity: true)
        generations.removeAll(keepingCapacity: true)
    }
}

/// The counters every shell keeps from a machine's observations (summaries, stats.json, metrics).
public struct ObservationCounters: Sendable, Equatable {
    public var committed = 0
    public var executed = 0
    public var lastCommittedSequence: UInt64 = 0
    public var highestView: UInt64 = 0
    public var viewChangesStarted = 0
    public var stateTransfers = 0
    /// Rejected messages per reason.
    public var rejected: [RejectReason: Int] = [:]

    public init() {}

    public mutating func count(_ o: Observation) {
        switch o {
        case .committed(let sequence, _, _, _):
            committed += 1
            lastCommittedSequence = max(lastCommittedSequence, sequence)
        case .executed: executed += 1
        case .viewEntered(let view, _): highestView = max(highestView, view)
        case .viewChangeStarted: viewChangesStarted += 1
        case .stateTransferred: stateTransfers += 1
        case .rejected(let reason, _): rejected[reason, default: 0] += 1
        default: break
        }
    }
}
