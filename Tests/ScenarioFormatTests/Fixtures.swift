import BFTCore
import ScenarioFormat

/// The full example of the format (every key), as in `Scenarios/README.md`.
let fullExampleYAML = """
# What this scenario shows, and its expected verdict.
name: primary-crash
description: The primary crashes at 1s; backups change view and keep committing.
protocol: pbft
replicas: 4
f: 1
seed: 42
crypto: ed25519
stop: {time_limit: 30s, until_clients_done: true}
network:
  latency: 2ms
  loss: 0.01
  duplication: 0.0
  jitter: 1ms
  gst: 5s
  delay_max_after_gst: 50ms
  links:
    - {from: 0, to: 1, latency: 50ms, loss: 0.1}
    - {from: 2, to: 3, latency: {distribution: uniform, min: 1ms, max: 5ms}}
workload:
  clients: 4
  mode: closed
  think_time: 0ms
  requests_per_client: 50
  key_space: 100
  read_ratio: 0.2
  append_ratio: 0.1
  value_size: 16
  retry_timeout: 500ms
  retry_timeout_max: 8s
parameters:
  batch_size_max: 10
  batch_delay_max: 2ms
  checkpoint_interval: 32
  watermark_window: 64
  view_change_timeout: 400ms
  view_change_timeout_max: 10s
timeline:
  - {at: 1s, crash: 0}
  - {at: 2s, partition: [[0, 1], [2, 3]]}
  - {at: 3s, isolate: 3}
  - {at: 3s, cut_link: {from: 0, to: 1, one_way: true}}
  - {at: 4s, heal: true}
  - {at: 1s, set_latency: {from: 0, to: 1, latency: 20ms}}
  - {at: 1s, set_latency: {latency: {distribution: normal, mean: 5ms, stddev: 1ms}}}
  - {at: 1s, set_loss: {loss: 0.2}}
byzantine:
  - {replica: 0, behaviour: equivocate}
liveness: {bound: 10s}
expect: {safety: holds, liveness: holds}
"""

/// The same scenario in JSON.
let fullExampleJSON = """
{
  "name": "primary-crash",
  "description": "The primary crashes at 1s; backups change view and keep committing.",
  "protocol": "pbft",
  "replicas": 4,
  "f": 1,
  "seed": 42,
  "crypto": "ed25519",
  "stop": {"time_limit": "30s", "until_clients_done": true},
  "network": {
    "latency": "2ms",
    "loss": 0.01,
    "duplication": 0.0,
    "jitter": "1ms",
    "gst": "5s",
    "delay_max_after_gst": "50ms",
    "links": [
      {"from": 0, "to": 1, "latency": "50ms", "loss": 0.1},
      {"from": 2, "to": 3, "latency": {"distribution": "uniform", "min": "1ms", "max": "5ms"}}
    ]
  },
  "workload": {
    "clients": 4, "mode": "closed", "think_time": "0ms", "requests_per_client": 50, "key_space": 100,
    "read_ratio": 0.2, "append_ratio": 0.1, "value_size": 16, "retry_timeout": "500ms", "retry_timeout_max": "8s"
  },
  "parameters": {
    "batch_size_max": 10, "batch_delay_max": "2ms", "checkpoint_interval": 32, "watermark_window": 64,
    "view_change_timeout": "400ms", "view_change_timeout_max": "10s"
  },
  "timeline": [
    {"at": "1s", "crash": 0},
    {"at": "2s", "partition": [[0, 1], [2, 3]]},
    {"at": "3s", "isolate": 3},
    {"at": "3s", "cut_link": {"from": 0, "to": 1, "one_way": true}},
    {"at": "4s", "heal": true},
    {"at": "1s", "set_latency": {"from": 0, "to": 1, "latency": "20ms"}},
    {"at": "1s", "set_latency": {"latency": {"distribution": "normal", "mean": "5ms", "stddev": "1ms"}}},
    {"at": "1s", "set_loss": {"loss": 0.2}}
  ],
  "byzantine": [{"replica": 0, "behaviour": "equivocate"}],
  "liveness": {"bound": "10s"},
  "expect": {"safety": "holds", "liveness": "holds"}
}
"""

let ms = nanosPerMillisecond
let sec = nanosPerSecond

/// The model `fullExampleYAML` must produce.
let fullExampleModel = Scenario(
    name: "primary-crash",
    description: "The primary crashes at 1s; backups change view and keep committing.",
    protocolKind: .pbft, replicas: 4, f: 1, seed: 42, crypto: .ed25519,
    stop: StopCondition(timeLimit: 30 * sec, untilClientsDone: true),
    network: NetworkSpec(
        latency: .constant(2 * ms), loss: 0.01, duplication: 0, jitter: 1 * ms,
        links: [LinkSpec(from: 0, to: 1, latency: .constant(50 * ms), loss: 0.1),
                LinkSpec(from: 2, to: 3, latency: .uniform(min: 1 * ms, max: 5 * ms))],
        gst: 5 * sec, delayMaxAfterGST: 50 * ms),
    workload: WorkloadSpec(clients: 4, mode: .closed(thinkTime: 0), requestsPerClient: 50, keySpace: 100,
                           readRatio: 0.2, appendRatio: 0.1, valueSize: 16, retryTimeout: 500 * ms, retryTimeoutMax: 8 * sec),
    parameters: ProtocolParameters(batchSizeMax: 10, batchDelayMax: 2 * ms, checkpointInterval: 32, watermarkWindow: 64,
                                   viewChangeTimeout: 400 * ms, viewChangeTimeoutMax: 10 * sec),
    timeline: [
        TimelineEvent(at: 1 * sec, action: .crash(replica: 0)),
        TimelineEvent(at: 2 * sec, action: .partition(groups: [[0, 1], [2, 3]])),
        TimelineEvent(at: 3 * sec, action: .isolate(replica: 3)),
        TimelineEvent(at: 3 * sec, action: .cutLink(from: 0, to: 1, oneWay: true)),
        TimelineEvent(at: 4 * sec, action: .heal),
        TimelineEvent(at: 1 * sec, action: .setLatency(from: 0, to: 1, latency: .constant(20 * ms))),
        TimelineEvent(at: 1 * sec, action: .setLatency(from: nil, to: nil, latency: .normal(mean: 5 * ms, stddev: 1 * ms))),
        TimelineEvent(at: 1 * sec, action: .setLoss(from: nil, to: nil, loss: 0.2)),
    ],
    byzantine: [ByzantineSpec(replica: 0, behaviour: "equivocate")],
    liveness: LivenessSpec(bound: 10 * sec),
    expect: Expectations(safety: .holds, liveness: .holds))

/// Parses `text`, returning the diagnostics (empty when it parsed).
func diagnostics(_ text: String, file: String = "s.yaml") -> [ScenarioDiagnostic] {
    do {
        _ = try ScenarioLoader.parse(text, file: file)
        return []
    } catch {
        return error.diagnostics
    }
}

/// Diagnostics rendered as `file:line:column: message` strings.
func messages(_ text: String) -> [String] { diagnostics(text).map(\.description) }
