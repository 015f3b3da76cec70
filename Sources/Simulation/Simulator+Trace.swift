import BFTCore
import ScenarioFormat

/// Trace lines: one JSON object per event with sorted keys and integer values only.
///
/// Kinds: `start`, `send`, `deliver`, `drop` (with `reason`), `timer`, `observe` (with `obs`, the
/// observation's kind, and its fields) and `fault` (with `action`). Every message copy has a unique
/// `msg` id so a `send` pairs with its `deliver` or `drop`.
extension Simulator {
    func emit(_ line: TraceLine) {
        var bytes = traceBuffer
        traceBuffer = []
        bytes.removeAll(keepingCapacity: true)
        line.render(into: &bytes)
        if let traceSink { traceSink.write(String(decoding: bytes, as: UTF8.self)) }
        bytes.append(0x0A)
        hasher?.absorb(bytes)
        traceLines += 1
        traceBuffer = bytes
    }

    func traceMessage(_ kind: String, id: UInt64, from: Int, to: Int, bytes: [UInt8], _ info: MessageInfo,
                      reason: DropReason? = nil, delay: Nanoseconds? = nil, duplicateOf: UInt64? = nil) {
        var line = TraceLine(kind: kind, time: now, event: eventIndex)
        line.set("msg", id)
        line.set("from", names[from])
        line.set("to", names[to])
        line.set("type", info.type)
        line.set("size", bytes.count)
        if let v = info.view { line.set("view", v) }
        if let s = info.sequence { line.set("seq", s) }
        if let signer = info.signer { line.set("signer", signer.description) }
        if let reason { line.set("reason", reason.rawValue) }
        if let delay { line.set("arrive", later(by: delay)) }
        if let duplicateOf { line.set("dupOf", duplicateOf) }
        emit(line)
    }

    func traceObservation(_ observation: Observation, by index: Int) {
        var line = TraceLine(kind: "observe", time: now, event: eventIndex)
        line.set("node", names[index])
        line.set("obs", observation.kind)
        switch observation {
        case .viewEntered(let view, let leader):
            line.set("view", view)
            line.set("leader", leader)
        case .viewChangeStarted(let view):
            line.set("view", view)
        case .committed(let sequence, let view, let digest, let requestCount):
            line.set("seq", sequence)
            line.set("view", view)
            line.set("digest", digest.short)
            line.set("requests", requestCount)
        case .executed(let sequence, let index, let request, let requestDigest, let result):
            line.set("seq", sequence)
            line.set("index", index)
            line.set("request", request.description)
            line.set("requestDigest", requestDigest.short)
            line.set("result", result.short)
        case .checkpointStable(let sequence, let stateDigest), .stateTransferred(let sequence, let stateDigest):
            line.set("seq", sequence)
            line.set("state", stateDigest.short)
        case .rejected(let reason, let from):
            line.set("reason", reason.rawValue)
            line.set("from", from.description)
        case .pendingRequests(let count):
            line.set("count", count)
        case .requestIssued(let request, let digest):
            line.set("request", request.description)
            line.set("requestDigest", digest.short)
        case .requestCompleted(let request, let result):
            line.set("request", request.description)
            line.set("result", result.short)
        case .voted(let view, let digest):
            line.set("view", view)
            line.set("digest", digest.short)
        case .blockCertified(let view, let digest, let height):
            line.set("view", view)
            line.set("digest", digest.short)
            line.set("height", height)
        case .blockCommitted(let height, let digest, let parent):
            line.set("height", height)
            line.set("digest", digest.short)
            line.set("parent", parent.short)
        case .locked(let view), .highQC(let view), .timeoutCertified(let view):
            line.set("view", view)
        case .restarted:
            break
        }
        emit(line)
    }

    func traceFault(_ action: TimelineAction) {
        var line = TraceLine(kind: "fault", time: now, event: eventIndex)
        switch action {
        case .partition(let groups):
            line.set("action", "partition")
            line.setRaw("groups", TraceLine.json(groups))
        case .isolate(let replica):
            line.set("action", "isolate")
            line.set("node", "r\(replica)")
        case .cutLink(let from, let to, let oneWay):
            line.set("action", oneWay ? "cut-one-way" : "cut")
            line.set("from", "r\(from)")
            line.set("to", "r\(to)")
        case .heal:
            line.set("action", "heal")
        case .setLatency(let from, let to, let latency):
            line.set("action", "set-latency")
            if let from { line.set("from", "r\(from)") }
            if let to { line.set("to", "r\(to)") }
            line.set("latency", Simulator.describeLatency(latency))
        case .setLoss(let from, let to, let loss):
            line.set("action", "set-loss")
            if let from { line.set("from", "r\(from)") }
            if let to { line.set("to", "r\(to)") }
            line.set("loss", "\(loss)")
        case .crash(let replica):
            line.set("action", "crash")
            line.set("node", "r\(replica)")
        case .restart(let replica, let delay):
            line.set("action", "restart")
            line.set("node", "r\(replica)")
            line.set("delay", delay)
        case .storageFault(let replica, let lost):
            line.set("action", "storage-fault")
            line.set("node", "r\(replica)")
            if let lost { line.set("writes_lost", lost) }
        case .messageFault(let m):
            line.set("action", "message-\(m.action.rawValue)")
            if let from = m.from { line.set("from", "r\(from)") }
            if let to = m.to { line.set("to", "r\(to)") }
            if let type = m.type { line.set("type", type) }
        }
        emit(line)
    }

    static func describeLatency(_ latency: LatencyDistribution) -> String {
        switch latency {
        case .constant(let c): return "constant(\(c))"
        case .uniform(let lo, let hi): return "uniform(\(lo),\(hi))"
        case .normal(let mean, let sd): return "normal(\(mean),\(sd))"
        case .exponential(let mean): return "exponential(\(mean))"
        case .lognormal(let median, let sigma): return "lognormal(\(median),\(sigma))"
        }
    }
}
