/// A Byzantine replica that plays a script of timed steps (a SPIN counterexample replayed message for
/// message): the honest core still runs but none of its replica-bound sends leave; each step gets its own
/// timer, armed at start; a step that comes due while what it needs has not arrived waits, and every
/// message the replica learns from retries the waiting steps in due order. PBFT's and HotStuff's scripts
/// differ only in what they learn and what a step sends (§4 of Castro & Liskov and of Yin et al.: a faulty
/// replica sends anything under its own identity).
public protocol ScriptedMisbehaviour: Misbehaviour {
    var context: ByzantineContext { get }
    var steps: [ScriptStep] { get }
    /// Steps whose time came while what they need was missing, in due order.
    var waiting: [Int] { get set }
    /// Remembers what a received message carries that later steps need.
    mutating func learn(_ bytes: [UInt8])
    /// Sends step `i`, or appends it to `waiting` when what it needs has not arrived yet.
    mutating func fire(_ i: Int, into actions: inout [ReplicaAction])
}

extension ScriptedMisbehaviour {
    public func owns(_ timer: TimerID) -> Bool { timer.kind == context.timerKind }

    public mutating func rewrite(_ input: ReplicaInput, _ inner: [ReplicaAction], into actions: inout [ReplicaAction]) {
        for action in inner where !action.isReplicaSend { actions.append(action) }
        switch input {
        case .start:
            for (i, step) in steps.enumerated() {
                actions.append(.setTimer(TimerID(kind: context.timerKind, key: UInt64(i)), after: step.at))
            }
        case .message(_, let bytes):
            learn(bytes)
            let due = waiting
            waiting.removeAll()
            for i in due { fire(i, into: &actions) }
        default:
            break
        }
    }

    public mutating func onOwnTimer(_ timer: TimerID, into actions: inout [ReplicaAction]) {
        guard timer.key < UInt64(steps.count) else { return }
        fire(Int(timer.key), into: &actions)
    }
}
