import BFTCore
import Histogram

/// Issue→complete latencies of a run in bounded memory (issue 19: a 1,000,000-request run must not
/// grow by 8 bytes a request). Every latency goes into an HdrHistogram (three significant digits, what
/// the summaries print); the first `samplesMax` are also kept exactly, in completion order, for tests
/// and small runs, whose percentiles are then exact.
public struct LatencyRecord: Sendable {
    public static let samplesMax = 1 << 16
    /// Longest latency the histogram tells apart (longer ones are recorded as this).
    public static let trackableMax: UInt64 = 3_600 * 1_000_000_000
    /// The first `samplesMax` latencies, in completion order.
    public private(set) var samples: [Nanoseconds] = []
    public private(set) var count = 0
    public private(set) var sum: Int64 = 0
    public private(set) var histogram = Histogram<UInt64>(highestTrackableValue: trackableMax, numberOfSignificantValueDigits: .three)

    public init() {}

    /// Whether `samples` holds every latency (then exact percentiles come from it).
    public var isComplete: Bool { samples.count == count }

    mutating func record(_ latency: Nanoseconds) {
        count += 1
        sum += latency
        if samples.count < Self.samplesMax { samples.append(latency) }
        _ = histogram.record(Swift.min(UInt64(Swift.max(0, latency)), Self.trackableMax))
    }

    /// The longest latency recorded (histogram precision).
    public var max: Nanoseconds { Nanoseconds(histogram.max) }

    /// The histogram's value at `percentile` (0–100).
    public func histogramPercentile(_ percentile: Double) -> Nanoseconds {
        Nanoseconds(histogram.valueAtPercentile(percentile))
    }
}
