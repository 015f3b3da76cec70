/// The `adaptive:` configuration: epoch length, the discrete choices per parameter and LinUCB's α.
///
/// The arms are the cartesian product of the three choice lists, in the order batch size, batch delay,
/// view-change timeout (the last varies fastest), so arm indices are the same at every replica.
public struct AdaptiveConfig: Sendable, Hashable, Codable {
    /// Sequence numbers per epoch.
    public var epoch: Int
    public var batchSizeChoices: [Int]
    public var batchDelayChoices: [Nanoseconds]
    public var viewChangeTimeoutChoices: [Nanoseconds]
    /// LinUCB's exploration weight α (Li et al., WWW'10, Alg. 1).
    public var alpha: Double

    /// Bound on arms: the controller keeps a d×d matrix per arm.
    public static let armsMax = 64

    public init(epoch: Int, batchSizeChoices: [Int], batchDelayChoices: [Nanoseconds],
                viewChangeTimeoutChoices: [Nanoseconds], alpha: Double = 0.5) {
        self.epoch = epoch
        self.batchSizeChoices = batchSizeChoices
        self.batchDelayChoices = batchDelayChoices
        self.viewChangeTimeoutChoices = viewChangeTimeoutChoices
        self.alpha = alpha
    }

    public var arms: [AdaptiveArm] {
        var out: [AdaptiveArm] = []
        for b in batchSizeChoices {
            for d in batchDelayChoices {
                for t in viewChangeTimeoutChoices {
                    out.append(AdaptiveArm(batchSizeMax: b, batchDelayMax: d, viewChangeTimeout: t))
                }
            }
        }
        return out
    }

    /// The arm nearest the static parameters (batch size, then delay, then timeout, by distance; ties to
    /// the lower index): epochs before the first decision run it, so the controller starts where the
    /// operator's configuration would have been.
    public func nearestArm(batchSizeMax: Int, batchDelayMax: Nanoseconds, viewChangeTimeout: Nanoseconds) -> Int {
        var best = 0
        var bestKey = (Int.max, Int64.max, Int64.max)
        for (i, a) in arms.enumerated() {
            let key = (abs(a.batchSizeMax - batchSizeMax), abs(a.batchDelayMax - batchDelayMax), abs(a.viewChangeTimeout - viewChangeTimeout))
            if key < bestKey {
                bestKey = key
                best = i
            }
        }
        return best
    }

    /// The largest batch any arm allows: the bound a backup checks when it does not know the epoch's arm.
    public var batchSizeBound: Int { batchSizeChoices.max() ?? 1 }
    /// The smallest batch every arm allows: what a primary that lost the controller's state proposes with.
    public var batchSizeFloor: Int { batchSizeChoices.min() ?? 1 }
}

/// One combination of parameter values.
public struct AdaptiveArm: Sendable, Hashable, Codable {
    public var batchSizeMax: Int
    public var batchDelayMax: Nanoseconds
    public var viewChangeTimeout: Nanoseconds
}

/// What one epoch of the committed log looked like: accumulated batch by batch as it executes.
public struct EpochSummary: Sendable, Equatable {
    public var batches = 0
    public var requests = 0
    public var emptyBatches = 0
    public var firstView: UInt64?
    public var lastView: UInt64 = 0
    public init() {}

    public mutating func record(requestCount: Int, view: UInt64) {
        batches += 1
        requests += requestCount
        if requestCount == 0 { emptyBatches += 1 }
        if firstView == nil { firstView = view }
        lastView = max(lastView, view)
    }

    /// View changes inside the epoch (view of the last committed entry minus the first's; monotone).
    public var viewChanges: UInt64 { lastView - (firstView ?? lastView) }
}

