import Foundation

/// Maps `count` independent jobs over `jobs` threads; results come back in index order, so callers
/// see the same array whatever the thread count. Each job must be self-contained (a simulation run
/// shares nothing with another).
public func parallelMap<T: Sendable>(_ count: Int, jobs: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
    guard count > 0 else { return [] }
    if jobs <= 1 || count == 1 { return (0..<count).map(body) }
    let box = ResultSlots<T>(count)
    DispatchQueue.concurrentPerform(iterations: min(jobs, count)) { _ in
        while let i = box.take() { box.put(i, body(i)) }
    }
    return box.results()
}

private final class ResultSlots<T>: @unchecked Sendable {
    private var slots: [T?]
    private var next = 0
    private let lock = NSLock()
    init(_ count: Int) { slots = Array(repeating: nil, count: count) }
    func take() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard next < slots.count else { return nil }
        next += 1
        return next - 1
    }
    func put(_ i: Int, _ value: T) { lock.lock(); slots[i] = value; lock.unlock() }
    func results() -> [T] { slots.map { $0! } }
}
