import BFTCore

/// One step of an explicit schedule (`schedule:`): the simulator runs the scenario's machines without
/// its network model and carries out exactly these steps, in order (issue 17, `bftsim explore`).
///
/// Nodes are numbered as the simulator numbers machines: replicas `0..<n`, then client `c` is node
/// `n + c` (written `r<i>` and `c<c>`). A message is named by its sender, receiver and the FNV-1a 64 hash
/// of its bytes (`ScheduleStep.messageHash`), not by a send counter, so removing a step (shrinking) does
/// not rename the messages after it. A step that names nothing pending (or a timer that is not armed) is
/// skipped.
public enum ScheduleStep: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Hand the pending message to its receiver.
    case deliver(from: Int, to: Int, message: UInt64)
    /// Lose the pending message.
    case drop(from: Int, to: Int, message: UInt64)
    /// Fire the armed timer `kind:key` of a node.
    case timer(node: Int, kind: UInt16, key: UInt64)
    /// Crash the replica and restart it at once from what its storage synced (its unsynced writes and
    /// armed timers are lost; messages in flight stay in the network).
    case restart(node: Int)
    /// Global stabilisation (the last step): the adversary stops here. Every message still held is handed
    /// to the scenario's network model, every armed timer runs its full duration from now, and the run
    /// goes on as an ordinary simulation to its stop condition; liveness is promised from this step on
    /// (partial synchrony after GST, Dwork–Lynch–Stockmeyer). `bftsim explore --liveness` ends a path
    /// with it to ask whether the protocol recovers once the faults within the bound stop.
    case gst

    /// Step k of a schedule happens at (k + 1) ms of virtual time, so observations keep distinct times.
    public static let spacing: Nanoseconds = nanosPerMillisecond

    /// FNV-1a 64 over the message bytes: stable across processes and toolchains.
    public static func messageHash(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }

    /// `deliver r0 r1 00a1b2c3d4e5f607`, `drop r0 c0 …`, `timer r2 2:0`, `restart r1`, `gst` (nodes named for `replicas` replicas).
    public func text(replicas n: Int) -> String {
        func node(_ i: Int) -> String { i < n ? "r\(i)" : "c\(i - n)" }
        func hex(_ v: UInt64) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }
        switch self {
        case .deliver(let from, let to, let m): return "deliver \(node(from)) \(node(to)) \(hex(m))"
        case .drop(let from, let to, let m): return "drop \(node(from)) \(node(to)) \(hex(m))"
        case .timer(let at, let kind, let key): return "timer \(node(at)) \(kind):\(key)"
        case .restart(let at): return "restart \(node(at))"
        case .gst: return "gst"
        }
    }

    public var description: String { text(replicas: Int.max) }

    /// Parses `text(replicas:)`'s form; nil with a reason when malformed.
    public static func parse(_ text: String, replicas n: Int) -> Result<ScheduleStep, ScheduleSyntaxError> {
        let words = text.split(separator: " ").map(String.init)
        func node(_ w: String) -> Int? {
            guard let kind = w.first, let i = Int(w.dropFirst()), i >= 0 else { return nil }
            switch kind {
            case "r": return i < n ? i : nil
            case "c": return n + i
            default: return nil
            }
        }
        guard let verb = words.first else { return .failure(.init(message: "empty schedule step")) }
        switch verb {
        case "deliver", "drop":
            guard words.count == 4 else { return .failure(.init(message: "'\(verb)' takes: \(verb) <from> <to> <message hash>, e.g. '\(verb) r0 r1 00a1b2c3d4e5f607'")) }
            guard let from = node(words[1]) else { return .failure(.init(message: "unknown node '\(words[1])' (r0…r\(n - 1) or c<k>)")) }
            guard let to = node(words[2]) else { return .failure(.init(message: "unknown node '\(words[2])' (r0…r\(n - 1) or c<k>)")) }
            guard let m = UInt64(words[3], radix: 16) else { return .failure(.init(message: "message hash '\(words[3])' is not 16 hex digits")) }
            return .success(verb == "deliver" ? .deliver(from: from, to: to, message: m) : .drop(from: from, to: to, message: m))
        case "timer":
            let parts = words.count == 3 ? words[2].split(separator: ":").map(String.init) : []
            guard words.count == 3, parts.count == 2, let kind = UInt16(parts[0]), let key = UInt64(parts[1]) else {
                return .failure(.init(message: "'timer' takes: timer <node> <kind>:<key>, e.g. 'timer r2 2:0'"))
            }
            guard let at = node(words[1]) else { return .failure(.init(message: "unknown node '\(words[1])' (r0…r\(n - 1) or c<k>)")) }
            return .success(.timer(node: at, kind: kind, key: key))
        case "restart":
            guard words.count == 2 else { return .failure(.init(message: "'restart' takes: restart <replica>, e.g. 'restart r2'")) }
            guard let at = node(words[1]), at < n else { return .failure(.init(message: "unknown replica '\(words[1])' (r0…r\(n - 1))")) }
            return .success(.restart(node: at))
        case "gst":
            guard words.count == 1 else { return .failure(.init(message: "'gst' takes no arguments")) }
            return .success(.gst)
        default:
            return .failure(.init(message: "unknown schedule step '\(verb)' (deliver, drop, timer, restart or gst)"))
        }
    }
}

/// Why a schedule step did not parse.
public struct ScheduleSyntaxError: Error, Sendable, Equatable {
    public var message: String
}