/// A LinUCB contextual bandit (Li, Chu, Langford, Schapire, WWW'10, Algorithm 1, disjoint linear models)
/// that picks the next epochs' batch size, batch delay and view-change timeout from the committed log.
///
/// A pure value: no IO, no clock, no random numbers. Every input is derived from committed batches in
/// sequence order, so every honest replica that executed the same log holds the same controller and
/// makes the same choice for the same epoch (issue 18: "choices take effect only through the log").
///
/// Timing: the summary of epoch e decides the arm of epoch e + `lag` (lag = 2). A primary pipelines
/// proposals inside the watermark window (Castro & Liskov §4.2, rule N1) ahead of execution; deciding
/// two epochs ahead means it can keep proposing through the next epoch while epoch e is still being
/// executed, instead of stalling at every epoch boundary. Epochs 0..<lag use arm `initialArm`.
///
/// Context (features, all in [0, 1], computed only from committed PRE-PREPAREs): a bias 1, the mean
/// batch fill (requests per batch over the epoch's batch size bound), the fraction of empty batches,
/// and view changes within the epoch (clamped to 4, over 4). A Byzantine primary controls what it puts
/// in batches, but every feature is clamped and the arm set is fixed by configuration, so it can at most
/// pick which of the configured arms runs; backups reject batches above the epoch's bound.
///
/// Reward: requests committed per sequence number over the largest batch bound, minus 0.5 per view
/// change (clamped to [-1, 1]). Issue 18 asks for requests per unit time; the replica has no clock
/// (it sees time only through timers, STYLE.md), so the epoch's duration is not available to it. A
/// primary timestamp in PRE-PREPARE would need a time input at the sans-IO boundary (NOTES-h18b.md).
public struct AdaptiveController: Sendable, Equatable {
    public static let features = 4
    public static let lag: UInt64 = 2
    /// Bound on remembered decisions: arms of epochs e+1..e+lag plus the current one.
    static let decisionsMax = 8

    public let config: AdaptiveConfig
    public let arms: [AdaptiveArm]
    /// Per arm: A = I + Σ x xᵀ (row-major d×d) and b = Σ r x.
    var matrices: [[Double]]
    var vectors: [[Double]]
    /// Decisions not yet rewarded: (epoch, arm, context). Bounded by `decisionsMax`.
    var pending: [(epoch: UInt64, arm: Int, context: [Double])] = []
    /// Arm per epoch for the epochs decided and not yet finished (epoch, arm), ascending.
    public private(set) var schedule: [(epoch: UInt64, arm: Int)] = []
    public private(set) var current = EpochSummary()
    /// The epoch whose batches `current` accumulates.
    public private(set) var currentEpoch: UInt64 = 0
    public let initialArm: Int

    public init(config: AdaptiveConfig, initialArm: Int = 0) {
        precondition(config.epoch > 0, "adaptive epoch must be positive")
        let arms = config.arms
        precondition(!arms.isEmpty && arms.count <= AdaptiveConfig.armsMax, "adaptive arms out of range")
        precondition(initialArm >= 0 && initialArm < arms.count, "initial arm out of range")
        self.config = config
        self.arms = arms
        self.initialArm = initialArm
        let d = AdaptiveController.features
        var identity = [Double](repeating: 0, count: d * d)
        for i in 0..<d { identity[i * d + i] = 1 }
        matrices = Array(repeating: identity, count: arms.count)
        vectors = Array(repeating: [Double](repeating: 0, count: d), count: arms.count)
        let initialContext = [1.0, 0, 0, 0]
        for e in 0..<AdaptiveController.lag {
            schedule.append((e, initialArm))
            pending.append((e, initialArm, initialContext))
        }
    }

    public static func == (a: AdaptiveController, b: AdaptiveController) -> Bool {
        a.config == b.config && a.matrices == b.matrices && a.vectors == b.vectors
            && a.schedule.map(\.epoch) == b.schedule.map(\.epoch) && a.schedule.map(\.arm) == b.schedule.map(\.arm)
            && a.current == b.current && a.currentEpoch == b.currentEpoch
    }

    /// The epoch a sequence number belongs to (sequence 1 is the first of epoch 0).
    public func epoch(of sequence: UInt64) -> UInt64 { (sequence - 1) / UInt64(config.epoch) }

    /// The arm agreed for `epoch`, or nil if it is not decided yet (the log has not reached epoch − lag's end).
    public func arm(forEpoch epoch: UInt64) -> AdaptiveArm? {
        for entry in schedule where entry.epoch == epoch { return arms[entry.arm] }
        return nil
    }

    public func arm(forSequence sequence: UInt64) -> AdaptiveArm? { arm(forEpoch: epoch(of: sequence)) }

    /// The arm index agreed for `epoch`, if decided.
    public func armIndex(forEpoch epoch: UInt64) -> Int? {
        for entry in schedule where entry.epoch == epoch { return entry.arm }
        return nil
    }

