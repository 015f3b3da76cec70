/// One Byzantine behaviour, as a layer around an honest replica (relab/hotstuff `rules/byzantine`).
///
/// The honest replica handles every input; each active layer, innermost first, rewrites the batch the
/// layers inside it emitted. A behaviour never changes the honest rules: it only lies about what they
/// produced, so it stays small and works unchanged with any protocol whose messages it needs not read.
/// A new behaviour is one new type conforming to this protocol.
public protocol Misbehaviour {
    /// Rewrites `inner` (what the replica would emit for `input`) into what this faulty replica emits.
    mutating func rewrite(_ input: ReplicaInput, _ inner: [ReplicaAction], into actions: inout [ReplicaAction])
    /// The input the honest replica gets instead of `input` (amnesia replaces recovered state).
    mutating func filter(_ input: ReplicaInput) -> ReplicaInput
    /// Whether `timer` is one this layer armed for itself (the honest replica never sees it).
    func owns(_ timer: TimerID) -> Bool
    /// Handles a timer this layer owns.
    mutating func onOwnTimer(_ timer: TimerID, into actions: inout [ReplicaAction])
}

extension Misbehaviour {
    public mutating func filter(_ input: ReplicaInput) -> ReplicaInput { input }
    public func owns(_ timer: TimerID) -> Bool { false }
    public mutating func onOwnTimer(_ timer: TimerID, into actions: inout [ReplicaAction]) {}
}

/// Who a behaviour runs as: its replica id and the cluster size (to expand broadcasts).
public struct ByzantineContext: Sendable {
    public var id: ReplicaID
    public var n: Int
    /// Timer kind reserved for this layer's own timers (distinct per layer, above protocol kinds).
    public var timerKind: UInt16

    /// The context of layer `layer` (the entry's index among the scenario's Byzantine entries) of replica
    /// `id`: its timer kind is 0xB000 + layer, above every protocol's kinds, one per layer (4096 at most).
    public init(id: ReplicaID, n: Int, layer: Int = 0) {
        self.id = id
        self.n = n
        timerKind = 0xB000 + UInt16(layer & 0xFFF)
    }
    /// Every other replica, in id order.
    public var others: [ReplicaID] { (0..<n).filter { $0 != id } }
}

/// A machine whose Byzantine layers the shell can switch on and off (time windows in scenarios).
public protocol LayeredMachine {
    /// Turns the layer built from scenario entry `tag` on or off.
    mutating func setLayer(_ tag: Int, active: Bool)
}

/// A Byzantine replica: an honest machine plus behaviour layers, each in force only while active.
public struct ByzantineReplica: StateMachine, LayeredMachine {
    public struct Layer {
        public var behaviour: any Misbehaviour
        public var active: Bool
        /// Index of the scenario's byzantine entry this layer came from.
        public var tag: Int
        public init(behaviour: any Misbehaviour, active: Bool, tag: Int) {
            self.behaviour = behaviour
            self.active = active
            self.tag = tag
        }
    }

    public private(set) var honest: any StateMachine
    public private(set) var layers: [Layer]
    private var scratch: [ReplicaAction] = []
    private var rewritten: [ReplicaAction] = []

    public init(honest: any StateMachine, layers: [Layer]) {
        self.honest = honest
        self.layers = layers
    }

    public var principal: Principal { honest.principal }

    public mutating func setLayer(_ tag: Int, active: Bool) {
        for i in layers.indices where layers[i].tag == tag { layers[i].active = active }
    }

    public mutating func handle(_ input: ReplicaInput, into actions: inout [ReplicaAction]) {
        if case .timer(let t) = input, let i = layers.firstIndex(where: { $0.behaviour.owns(t) }) {
            layers[i].behaviour.onOwnTimer(t, into: &actions)
            return
        }
        var given = input
        for i in layers.indices where layers[i].active { given = layers[i].behaviour.filter(given) }
        scratch.removeAll(keepingCapacity: true)
        honest.handle(given, into: &scratch)
        for i in layers.indices where layers[i].active {
            rewritten.removeAll(keepingCapacity: true)
            layers[i].behaviour.rewrite(input, scratch, into: &rewritten)
            swap(&scratch, &rewritten)
        }
        actions.append(contentsOf: scratch)
    }
}

extension ReplicaAction {
    /// Whether this action sends bytes to a replica (a client reply is not counted).
    public var isReplicaSend: Bool {
        switch self {
        case .broadcast: return true
        case .send(_, let to): return to.replicaID != nil
        default: return false
        }
    }
}

extension Misbehaviour {
    /// Rewrites the bytes of every replica-bound send and broadcast with `transform` (nil keeps them).
    public func rewriteSends(_ inner: [ReplicaAction], into actions: inout [ReplicaAction],
                             _ transform: ([UInt8]) -> [UInt8]?) {
        for action in inner {
            switch action {
            case .broadcast(let bytes):
                actions.append(.broadcast(transform(bytes) ?? bytes))
            case .send(let bytes, let to) where to.replicaID != nil:
                actions.append(.send(transform(bytes) ?? bytes, to: to))
            default:
                actions.append(action)
            }
        }
    }
}

/// Who gets a rewritten message and in which order: the small-scope mutation of ByzzFuzz (Winter et
/// al., ICSE'23), where a chosen message goes altered to a chosen subset of recipients while the
/// others get the original, and the "conflicting messages in both orders" case, where each chosen
/// recipient gets both versions.
public struct RewriteScope: Sendable, Equatable {
    /// Recipients of the rewritten version (nil: every recipient).
    public var targets: [ReplicaID]?
    /// Each target gets the original and the rewritten version: targets with even ids the original
    /// first, odd ids the rewritten first, so the same conflict arrives in both orders.
    public var both: Bool
    public init(targets: [ReplicaID]? = nil, both: Bool = false) {
        self.targets = targets
        self.both = both
    }
    /// Everyone gets the rewritten version only (the classic whole-run rewrite).
    public static let everyone = RewriteScope()
}

extension Misbehaviour {
    /// Rewrites replica-bound sends and broadcasts with `transform` (nil keeps a message) within `scope`:
    /// a broadcast whose recipients differ in what they get is expanded to one send per recipient.
    public func rewriteSends(_ inner: [ReplicaAction], into actions: inout [ReplicaAction], context: ByzantineContext,
                             scope: RewriteScope, _ transform: ([UInt8]) -> [UInt8]?) {
        guard scope != .everyone else { return rewriteSends(inner, into: &actions, transform) }
        for action in inner {
            let recipients: [ReplicaID], bytes: [UInt8]
            switch action {
            case .broadcast(let b): (recipients, bytes) = (context.others, b)
            case .send(let b, let to) where to.replicaID != nil: (recipients, bytes) = ([to.replicaID!], b)
            default: actions.append(action); continue
            }
            guard let altered = transform(bytes) else { actions.append(action); continue }
            for r in recipients {
                let targeted = scope.targets?.contains(r) ?? true
                if !targeted {
                    actions.append(.send(bytes, to: .replica(r)))
                } else if scope.both {
                    let (first, second) = r % 2 == 0 ? (bytes, altered) : (altered, bytes)
                    actions.append(.send(first, to: .replica(r)))
                    actions.append(.send(second, to: .replica(r)))
                } else {
                    actions.append(.send(altered, to: .replica(r)))
                }
            }
        }
    }
}
