/// The simulator's pending events: a binary min-heap ordered by (time, sequence), with Floyd's
/// bottom-up removal (the hole left by the minimum sinks to a leaf along the smaller children, then the
/// last element rises from there: one comparison per level on the way down, since the element moved
/// is nearly always among the latest events and belongs near the bottom).
///
/// Hand-rolled rather than swift-collections' `Heap` (issue 19): that is a min-max heap, which pays for
/// `popMin` with grandchild comparisons on every level; its `trickleDownMin` alone was 4.8 % of a PBFT
/// n=4 run's instructions (455 per event), and this heap does the queue's work in about 150 fewer
/// instructions per event (`scripts/instructions-per-event.sh`). The order is total (sequences are
/// unique), so any correct priority queue pops the same events in the same order: the trace does not
/// depend on this choice.
struct EventQueue {
    private var items: [Event] = []

    var count: Int { items.count }
    var isEmpty: Bool { items.isEmpty }

    @inline(__always)
    mutating func insert(_ event: Event) {
        items.append(event)
        items.withUnsafeMutableBufferPointer { b in Self.rise(event, from: b.count - 1, in: b) }
    }

    /// Places `event` at `hole` or above it, moving larger ancestors down.
    @inline(__always)
    private static func rise(_ event: Event, from hole: Int, in b: UnsafeMutableBufferPointer<Event>) {
        var i = hole
        while i > 0 {
            let parent = (i - 1) >> 1
            guard event < b[parent] else { break }
            b[i] = b[parent]
            i = parent
        }
        b[i] = event
    }

    @inline(__always)
    mutating func popMin() -> Event? {
        guard let last = items.popLast() else { return nil }
        if items.isEmpty { return last }
        return items.withUnsafeMutableBufferPointer { b in
            let top = b[0]
            let n = b.count
            var hole = 0
            var child = 1
            while child < n {
                if child + 1 < n, b[child + 1] < b[child] { child += 1 }
                b[hole] = b[child]
                hole = child
                child = 2 &* hole &+ 1
            }
            Self.rise(last, from: hole, in: b)
            return top
        }
    }
}