    /// Records one executed batch (sequence order). At an epoch's last sequence it rewards the epoch's
    /// arm and decides the arm of epoch + lag; returns that decision (epoch, arm index) then.
    public mutating func record(sequence: UInt64, view: UInt64, requestCount: Int) -> (epoch: UInt64, arm: Int)? {
        precondition(epoch(of: sequence) == currentEpoch, "adaptive: batches are recorded in sequence order")
        current.record(requestCount: requestCount, view: view)
        guard sequence % UInt64(config.epoch) == 0 else { return nil }
        let finished = currentEpoch
        let summary = current
        let x = context(of: summary)
        if let k = pending.firstIndex(where: { $0.epoch == finished }) {
            let p = pending.remove(at: k)
            update(arm: p.arm, context: p.context, reward: reward(of: summary))
        }
        let next = finished + AdaptiveController.lag
        let chosen = choose(context: x)
        schedule.removeAll { $0.epoch <= finished }
        schedule.append((next, chosen))
        pending.append((next, chosen, x))
        precondition(pending.count <= AdaptiveController.decisionsMax, "adaptive: pending decisions bounded")
        current = EpochSummary()
        currentEpoch = finished + 1
        return (next, chosen)
    }

    /// The context vector of an epoch (see the type's comment), every component clamped to [0, 1].
    public func context(of s: EpochSummary) -> [Double] {
        let bound = Double(max(1, config.batchSizeBound))
        let fill = s.batches == 0 ? 0 : min(1, Double(s.requests) / (Double(s.batches) * bound))
        let empty = s.batches == 0 ? 1 : Double(s.emptyBatches) / Double(s.batches)
        let views = Double(min(s.viewChanges, 4)) / 4
        return [1, fill, empty, views]
    }

    public func reward(of s: EpochSummary) -> Double {
        let bound = Double(max(1, config.batchSizeBound))
        let perSequence = Double(s.requests) / (Double(config.epoch) * bound)
        let r = perSequence - 0.5 * Double(min(s.viewChanges, 4))
        return min(1, max(-1, r))
    }

    /// Alg. 1 lines 5–9: p_a = θ_aᵀx + α √(xᵀ A_a⁻¹ x), θ_a = A_a⁻¹ b_a; argmax, ties to the lowest index.
    public func choose(context x: [Double]) -> Int {
        var best = 0
        var bestScore = -Double.infinity
        for a in arms.indices {
            let theta = AdaptiveController.solve(matrices[a], vectors[a])
            let ainvx = AdaptiveController.solve(matrices[a], x)
            var mean = 0.0, width = 0.0
            for i in 0..<x.count {
                mean += theta[i] * x[i]
                width += x[i] * ainvx[i]
            }
            let score = mean + config.alpha * max(0, width).squareRoot()
            if score > bestScore {
                bestScore = score
                best = a
            }
        }
        return best
    }

    /// Alg. 1 lines 11–12: A_a += x xᵀ, b_a += r x.
    mutating func update(arm a: Int, context x: [Double], reward r: Double) {
        let d = x.count
        for i in 0..<d {
            for j in 0..<d { matrices[a][i * d + j] += x[i] * x[j] }
            vectors[a][i] += r * x[i]
        }
    }

    /// Solves A y = v for a small symmetric positive-definite A (Gaussian elimination with partial
    /// pivoting). Hand-rolled: BFTCore has no dependencies, the system is 4×4, and the operation order is
    /// fixed, so every replica computes bit-identical results.
    static func solve(_ matrix: [Double], _ v: [Double]) -> [Double] {
        let d = v.count
        var m = matrix
        var y = v
        for col in 0..<d {
            var pivot = col
            for row in (col + 1)..<max(col + 1, d) where abs(m[row * d + col]) > abs(m[pivot * d + col]) { pivot = row }
            if pivot != col {
                for j in 0..<d { m.swapAt(col * d + j, pivot * d + j) }
                y.swapAt(col, pivot)
            }
            let p = m[col * d + col]
            guard p != 0 else { continue }
            for row in (col + 1)..<max(col + 1, d) {
                let factor = m[row * d + col] / p
                if factor == 0 { continue }
                for j in col..<d { m[row * d + j] -= factor * m[col * d + j] }
                y[row] -= factor * y[col]
            }
        }
        var out = [Double](repeating: 0, count: d)
        for row in stride(from: d - 1, through: 0, by: -1) {
            var s = y[row]
            for j in (row + 1)..<max(row + 1, d) { s -= m[row * d + j] * out[j] }
            let p = m[row * d + row]
            out[row] = p == 0 ? 0 : s / p
        }
        return out
    }
}
