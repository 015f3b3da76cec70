/// Replays old messages: it remembers messages other replicas sent it and, every `delay`, re-broadcasts
/// up to `burstMax` of those it received before the previous tick. Receivers must treat them as the
/// duplicates or stale messages they are. The memory is a bounded ring.
public struct Replay: Misbehaviour {
    public static let rememberedMax = 64
    public static let burstMax = 8
    let context: ByzantineContext
    let delay: Nanoseconds
    private var remembered: [[UInt8]] = []
    private var next = 0
    private var armed = false

    public init(context: ByzantineContext, delay: Nanoseconds) {
        self.context = context
        self.delay = delay
    }

    public func owns(_ timer: TimerID) -> Bool { timer.kind == context.timerKind }

    public mutating func rewrite(_ input: ReplicaInput, _ inner: [ReplicaAction], into actions: inout [ReplicaAction]) {
        actions.append(contentsOf: inner)
        if case .message(let from, let bytes) = input, from.replicaID != nil {
            if remembered.count < Replay.rememberedMax {
                remembered.append(bytes)
            } else {
                remembered[next % Replay.rememberedMax] = bytes
                next += 1
            }
        }
        if !armed {
            armed = true
            actions.append(.setTimer(TimerID(kind: context.timerKind), after: delay))
        }
    }

    public mutating func onOwnTimer(_ timer: TimerID, into actions: inout [ReplicaAction]) {
        for i in 0..<min(Replay.burstMax, remembered.count) {
            actions.append(.broadcast(remembered[(next + i) % remembered.count]))
        }
        next += Replay.burstMax
        actions.append(.setTimer(TimerID(kind: context.timerKind), after: delay))
    }
}

extension Replay {
    /// `replay`: re-sends what it received `delay` ago (default 500 ms; 100–799 ms when fuzzed).
    public static let registration = LayerBehaviour(
        name: "replay", parameter: .delay, make: { a, context in Replay(context: context, delay: a.delay ?? 500 * nanosPerMillisecond) },
        draw: { rng, _ in LayerArguments(delay: LayerBehaviour.randomDelay(&rng, lowMs: 100, spreadMs: 700)) })
}
