import BFTCore

/// The property a violation breaks. Raw values are the names used in reports and summaries.
public enum ViolationKind: String, Sendable, Codable, CaseIterable {
    /// Two correct replicas (or one, twice) decided different things at one position of the order.
    case agreement
    /// A correct replica executed a request no client issued (or with other signed bytes).
    case validity
    /// A correct replica executed a request twice, or one request holds two positions of the order.
    case integrity
    /// A correct replica's execution log went backwards or skipped sequences.
    case totalOrder = "total-order"
    /// A client accepted a result that correct replicas did not produce.
    case clientResult = "client-result"
    /// A request did not complete within the liveness bound.
    case liveness
    /// HotStuff: correct replicas certified two different blocks in one view (Specs/HotStuff.md H-Q1, H-V1).
    case conflictingCertificates = "conflicting-certificates"
    /// HotStuff: blocks committed by correct replicas do not form one hash chain (H-C2, B1).
    case chain
    /// HotStuff: a correct replica's locked QC view decreased (H-L1).
    case lockRegression = "lock-regression"
    /// HotStuff: a correct replica voted twice in one view (H-V1).
    case doubleVote = "double-vote"

    /// Safety kinds are every kind except liveness.
    public var isSafety: Bool { self != .liveness }
}

/// One broken property, stamped with the record that broke it.
public struct Violation: Sendable, Equatable, CustomStringConvertible {
    public var kind: ViolationKind
    /// Time of the record that revealed the violation.
    public var time: Nanoseconds
    /// Event index of that record.
    public var eventIndex: UInt64
    /// Who emitted that record (nil when detected at the end of the run with no record to blame).
    public var source: Principal?
    /// One human sentence naming replicas, sequences and digests.
    public var message: String

    public init(kind: ViolationKind, time: Nanoseconds, eventIndex: UInt64, source: Principal?, message: String) {
        self.kind = kind
        self.time = time
        self.eventIndex = eventIndex
        self.source = source
        self.message = message
    }

    /// `[agreement] t=1.234s event 56 r1: ...`
    public var description: String {
        let who = source.map { " \($0)" } ?? ""
        return "[\(kind.rawValue)] t=\(formatTime(time)) event \(eventIndex)\(who): \(message)"
    }
}

/// Whether a class of properties held over the run.
/// `1.234s` with millisecond precision (sub-millisecond values as microseconds), no Foundation.
public func formatTime(_ t: Nanoseconds) -> String {
    let sign = t < 0 ? "-" : ""
    let a = t.magnitude
    if a < 1_000_000 && a != 0 {
        return "\(sign)\(a / 1_000)µs"
    }
    let ms = a / 1_000_000
    let frac = ms % 1_000
    let pad = frac < 10 ? "00" : (frac < 100 ? "0" : "")
    return "\(sign)\(ms / 1_000).\(pad)\(frac)s"
}
