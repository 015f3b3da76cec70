/// Holds every message it sends for `delay` before it leaves (a replica on an overloaded host). Held
/// batches are bounded; beyond `heldMax` the oldest is released early.
public struct Slow: Misbehaviour {
    public static let heldMax = 4096
    let context: ByzantineContext
    let delay: Nanoseconds
    private var held: [UInt64: [ReplicaAction]] = [:]
    private var nextKey: UInt64 = 0
    private var oldestKey: UInt64 = 0

    public init(context: ByzantineContext, delay: Nanoseconds) {
        self.context = context
        self.delay = delay
    }

    public func owns(_ timer: TimerID) -> Bool { timer.kind == context.timerKind }

    public mutating func rewrite(_ input: ReplicaInput, _ inner: [ReplicaAction], into actions: inout [ReplicaAction]) {
        var sends: [ReplicaAction] = []
        for action in inner {
            switch action {
            case .send, .broadcast: sends.append(action)
            default: actions.append(action)
            }
        }
        guard !sends.isEmpty else { return }
        if held.count >= Slow.heldMax, let early = held.removeValue(forKey: oldestKey) {
            actions.append(contentsOf: early)
            actions.append(.cancelTimer(TimerID(kind: context.timerKind, key: oldestKey)))
        }
        let key = nextKey
        nextKey += 1
        held[key] = sends
        actions.append(.setTimer(TimerID(kind: context.timerKind, key: key), after: delay))
    }

    public mutating func onOwnTimer(_ timer: TimerID, into actions: inout [ReplicaAction]) {
        if let sends = held.removeValue(forKey: timer.key) { actions.append(contentsOf: sends) }
        while oldestKey < nextKey, held[oldestKey] == nil { oldestKey += 1 }
    }
}

extension Slow {
    /// `slow`: holds its messages for `delay` (default 1 s; 50–499 ms when fuzzed).
    public static let registration = LayerBehaviour(
        name: "slow", parameter: .delay, parameterRequired: true, make: { a, context in Slow(context: context, delay: a.delay ?? nanosPerSecond) },
        draw: { rng, _ in LayerArguments(delay: LayerBehaviour.randomDelay(&rng, lowMs: 50, spreadMs: 450)) })
}
