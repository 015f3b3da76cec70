import BFTCore
import ScenarioFormat

/// What an explicit schedule holds back: every message sent and every timer armed, until a step names it.
struct ScheduledNetwork {
    struct Message {
        var from: Int
        var to: Int
        var id: UInt64
        var bytes: [UInt8]
    }
    struct ArmedTimer {
        var machine: Int
        var timer: TimerID
        var generation: UInt64
        /// The duration it was armed with: it runs in full from a `gst` step.
        var after: Nanoseconds
    }
    /// Messages sent and not yet delivered or dropped, in send order.
    var pending: [Message] = []
    /// Every arming, in order (a stale one is skipped when fired: `TimerTable`).
    var timers: [ArmedTimer] = []
}

extension Simulator {
    /// Step spacing in virtual time: step k happens at (k + 1) ms, so observations keep distinct times.
    static let scheduleStepSpacing: Nanoseconds = ScheduleStep.spacing

    /// Runs `steps` instead of the network model (issue 17): machines start at time 0 (timeline and
    /// Byzantine windows are not used), every send waits in `ScheduledNetwork.pending` and every timer
    /// waits to be named. Step k then delivers or drops the first pending message with that sender,
    /// receiver and byte hash, fires the timer if it is armed, or crashes and restarts a replica (it recovers
    /// from what its storage synced); a step that matches nothing is skipped. A final `gst` step hands
    /// what the schedule held to the network model and the timers, and the run continues as usual.
    /// This is how a path found by `bftsim explore` replays through the ordinary checkers.
    func runSchedule(_ steps: [ScheduleStep]) -> SimulationResult {
        scheduled = ScheduledNetwork()
        for m in machines.indices { schedule(at: 0, .start(machine: m)) }
        while let event = queue.popMin() {
            let kind = eventKinds[Int(event.slot)].take()!
            freeEventSlots.append(event.slot)
            now = event.time
            eventIndex = eventsProcessed
            eventsProcessed += 1
            dispatch(kind)
        }
        for (k, step) in steps.enumerated() {
            now = Nanoseconds(k + 1) * Self.scheduleStepSpacing
            eventIndex = eventsProcessed
            eventsProcessed += 1
            if step == .gst {
                stabilise()
                return finish(runEvents())
            }
            perform(step)
        }
        return finish(.noEvents)
    }

    /// The `gst` step: the adversary stops. Messages still held go out through the network model in send
    /// order (`route`, as if sent now) and every timer still armed runs its full duration from now (a
    /// stale arming is skipped when it fires, as always).
    private func stabilise() {
        let held = scheduled!
        scheduled = nil
        for m in held.pending {
            route(m.bytes, from: m.from, to: m.to, id: m.id)
        }
        for t in held.timers {
            schedule(at: later(by: t.after), .timer(machine: Int32(t.machine), timer: t.timer, generation: t.generation))
        }
    }

    private func perform(_ step: ScheduleStep) {
        switch step {
        case .deliver(let from, let to, let hash), .drop(let from, let to, let hash):
            guard let i = scheduled!.pending.firstIndex(where: {
                $0.from == from && $0.to == to && ScheduleStep.messageHash($0.bytes) == hash
            }) else { return }
            let m = scheduled!.pending.remove(at: i)
            if case .deliver = step {
                onDeliver(from: m.from, to: m.to, id: m.id, bytes: m.bytes)
            } else {
                drops.count(.fault)
                if tracing { traceMessage("drop", id: m.id, from: m.from, to: m.to, bytes: m.bytes, describe(m.bytes), reason: .fault) }
            }
        case .timer(let machine, let kind, let key):
            let timer = TimerID(kind: kind, key: key)
            guard let i = scheduled!.timers.lastIndex(where: { $0.machine == machine && $0.timer == timer }) else { return }
            let armed = scheduled!.timers.remove(at: i)
            onTimer(machine: armed.machine, timer: armed.timer, generation: armed.generation)
        case .restart(let machine):
            guard machine >= 0, machine < scenario.replicas else { return }
            crash(machine)
            scheduled!.timers.removeAll { $0.machine == machine }
            restart(machine)
        case .gst:
            break  // `runSchedule` ends the schedule there
        }
    }
}
