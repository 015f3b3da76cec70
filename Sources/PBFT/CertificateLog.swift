/// A committed certificate (rules N5, S5): a PRE-PREPARE and `quorum` matching COMMITs from distinct
/// replicas, what a BATCH carries. Unlike a log slot it survives view changes (rule V5 replaces the
/// log), so a replica can still prove to a laggard that a batch it executed committed.
struct CommittedCertificate {
    var prePrepare: PrePrepare
    var commits: [Commit]
}

/// Certificates by sequence — prepared (rule N3) or committed (rule S5) — in an array indexed by
/// `sequence mod L` like `SlotLog`.
///
/// Same contents as a `[UInt64: Certificate]`. A certificate is recorded only for a sequence
/// that holds a log slot, so inside (h, h + L] at that moment (rule N1); rule K3 discards every
/// certificate at or below h whenever h moves, and h never decreases. Two live sequences are then
/// less than L apart and never share an index (`insert` checks it). No hashing per sequence, no
/// filtering pass over a hash table at garbage collection. Bounded by L.
struct CertificateLog<Certificate> {
    /// Sequence held at each index; 0 means free (sequence 0 is the genesis checkpoint).
    private var sequences: [UInt64]
    /// Grown on first insert up to the highest index used, like `SlotLog`'s slots: every index with a
    /// nonzero sequence is below `certificates.count`.
    private var certificates: [Certificate?] = []
    private(set) var count = 0

    init(window: Int) {
        precondition(window > 0, "window must be positive")
        sequences = Array(repeating: 0, count: window)
    }

    @inline(__always)
    private func position(_ sequence: UInt64) -> Int { Int(sequence % UInt64(sequences.count)) }

    /// Records (or replaces) the certificate for `sequence`.
    mutating func insert(_ certificate: Certificate, at sequence: UInt64) {
        precondition(sequence != 0, "sequence 0 has no certificate")
        let i = position(sequence)
        if sequences[i] != sequence {
            precondition(sequences[i] == 0, "two live certificates share an index: the window invariant broke")
            sequences[i] = sequence
            count += 1
        }
        while certificates.count <= i { certificates.append(nil) }
        certificates[i] = certificate
    }

    /// The certificate for `sequence`, if any.
    subscript(sequence: UInt64) -> Certificate? {
        let i = position(sequence)
        return sequence != 0 && sequences[i] == sequence ? certificates[i] : nil
    }

    /// Certificates above `sequence`, in ascending sequence order (what a VIEW-CHANGE carries, rule V1).
    func sorted(above sequence: UInt64) -> [Certificate] {
        var held: [(UInt64, Int)] = []
        for i in sequences.indices where sequences[i] != 0 && sequences[i] > sequence { held.append((sequences[i], i)) }
        held.sort { $0.0 < $1.0 }
        return held.map { certificates[$0.1]! }
    }

    /// Rule K3: discards every certificate at or below `sequence`.
    mutating func removeAll(atOrBelow sequence: UInt64) {
        guard count > 0 else { return }
        for i in sequences.indices where sequences[i] != 0 && sequences[i] <= sequence {
            sequences[i] = 0
            certificates[i] = nil
            count -= 1
        }
    }
}
