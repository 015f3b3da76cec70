import BFTCore

/// The pacemaker seam (relab/hotstuff's `synchronizer`): how a replica whose view timed out asks to
/// move on, and which messages move views. Yin et al. (PODC'19 §4–5) separate it from the safety
/// rules: a pacemaker only decides when replicas enter views and who proposes, so it affects
/// liveness and never safety. The shared machinery (view timer with backoff, P2/P4; QCs and TCs
/// moving views, P3; laggard help, P9) lives in `HotStuffReplica+Pacemaker`; what differs lives here.
///
/// Two implementations: `NewViewPacemaker` (chained HotStuff's NEW-VIEW announcements, Alg. 5 with
/// Bracha-style amplification, P7–P12) and `TimeoutCertificatePacemaker` (two-chain HotStuff's
/// TIMEOUTs aggregated into timeout certificates, Gelashvili et al., Jolteon FC'22 §4; T1–T4).
/// A new view-synchronisation scheme is one new conforming type.
protocol Pacemaker: Sendable {
    /// P4: the replica's timer for `view` fired (already disarmed, counted in the backoff and observed).
    func onViewTimeout(of view: UInt64, _ replica: inout HotStuffReplica, _ actions: inout [ReplicaAction])
    /// P12: whether a NEW-VIEW for `m.view` shows its sender is behind a replica in `currentView`.
    func isLate(_ m: NewView, currentView: UInt64) -> Bool
    /// Keeps a verified NEW-VIEW as its sender's announcement (before its highQC is learned).
    func record(_ m: NewView, _ replica: inout HotStuffReplica)
    /// A verified NEW-VIEW after its highQC and vote were learned: views it moves (P10, P7).
    func onAnnouncement(_ m: NewView, from: Principal, _ replica: inout HotStuffReplica, _ actions: inout [ReplicaAction])
    /// T1: a TIMEOUT message.
    func onTimeout(_ m: Timeout, from: Principal, _ replica: inout HotStuffReplica, _ actions: inout [ReplicaAction])
    /// P12: announcements forwarded in a SYNC; false when this pacemaker rejected the SYNC as malformed.
    func onForwarded(_ announcements: [NewView], from: Principal, _ replica: inout HotStuffReplica,
                     _ actions: inout [ReplicaAction]) -> Bool
    /// P12: a SYNC's highest TC (T2).
    func onSyncedTimeoutCertificate(_ tc: TimeoutCertificate, from: Principal, _ replica: inout HotStuffReplica,
                                    _ actions: inout [ReplicaAction])
    /// P5: the certificate that lets the leader propose in the current view when its highQC is not of
    /// the previous view: `.some(nil)` when no TC is needed, `.some(tc)` for a TC, nil if not ready.
    func proposalJustification(_ replica: HotStuffReplica) -> TimeoutCertificate??
    /// P5: whether the current view was entered on others' timeouts.
    func enteredOnTimeouts(_ replica: HotStuffReplica) -> Bool
}
