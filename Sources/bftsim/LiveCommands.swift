import ArgumentParser
import BFTCore
import Foundation
import Live
import Logging
import Runner
import ScenarioFormat

/// The running binary's path (children and cluster replicas are started from it).
func selfExecutable() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}

func liveFail(_ error: Error) -> ExitCode {
    switch error {
    case LiveError.config: return fail("\(error)", code: .invalidInput)
    case LiveError.storage:
        // The data directory cannot be written (a full disk): the replica's own exit status.
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        return ExitCode(ReplicaHost.storageFailureExitCode)
    default: return fail("\(error)", code: .internalError)
    }
}

struct KeyGenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "keygen", abstract: "Create Ed25519 keys (mode 0600) and a cluster file for live mode.")
    @Option(help: "Replica count n.") var replicas: Int = 4
    @Option(help: "Client keys to create (the load generator uses clients x outstanding ids).") var clients: Int = 64
    @Option(help: "Output directory (cluster.json, keys/).") var out: String
    @Option(name: .customLong("protocol"), help: "pbft, hotstuff or hotstuff-two-chain.") var protocolKind: ProtocolKind = .pbft
    @Option(help: "First replica port; replica i listens on base-port + i.") var basePort: Int = 7000
    @Option(help: "Listen address of every replica.") var host: String = "127.0.0.1"
    @Option(help: "Requests per batch/block at most.") var batchSize: Int = 100
    @Option(help: "Batch delay (ms) before a partial batch is proposed.") var batchDelayMs: Double = 2
    @Option(help: "View-change / view timeout (ms).") var viewTimeoutMs: Double = 1000
    @Option(help: "Client authentication: ed25519 signatures, or mac (PBFT MAC authenticators via libsodium key exchange; replicas still sign to each other).") var clientAuth: String = "ed25519"
    @Option(help: "First metrics port; replica i serves /metrics on metrics-base-port + i (default: base-port + max(10, replicas)).") var metricsBasePort: Int?
    @Flag(help: "Write no metrics ports into the cluster file.") var noMetrics = false

    func run() throws {
        var p = ProtocolParameters()
        p.batchSizeMax = batchSize
        p.batchDelayMax = Nanoseconds(batchDelayMs * 1e6)
        p.viewChangeTimeout = Nanoseconds(viewTimeoutMs * 1e6)
        guard ["ed25519", "mac"].contains(clientAuth) else { throw fail("--client-auth is ed25519 or mac", code: .invalidInput) }
        p.checkpointInterval = 128
        p.watermarkWindow = 256
        do {
            let c = try KeyGen.generate(replicas: replicas, clients: clients, out: out, protocolKind: protocolKind, host: host,
                                        basePort: basePort, parameters: p, clientAuthMAC: clientAuth == "mac",
                                        metricsBasePort: noMetrics ? nil : (metricsBasePort ?? basePort + max(10, replicas)))
            let metrics = c.replicas.first?.metricsPort.map { ", metrics ports \($0)...\($0 + replicas - 1)" } ?? ""
            print("wrote \(out)/cluster.json (\(c.protocolName), n=\(c.n), f=\(c.f), ports \(basePort)...\(basePort + replicas - 1)\(metrics), \(clients) client keys, client auth \(clientAuth)) and \(out)/keys/ (mode 0600)")
        } catch { throw liveFail(error) }
    }
}

/// `--log-level` and `--log-format` of the live commands (swift-log; one line per event that matters).
struct LogOptions: ParsableArguments {
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: String = "info"
    @Option(help: "Log format: text or json (one JSON object per line).") var logFormat: String = "text"

    func validate() throws {
        guard LiveLogging.level(logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical (got '\(logLevel)')")
        }
        guard LogFormat(rawValue: logFormat) != nil else { throw ValidationError("--log-format must be text or json (got '\(logFormat)')") }
    }

    func bootstrap() {
        LiveLogging.bootstrap(level: LiveLogging.level(logLevel) ?? .info, format: LogFormat(rawValue: logFormat) ?? .text)
    }

    /// The same options as arguments for a child process.
    var arguments: [String] { ["--log-level", logLevel, "--log-format", logFormat] }
}

struct ReplicaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "replica", abstract: "Run one live replica over TCP.")
    @Option(help: "Cluster file.") var config: String
    @Option(help: "Replica id.") var id: Int
    @Option(help: "Data directory (durable state, observations.bin, stats.json).") var data: String?
    @Option(help: "Byzantine behaviours from the simulator's library: BEHAVIOUR[=PARAM][,BEHAVIOUR...] (e.g. equivocate, mutate=digest, slow=200ms,conflict).") var byzantine: String?
    @Option(help: "Serve /metrics (Prometheus) and a status page / on this port (default: the cluster file's metricsPort; 0: off).") var metricsPort: Int?
    @OptionGroup var logging: LogOptions
    func validate() throws {
        if let p = metricsPort, !(0...65535).contains(p) { throw ValidationError("--metrics-port must be 0 (off) or a port 1...65535, got \(p)") }
    }
    func run() throws {
        logging.bootstrap()
        do {
            try ReplicaProcess.run(configPath: config, id: id, dataDir: data ?? "data/r\(id)", behaviour: byzantine, metricsPort: metricsPort)
        } catch { throw liveFail(error) }
    }
}

