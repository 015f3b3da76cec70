import BFTCore

/// Abstracts a run's observations into coverage states (the feedback of the guided strategy).
///
/// Per replica it tracks role (leader of its view or not), view lag to the highest view any replica
/// entered (0, 1, 2, 3+), lock relation (no lock / locked QC = high QC / one behind / further behind),
/// certificate and commit counts (log-bucketed), and the last three observation kinds (a stand-in for
/// message-type sequences, since checkers and the fuzzer see observations, never messages). Each
/// observation of a replica yields one state: a 64-bit FNV-1a hash of that tuple and the kind just seen.
/// Client observations are ignored. States are protocol-specific but replica-agnostic.
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

    public init(replicas: Int) { replicas_ = replicas; self.replicas = Array(repeating: ReplicaState(), count: replicas) }
    private let replicas_: Int

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
        r.kinds = (r.kinds.1, kind)
        replicas[id] = r
    }

    /// 0, 1, 2-3, 4-7, 8+ → 0...4.
    static func bucket(_ x: Int) -> Int { x <= 0 ? 0 : min(4, Int.bitWidth - x.leadingZeroBitCount) }
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
