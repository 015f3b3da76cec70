import BFTCore
import Histogram

/// Issue→complete latencies of a run in bounded memory (issue 19: a 1,000,000-request run must not
/// grow by 8 bytes a request). The first `samplesMax` are kept exactly, in completion order; from then
/// on every latency goes into an HdrHistogram (three significant digits, what the summaries print),
/// which is created only then, so the many short runs of a fuzz campaign never pay for one.
public struct LatencyRecord: Sendable {
    public static let samplesMax = 1 << 16
    /// Longest latency the histogram tells apart (longer ones are recorded as this).
    public static let trackableMax: UInt64 = 3_600 * 1_000_000_000
    /// The first `samplesMax` latencies, in completion order.
    public private(set) var samples: [Nanoseconds] = []
    public private(set) var count = 0
    public private(set) var sum: Int64 = 0
    /// Every latency, once there were more than `samplesMax`.
    private var overflow: Histogram<UInt64>?

    public init() {}

    /// Whether `samples` holds every latency (then exact percentiles come from it).
    public var isComplete: Bool { samples.count == count }

    public mutating func record(_ latency: Nanoseconds) {
        count += 1
        sum += latency
        if samples.count < Self.samplesMax {
            samples.append(latency)
            return
        }
        if overflow == nil { overflow = Self.histogram(of: samples) }
        _ = overflow!.record(Self.clamp(latency))
    }

    private static func clamp(_ v: Nanoseconds) -> UInt64 { Swift.min(UInt64(Swift.max(0, v)), trackableMax) }

    private static func histogram(of values: [Nanoseconds]) -> Histogram<UInt64> {
        var h = Histogram<UInt64>(highestTrackableValue: trackableMax, numberOfSignificantValueDigits: .three)
        for v in values { _ = h.record(clamp(v)) }
        return h
    }

    /// Every latency in an HdrHistogram (built from the samples when there was no overflow).
    public var histogram: Histogram<UInt64> { overflow ?? Self.histogram(of: samples) }

    /// The longest latency recorded (histogram precision).
    public var max: Nanoseconds { Nanoseconds(histogram.max) }

    /// The histogram's value at `percentile` (0–100).
    public func histogramPercentile(_ percentile: Double) -> Nanoseconds {
        Nanoseconds(histogram.valueAtPercentile(percentile))
    }
}