struct ClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cluster", abstract: "Run a local live cluster as separate processes.",
                                                    subcommands: [Up.self, Down.self, Kill.self, Restart.self, Status.self, Flood.self])
    struct Up: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start every replica (logs/rI.log, pids/rI.pid, data/rI/).")
        @Argument(help: "Cluster directory (holding cluster.json).") var dir: String
        @Option(help: "ID:BEHAVIOUR[=PARAM][,BEHAVIOUR...], e.g. 0:equivocate, 1:mutate=forged-certificate, 2:slow=200ms,conflict (any behaviour of the library).",
                transform: ByzantineAssignment.parse)
        var byzantine: [ByzantineAssignment] = []
        @OptionGroup var logging: LogOptions
        func run() throws {
            var b: [Int: String] = [:]
            for a in byzantine { b[a.replica] = a.behaviours }
            do {
                try ClusterLauncher(directory: dir, executable: selfExecutable()).up(byzantine: b, replicaOptions: logging.arguments)
            } catch { throw liveFail(error) }
            print("cluster up: \(dir)")
        }
    }
    struct Down: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop every replica (SIGTERM).")
        @Argument var dir: String
        func run() throws {
            do { try ClusterLauncher(directory: dir, executable: selfExecutable()).down() } catch { throw liveFail(error) }
        }
    }
    struct Kill: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Kill one replica (SIGKILL unless --signal).")
        @Argument var dir: String
        @Option var id: Int
        @Option var signal: Int32 = SIGKILL
        func run() throws { ClusterLauncher(directory: dir, executable: selfExecutable()).kill(id, signal: signal) }
    }
    struct Restart: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start one replica again (stopping it first if running); it recovers from data/rI.")
        @Argument var dir: String
        @Option var id: Int
        func run() throws {
            do { try ClusterLauncher(directory: dir, executable: selfExecutable()).restart(id) } catch { throw liveFail(error) }
        }
    }
}

extension ClusterCommand {
    /// `bftsim cluster status DIR`: each replica's view, last committed sequence, commit rate and peers,
    /// read from its `/metrics`.
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show every replica's view, last committed sequence, commit rate and peers (from its metrics endpoint).")
        @Argument(help: "Cluster directory (holding cluster.json).") var dir: String
        @Flag(help: "Print JSON instead of a table.") var json = false
        @Option(help: "Also write the cluster's status page (HTML) here.") var html: String?
        @Option(help: "Seconds to wait for each replica.") var timeout: Double = 2
        func run() throws {
            let config: ClusterConfig
            do { config = try ClusterConfig.load(path: dir + "/cluster.json") } catch { throw liveFail(error) }
            let rows = ClusterStatus.collect(config: config, timeout: timeout)
            if json {
                let enc = JSONEncoder()
                enc.outputFormatting = [.sortedKeys, .prettyPrinted]
                print(String(decoding: try enc.encode(rows), as: UTF8.self))
            } else {
                print(ClusterStatus.text(rows))
            }
            if let html {
                let page = StatusPage.html(title: "bftsim cluster \(URL(fileURLWithPath: dir).lastPathComponent)",
                                           protocolName: config.protocolName, replicas: rows)
                do { try page.write(toFile: html, atomically: true, encoding: .utf8) } catch {
                    throw fail("cannot write \(html): \(error)", code: .internalError)
                }
            }
            // Exit 2 (liveness-flavoured) when a replica does not answer: scripts can wait on it.
            if rows.contains(where: { !$0.reachable }) { throw ExitCode(2) }
        }
    }

    /// Hidden: the hostile peer of `scripts/chaos.sh` (`Live.Flood`).
    struct Flood: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Flood one replica as a hostile peer (chaos testing).", shouldDisplay: false)
        @Argument var dir: String
        @Option var id: Int = 0
        @Option(help: "forged, expensive, half-frame or hijack.") var kind: String
        @Option var seconds: Double = 10
        @Option(help: "Connections held at once (half-frame).") var connections: Int = 50
        func run() throws {
            do {
                let r = try Live.Flood.run(configPath: dir + "/cluster.json", target: id, kind: kind, seconds: seconds, connections: connections)
                let enc = JSONEncoder()
                enc.outputFormatting = [.sortedKeys]
                print(String(decoding: try enc.encode(r), as: UTF8.self))
            } catch { throw liveFail(error) }
        }
    }
}

