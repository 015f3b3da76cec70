import BFTCore
import BFTCrypto
import ReplicaTesting
@testable import PBFT

/// What a PBFT test cluster's replicas were built from.
struct PBFTSetup {
    let config: PBFTConfig
    let keyring: Keyring
}

/// PBFT replicas in the shared deterministic test shell (`EmbeddedCluster`).
typealias TestCluster = EmbeddedCluster<PBFTSetup>

extension EmbeddedCluster where Context == PBFTSetup {
    /// `config.n` PBFT replicas (each optionally wrapped, e.g. by a Byzantine primary) with keys from
    /// `seed`; clients are played by the test (`request`, `submit`) and their replies land in `clientInbox`.
    convenience init(config: PBFTConfig, scheme: SignatureScheme = .fast, seed: UInt64 = 7, clients: Int = 4,
                     wrap: (ReplicaID, PBFTReplica, Keyring) -> any StateMachine = { _, r, _ in r },
                     configFor: ((ReplicaID) -> PBFTConfig)? = nil) {
        let keyring = Keyring(scheme: scheme, seed: seed, replicas: config.n, clients: clients)
        let replicas = (0..<config.n).map { i in
            let replica = PBFTReplica(id: i, config: configFor?(i) ?? config, signer: keyring.signer(for: .replica(i)),
                                      verifier: keyring.verifier)
            return wrap(i, replica, keyring)
        }
        self.init(context: PBFTSetup(config: config, keyring: keyring), replicas: replicas)
    }

    var config: PBFTConfig { context.config }
    var keyring: Keyring { context.keyring }

    func replica(_ i: ReplicaID) -> PBFTReplica {
        if let r = replicas[i] as? PBFTReplica { return r }
        if let e = replicas[i] as? EquivocatingPrimary { return e.inner }
        fatalError("unknown node type")
    }

    func request(client: ClientID, timestamp: UInt64, _ op: KeyValueStore.Operation) -> ClientRequest {
        ClientRequest(client: client, timestamp: timestamp, operation: op.encoded, signer: keyring.signer(for: .client(client)))
    }

    /// Sends `request` from its client to each of `replicas`, then runs to quiescence.
    func submit(_ request: ClientRequest, to replicas: [ReplicaID]) {
        for r in replicas { input(.message(from: .client(request.client), bytes: request.bytes), at: r) }
        run()
    }

    /// Messages of one PBFT type the network carried so far.
    func messages(of type: String) -> [Envelope] {
        sent.filter { describePBFTMessage($0.bytes).type == type }
    }
}

extension PBFTConfig {
    /// Small, fast settings for unit tests: no batch delay, short window.
    static func test(n: Int = 4, f: Int? = nil, batchSizeMax: Int = 8, batchDelayMax: Nanoseconds = 0,
                     checkpointInterval: Int = 4, watermarkWindow: Int = 8, mutations: PBFTMutations = []) -> PBFTConfig {
        PBFTConfig(n: n, f: f, parameters: ProtocolParameters(batchSizeMax: batchSizeMax, batchDelayMax: batchDelayMax,
                                                              checkpointInterval: checkpointInterval, watermarkWindow: watermarkWindow,
                                                              viewChangeTimeout: 100 * nanosPerMillisecond,
                                                              viewChangeTimeoutMax: 800 * nanosPerMillisecond),
                   mutations: mutations)
    }
}

let putA = KeyValueStore.Operation.put(key: "a", value: [1])
func put(_ k: String, _ v: UInt8) -> KeyValueStore.Operation { .put(key: k, value: [v]) }
