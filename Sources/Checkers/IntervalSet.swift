/// A set of `UInt64` stored as sorted, disjoint, non-adjacent closed ranges.
///
/// Retired request timestamps of one client: clients issue increasing timestamps, so the set is a
/// handful of ranges however many requests retire. Insertion is O(log k + k) for k ranges, O(1) when
/// extending the last range.
struct IntervalSet: Equatable {
    private(set) var ranges: [ClosedRange<UInt64>] = []

    func contains(_ x: UInt64) -> Bool {
        guard let i = lastIndex(startingAtOrBelow: x) else { return false }
        return ranges[i].contains(x)
    }

    mutating func insert(_ x: UInt64) {
        if let last = ranges.last, last.upperBound < UInt64.max, x == last.upperBound + 1 {
            ranges[ranges.count - 1] = last.lowerBound...x
            return
        }
        let i = lastIndex(startingAtOrBelow: x)
        if let i, ranges[i].contains(x) { return }
        let joinsLeft = i.map { ranges[$0].upperBound &+ 1 == x } ?? false
        let right = (i ?? -1) + 1
        let joinsRight = right < ranges.count && x &+ 1 == ranges[right].lowerBound
        switch (joinsLeft, joinsRight) {
        case (true, true):
            ranges[i!] = ranges[i!].lowerBound...ranges[right].upperBound
            ranges.remove(at: right)
        case (true, false):
            ranges[i!] = ranges[i!].lowerBound...x
        case (false, true):
            ranges[right] = x...ranges[right].upperBound
        case (false, false):
            ranges.insert(x...x, at: right)
        }
    }

    /// Index of the last range whose lower bound is `<= x`.
    private func lastIndex(startingAtOrBelow x: UInt64) -> Int? {
        var lo = 0
        var hi = ranges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ranges[mid].lowerBound <= x { lo = mid + 1 } else { hi = mid }
        }
        return lo == 0 ? nil : lo - 1
    }
}
