import BFTCore
import ScenarioFormat

/// Abstracts a run's observations into coverage states (the feedback of the guided strategy).
///
/// Per replica it tracks role (leader of its view or not), view lag to the highest view any replica
/// entered (0, 1, 2, 3+), lock relation (no lock / locked QC = high QC / one behind / further behind),
/// certificate and commit counts (log-bucketed), and the last three observation kinds (a stand-in for
/// message-type sequences, since checkers and the fuzzer see observations, never messages). Each
/// observation of a replica yields one state: a 64-bit FNV-1a hash of that tuple and the kind just seen.
/// Client observations are ignored. States are protocol-specific but replica-agnostic.
///
/// A second, coarser family pairs the run's *schedule features* (each Byzantine behaviour and mutation,
/// each fault kind, twins, the cluster size; `ScheduleFeatures`) with each observation kind the run
/// produced: "a fork-below-lock leader made a replica reject as conflicting" is a state of its own.
/// Without it a behaviour whose observable effects another behaviour also produces never earns a
/// corpus entry, and a corpus distilled by coverage alone ends up without whole behaviours (the
/// shipped HotStuff corpus had no fork script at all). This is the input-structure coverage of grammar
/// fuzzers (Havrikov and Zeller, "Systematically covering input structure", ASE'19) joined to the
/// output coverage above.
public final class CoverageTracker {
    struct ReplicaState {
        var view: UInt64 = 0
        var leader = false
        var lockView: UInt64? = nil
        var highQCView: UInt64 = 0
        var certificates = 0
        var commits = 0
        var kinds: (UInt8, UInt8) = (0, 0)
    }
    private var replicas: [ReplicaState]
    private var highestView: UInt64 = 0
    public private(set) var states: Set<UInt64> = []

    public init(replicas: Int, features: [UInt64] = []) {
        replicas_ = replicas
        self.replicas = Array(repeating: ReplicaState(), count: replicas)
        self.features = features
    }
    private let replicas_: Int
    private let features: [UInt64]
    /// Observation kinds seen (bit k: kind k), for the feature × kind states.
    private var kindsSeen: (UInt64, UInt64) = (0, 0)

    /// Every state the run reached: the per-observation states and the feature × kind pairs.
    public var allStates: Set<UInt64> {
        var all = states
        for feature in features {
            all.insert(feature)
            for k in 0..<128 where (k < 64 ? kindsSeen.0 >> UInt64(k) : kindsSeen.1 >> UInt64(k - 64)) & 1 == 1 {
                var h = FNV()
                h.add(feature); h.add(UInt64(k))
                all.insert(h.value)
            }
        }
        return all
    }

    public func observe(_ record: ObservationRecord) {
        guard let id = record.source.replicaID, id < replicas_ else { return }
        var r = replicas[id]
        let kind: UInt8
        switch record.observation {
        case .viewEntered(let view, let leader):
            r.view = view; r.leader = leader == id; highestView = max(highestView, view); kind = 1
        case .viewChangeStarted: kind = 2
        case .committed: r.commits += 1; kind = 3
        case .executed: kind = 4
        case .checkpointStable: kind = 5
        case .stateTransferred: kind = 6
        case .rejected(let reason, _): kind = 20 + UInt8(RejectReason.allCases.firstIndex(of: reason) ?? 0)
        case .pendingRequests: return
        case .voted: kind = 7
        case .blockCertified: r.certificates += 1; kind = 8
        case .blockCommitted: kind = 9
        case .locked(let view): r.lockView = view; kind = 10
        case .highQC(let view): r.highQCView = view; kind = 11
        case .timeoutCertified: kind = 12
        case .restarted: kind = 13
        case .requestIssued, .requestCompleted: return
        }
        let lag = min(highestView &- r.view, 3)
        let lock: UInt64
        if let l = r.lockView { lock = l >= r.highQCView ? 1 : (r.highQCView - l == 1 ? 2 : 3) } else { lock = 0 }
        var h = FNV()
        h.add(UInt64(kind)); h.add(UInt64(r.kinds.0)); h.add(UInt64(r.kinds.1))
        h.add(r.leader ? 1 : 0); h.add(lag); h.add(lock)
        h.add(UInt64(Self.bucket(r.certificates))); h.add(UInt64(Self.bucket(r.commits)))
        states.insert(h.value)
        if kind < 64 { kindsSeen.0 |= 1 << UInt64(kind) } else if kind < 128 { kindsSeen.1 |= 1 << UInt64(kind - 64) }
        r.kinds = (r.kinds.1, kind)
        replicas[id] = r
    }

