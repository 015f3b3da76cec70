import BFTCore
import BFTCrypto
import Dispatch
import Foundation
import Logging
import NIOCore
import NIOPosix
import Runner
import ScenarioFormat
import ServiceLifecycle

/// `bftsim replica`: builds the replica exactly as the simulator does (the protocol driver, from the
/// cluster file's scenario), then runs it on one event loop until SIGTERM/SIGINT, which start the
/// orderly shutdown (`ReplicaHost.shutdown`) through swift-service-lifecycle; the process exits 0.
public enum ReplicaProcess {
    public static func run(configPath: String, id: Int, dataDir: String, behaviour: String?, metricsPort: Int? = nil) throws {
        let config = try ClusterConfig.load(path: configPath)
        guard id >= 0 && id < config.n else { throw LiveError.config("replica id \(id) is not in 0..<\(config.n)") }
        let keyring = try KeyFiles.replicaKeyring(config: config, configPath: configPath, id: id)
        let machine = try makeMachine(config: config, id: id, keyring: keyring, behaviour: behaviour)

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        // Replica frames' signatures are checked on a worker thread first (issue 13: a flood of
        // well-formed forgeries cost the loop a full verification each).
        // `--metrics-port 0` turns the cluster file's port off.
        let port = metricsPort.map { $0 == 0 ? nil : $0 } ?? config.replicas[id].metricsPort
        let host = try ReplicaHost(id: id, config: config, machine: machine, dataDir: dataDir, loop: loop,
                                   authenticate: driver(for: try config.protocolKind).authenticate, keyring: keyring,
                                   logger: Logger(label: "bftsim.replica"), metricsPort: port)
        host.onStorageFailure = { _ in exit(ReplicaHost.storageFailureExitCode) }
        try host.start(group: group)
        say("replica \(id) (\(config.protocolName), n=\(config.n)) listening on \(config.replicas[id].host):\(config.replicas[id].port), data \(dataDir)"
            + (port.map { ", metrics http://\(config.replicas[id].host):\($0)/metrics" } ?? ""))
        runUntilShutdownSignal(ReplicaService(host: host), logger: Logger(label: "bftsim.lifecycle"))
        exit(0)
    }

    /// The replica as the simulator builds it (`ScenarioRun.makeReplica`): honest, or wrapped by the
    /// behaviours of `behaviour` (`ByzantineSpec.parse(commandLine:)`: `mutate=digest,slow=200ms`, ...),
    /// from the same registry the scenario files and the fuzzer use.
    public static func makeMachine(config: ClusterConfig, id: Int, keyring: Keyring, behaviour: String?) throws -> any StateMachine {
        var byzantine: [ByzantineSpec] = []
        if let behaviour {
            do { byzantine = try ByzantineSpec.parse(commandLine: behaviour, replica: id) } catch {
                throw LiveError.config("--byzantine \(id):\(behaviour): \(error)")
            }
        }
        var scenario = try config.scenario(byzantine: byzantine)
        // The fork scripts lead every view (as in scenario files, `leader_schedule: [id]`).
        if byzantine.contains(where: { $0.behaviour.hasPrefix("fork-") }) { scenario.parameters.leaderSchedule = [id] }
        do { return try ScenarioRun.makeReplica(id, scenario, driver: driver(for: scenario.protocolKind), keyring: keyring) } catch {
            throw LiveError.config("--byzantine \(id):\(behaviour ?? ""): \(error)")
        }
    }

    /// Runs `service` in a swift-service-lifecycle `ServiceGroup` whose graceful-shutdown signals are
    /// SIGTERM and SIGINT, blocking the calling (main) thread until the group has finished.
    static func runUntilShutdownSignal(_ service: some Service, logger: Logger) {
        let done = DispatchSemaphore(value: 0)
        Task {
            let group = ServiceGroup(configuration: ServiceGroupConfiguration(
                services: [.init(service: service, serviceName: "replica")],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            do { try await group.run() } catch { logger.error("service group failed", metadata: ["error": "\(error)"]) }
            done.signal()
        }
        done.wait()
    }
}

/// The replica host as a swift-service-lifecycle service: it runs on its own event loop from
/// `start`; `run` waits for graceful shutdown and then stops the host in order (stop accepting, sync,
/// flush, close). The blocking shutdown runs on a thread of its own, off the cooperative pool.
struct ReplicaService: Service {
    let host: ReplicaHost

    func run() async throws {
        try? await gracefulShutdown()
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                host.shutdown()
                c.resume()
            }
        }
    }
}

/// Writes a line to stdout unbuffered (logs of detached processes must survive kill -9).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// `bftsim link`: sends a `LinkCommand` to one replica over its own port (loopback only).
public enum LinkAdmin {
    public static func send(configPath: String, id: Int, command: LinkCommand) throws {
        let config = try ClusterConfig.load(path: configPath)
        guard id >= 0 && id < config.n else { throw LiveError.config("replica id \(id) is not in 0..<\(config.n)") }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let ch = try ClientBootstrap(group: group).connectTimeout(.seconds(2))
            .connect(host: config.replicas[id].host, port: config.replicas[id].port).wait()
        let enc = JSONEncoder()
        let body = [UInt8](try enc.encode(command))
        try ch.eventLoop.submit {
            ch.write(Wire.frame(Handshake.admin.bytes, allocator: ch.allocator), promise: nil)
            ch.write(Wire.frame(body, allocator: ch.allocator), promise: nil)
            ch.flush()
        }.wait()
        try ch.close().wait()
    }
}