struct ClientCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "client", abstract: "Load generator: closed or open loop, f+1 matching replies, latency percentiles.")
    @Option(help: "Cluster file.") var config: String
    @Option(help: "Load clients.") var clients: Int = 4
    @Option(help: "Outstanding requests per client (each is its own client id).") var outstanding: Int = 1
    @Option(help: "First client id (use a fresh range for each run against one cluster).") var firstClient: Int = 0
    @Option(help: "Seconds of load.") var duration: Double = 5
    @Option(help: "Open loop: requests per second over all clients (default: closed loop).") var rate: Double?
    @Option(help: "Open loop: from AT on the rate is RATE (repeatable, times increasing; 0 pauses), e.g. --rate-change 10s=2000 --rate-change 20s=200.")
    var rateChange: [String] = []
    @Option(help: "Write the JSON report here.") var out: String?
    @Option(help: "Observation log (default: <cluster dir>/data/client-<first>/observations.bin).") var log: String?
    @Option(help: "Serve /metrics (Prometheus) on 127.0.0.1 at this port while the load runs.") var metricsPort: Int?
    @OptionGroup var logging: LogOptions
    func validate() throws {
        if let p = metricsPort, !(1...65535).contains(p) { throw ValidationError("--metrics-port must be a port 1...65535, got \(p)") }
        _ = try rateChanges()
    }

    /// `--rate-change AT=RATE` values, checked: open loop only, times strictly increasing, rates in [0, max].
    func rateChanges() throws -> [WorkloadSpec.RateChange]? {
        guard !rateChange.isEmpty else { return nil }
        guard rate != nil else { throw ValidationError("--rate-change needs an open loop: give --rate") }
        var out: [WorkloadSpec.RateChange] = []
        for (i, text) in rateChange.enumerated() {
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let at = ScenarioLoader.parseDuration(parts[0]), at >= 0, let r = Double(parts[1]) else {
                throw ValidationError("--rate-change #\(i + 1) '\(text)': expected AT=RATE, e.g. 10s=2000")
            }
            guard r >= 0, r <= ProtocolLimits.openLoopRateMax else {
                throw ValidationError("--rate-change #\(i + 1) '\(text)': the rate must be in [0, \(Int(ProtocolLimits.openLoopRateMax))] requests per second")
            }
            if let last = out.last, at <= last.at {
                throw ValidationError("--rate-change #\(i + 1) '\(text)': times must increase (\(parts[0]) is not after the previous change)")
            }
            out.append(WorkloadSpec.RateChange(at: at, rate: r))
        }
        return out
    }

    func run() throws {
        logging.bootstrap()
        let dir = URL(fileURLWithPath: config).deletingLastPathComponent().path
        let logPath: String
        if let log { logPath = log } else {
            let d = "\(dir)/data/client-\(firstClient)"
            try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
            logPath = d + "/observations.bin"
        }
        do {
            let report = try LoadProcess.run(configPath: config, clients: clients, outstanding: outstanding, firstClient: firstClient,
                                             duration: duration, rate: rate, rateChanges: try rateChanges(), out: out, logPath: logPath,
                                             metricsPort: metricsPort, logger: Logger(label: "bftsim.client"))
            print(report.text())
        } catch { throw liveFail(error) }
    }
}

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Run the checkers over a live run's observation logs.")
    @Argument(help: "Cluster directory (cluster.json and observation logs below it).") var dir: String
    @Option(help: "Replicas that ran a Byzantine behaviour (their observations are untrusted).") var byzantine: [Int] = []
    func run() throws {
        let result: LiveCheck.Result
        do { result = try LiveCheck.run(directory: dir, byzantine: Set(byzantine)) } catch { throw liveFail(error) }
        print(result.text)
        if result.status != .asExpected { throw ExitCode(result.status.rawValue) }
    }
}

struct LinkCommandCLI: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "link", abstract: "Live link faults: a replica drops, delays or loses its traffic with peers.")
    @Option(help: "Cluster file.") var config: String
    @Option(help: "Replica that applies the fault.") var id: Int
    @Option(help: "Peers whose links are affected.") var peer: [Int] = []
    @Flag(help: "Drop all traffic with the peers (both directions): a partition.") var drop = false
    @Option(help: "Delay outgoing messages to the peers (ms).") var delayMs: Double = 0
    @Option(help: "Drop each message with this probability (both directions).") var loss: Double = 0
    @Flag(help: "Remove every link fault of this replica.") var heal = false
    func run() throws {
        let fault = heal ? nil : LinkFault(drop: drop, delayNs: Int64(delayMs * 1e6), loss: loss)
        do { try LinkAdmin.send(configPath: config, id: id, command: LinkCommand(peers: peer, fault: fault, heal: heal)) } catch { throw liveFail(error) }
    }
}

/// `ID:BEHAVIOUR[=PARAM][,BEHAVIOUR...]` (`cluster up --byzantine`), checked against the behaviour
/// registry when the argument is parsed.
struct ByzantineAssignment {
    var replica: Int
    var behaviours: String

    static func parse(_ argument: String) throws -> ByzantineAssignment {
        let parts = argument.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let id = Int(parts[0]), id >= 0 else {
            throw ValidationError("--byzantine expects ID:behaviour (e.g. 0:equivocate), got '\(argument)'")
        }
        do { _ = try ByzantineSpec.parse(commandLine: String(parts[1]), replica: id) } catch {
            throw ValidationError("--byzantine \(argument): \(error)")
        }
        return ByzantineAssignment(replica: id, behaviours: String(parts[1]))
    }
}