    /// 0, 1, 2-3, 4-7, 8+ → 0...4.
    static func bucket(_ x: Int) -> Int { x <= 0 ? 0 : min(4, Int.bitWidth - x.leadingZeroBitCount) }
}

/// The schedule features of a scenario (hashed labels), for `CoverageTracker`'s feature × kind states.
public enum ScheduleFeatures {
    public static func of(_ s: Scenario) -> [UInt64] {
        var labels: Set<String> = ["n=\(s.replicas)"]
        for b in s.byzantine {
            // The same behaviour is a different adversary as the first view's leader, as the leader a
            // view change elects, and as a backup (Twins and ByzzFuzz aim at leaders for that reason),
            // so each behaviour and mutation also counts once per role.
            let role = Self.role(of: b.replica, in: s)
            labels.insert("byzantine:\(b.behaviour)")
            labels.insert("byzantine:\(b.behaviour)@\(role)")
            if let m = b.mutation {
                labels.insert("byzantine:\(b.behaviour):\(m)")
                labels.insert("byzantine:\(b.behaviour):\(m)@\(role)")
            }
            if !b.isAlwaysOn { labels.insert("byzantine:\(b.behaviour):window") }
        }
        for e in s.timeline {
            switch e.action {
            case .partition: labels.insert("fault:partition")
            case .isolate: labels.insert("fault:isolate")
            case .cutLink: labels.insert("fault:cut-link")
            case .heal, .setLatency: break
            case .setLoss: labels.insert("fault:loss")
            case .crash: labels.insert("fault:crash")
            case .restart: labels.insert("fault:restart")
            case .storageFault: labels.insert("fault:storage")
            case .messageFault(let m): labels.insert("fault:message-\(m.action.rawValue)")
            }
        }
        if s.twins != nil { labels.insert("twins") }
        if s.network.duplication > 0 { labels.insert("network:duplication") }
        if s.network.loss > 0 { labels.insert("network:loss") }
        // Heavy loss (a tenth or more) is what starts view changes in ordinary runs.
        if s.network.loss >= 0.1 { labels.insert("network:loss-heavy") }
        // Sorted, so the features (and so the states) do not depend on Set order.
        return labels.sorted().map { label in
            var h = FNV()
            for byte in label.utf8 { h.add(UInt64(byte)) }
            h.add(0xfeed)
            return h.value
        }
    }
}

extension ScheduleFeatures {
    /// A Byzantine replica's role: leader of the first view (PBFT's primary of view 0), leader of the
    /// view after it (the one a view change elects first), or neither. Both protocols rotate
    /// leaders round-robin (PBFT §4.1, HotStuff's P1) unless the scenario gives a leader schedule.
    static func role(of replica: Int, in s: Scenario) -> String {
        func leader(_ view: Int) -> Int {
            if s.protocolKind != .pbft, let schedule = s.parameters.leaderSchedule, !schedule.isEmpty {
                return schedule[view % schedule.count]
            }
            return view % max(1, s.replicas)
        }
        if replica == leader(0) { return "first-leader" }
        if replica == leader(1) { return "next-leader" }
        return "backup"
    }
}

/// FNV-1a over 64-bit words (stable across processes, unlike `Hasher`).
struct FNV {
    var value: UInt64 = 0xcbf2_9ce4_8422_2325
    mutating func add(_ x: UInt64) {
        var x = x
        for _ in 0..<8 {
            value ^= x & 0xff
            value &*= 0x0000_0100_0000_01b3
            x >>= 8
        }
    }
}
