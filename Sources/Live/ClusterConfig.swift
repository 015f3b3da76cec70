import BFTCore
import BFTCrypto
import Foundation
import ScenarioFormat

/// The cluster file (`cluster.json`): who the replicas are, where they listen, their public keys,
/// the clients' public keys, and the protocol with its parameters. Never holds a secret.
public struct ClusterConfig: Codable, Sendable {
    public struct ReplicaEntry: Codable, Sendable {
        public var id: Int
        public var host: String
        public var port: Int
        /// Hex Ed25519 public key.
        public var publicKey: String
        /// Where the replica serves `/metrics` and its status page (same host), if anywhere
        /// (issue 20; `bftsim replica --metrics-port` overrides it).
        public var metricsPort: Int?
    }

    public var protocolName: String
    public var f: Int
    public var parameters: ProtocolParameters
    public var replicas: [ReplicaEntry]
    /// Hex Ed25519 public keys of clients `0..<clientKeys.count`.
    public var clientKeys: [String]
    /// Directory of the secret key files, relative to the cluster file unless absolute.
    public var keyDirectory: String
    /// Client retransmission timeout (ns) for the load generator.
    public var clientRetryTimeout: Int64
    /// Liveness bound (ns) `bftsim check` applies to every request.
    public var livenessBound: Int64
    /// "ed25519" (default when absent) or "mac": PBFT MAC authenticators for client traffic (`MACAuth`).
    public var clientAuth: String?
    /// Hex X25519 key-exchange public keys (mac mode), by replica id and by client id.
    public var replicaKX: [String]?
    public var clientKX: [String]?

    public var usesMACs: Bool { clientAuth == "mac" }

    public var n: Int { replicas.count }

    public var protocolKind: ProtocolKind {
        get throws(LiveError) {
            guard let k = ProtocolKind(rawValue: protocolName) else { throw .config("unknown protocol '\(protocolName)'") }
            return k
        }
    }

    public static func load(path: String) throws(LiveError) -> ClusterConfig {
        guard let data = FileManager.default.contents(atPath: path) else { throw .config("cannot read cluster file \(path)") }
        do {
            let c = try JSONDecoder().decode(ClusterConfig.self, from: data)
            try c.validate()
            return c
        } catch let e as LiveError {
            throw e
        } catch {
            throw .config("\(path): \(error)")
        }
    }

    func validate() throws(LiveError) {
        guard n >= 3 * f + 1, f >= 0 else { throw .config("n=\(n) replicas cannot tolerate f=\(f)") }
        for (i, r) in replicas.enumerated() where r.id != i { throw .config("replica entries must be listed by id 0..<n (entry \(i) has id \(r.id))") }
        for r in replicas {
            guard let m = r.metricsPort else { continue }
            guard m > 0 && m < 65536 else { throw .config("replica \(r.id): metricsPort \(m) is not a port (1...65535)") }
            if let other = replicas.first(where: { $0.host == r.host && $0.port == m }) {
                throw .config("replica \(r.id): metricsPort \(m) is replica \(other.id)'s protocol port")
            }
            if let other = replicas.first(where: { $0.id < r.id && $0.host == r.host && $0.metricsPort == m }) {
                throw .config("replica \(r.id): metricsPort \(m) is also replica \(other.id)'s")
            }
        }
        _ = try protocolKind
        if usesMACs {
            guard n <= 8 else { throw .config("client-auth mac supports n <= 8 (authenticator slots share 64 bytes)") }
            guard replicaKX?.count == n, clientKX?.count == clientKeys.count else { throw .config("client-auth mac needs replicaKX and clientKX keys") }
        } else if let a = clientAuth, a != "ed25519" {
            throw .config("unknown clientAuth '\(a)' (ed25519 or mac)")
        }
    }

    func kxKeys(_ hex: [String]?) throws(LiveError) -> [[UInt8]] {
        var out: [[UInt8]] = []
        for h in hex ?? [] {
            guard let k = [UInt8](hex: h), k.count == 32 else { throw .config("bad key-exchange public key") }
            out.append(k)
        }
        return out
    }

    public func write(to path: String) throws(LiveError) {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        do { try enc.encode(self).write(to: URL(fileURLWithPath: path)) } catch { throw .io("cannot write \(path): \(error)") }
    }

    /// Every principal's public key.
    public func publicKeys() throws(LiveError) -> [Principal: [UInt8]] {
        var keys: [Principal: [UInt8]] = [:]
        for r in replicas {
            guard let k = [UInt8](hex: r.publicKey), k.count == 32 else { throw .config("replica \(r.id): bad public key") }
            keys[.replica(r.id)] = k
        }
        for (c, hex) in clientKeys.enumerated() {
            guard let k = [UInt8](hex: hex), k.count == 32 else { throw .config("client \(c): bad public key") }
            keys[.client(c)] = k
        }
        return keys
    }

    /// The scenario the protocol drivers build replicas from: the same factory as the simulator.
    public func scenario(byzantine: [ByzantineSpec] = []) throws(LiveError) -> Scenario {
        Scenario(name: "live", protocolKind: try protocolKind, replicas: n, f: f, crypto: .ed25519,
                 parameters: parameters, byzantine: byzantine,
                 liveness: LivenessSpec(bound: livenessBound))
    }
}

public enum LiveError: Error, CustomStringConvertible {
    case config(String)
    case io(String)
    /// The data directory cannot be written (ENOSPC, EIO, ...): `bftsim replica` exits with
    /// `ReplicaHost.storageFailureExitCode`.
    case storage(String)
    public var description: String {
        switch self {
        case .config(let s): return s
        case .io(let s): return s
        case .storage(let s): return s
        }
    }
}

/// Secret key files: one per replica (`replica-I.key`), one for all clients (`clients.key`), each a
/// hex seed per line, mode 0600. Their contents are never printed or logged.
public enum KeyFiles {
    public static func replicaFile(_ dir: String, _ id: Int) -> String { "\(dir)/replica-\(id).key" }
    public static func clientsFile(_ dir: String) -> String { "\(dir)/clients.key" }

    static func writeSecret(_ lines: [String], to path: String) throws(LiveError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw .io("cannot create \(path)") }
        defer { close(fd) }
        fchmod(fd, 0o600)
        let bytes = Array((lines.joined(separator: "\n") + "\n").utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else { throw .io("cannot write \(path)") }
    }

    static func readSeeds(_ path: String) throws(LiveError) -> [[UInt8]] {
        var st = stat()
        guard stat(path, &st) == 0 else { throw .io("cannot read key file \(path)") }
        guard st.st_mode & 0o077 == 0 else { throw .config("key file \(path) is readable by others (chmod 600 it)") }
        guard let data = FileManager.default.contents(atPath: path) else { throw .io("cannot read key file \(path)") }
        var seeds: [[UInt8]] = []
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where !line.isEmpty {
            guard let s = [UInt8](hex: String(line)), s.count == 32 else { throw .config("key file \(path) is malformed") }
            seeds.append(s)
        }
        return seeds
    }

    /// Resolves the cluster's key directory relative to the cluster file.
    public static func directory(config: ClusterConfig, configPath: String) -> String {
        if config.keyDirectory.hasPrefix("/") { return config.keyDirectory }
        return URL(fileURLWithPath: configPath).deletingLastPathComponent().appendingPathComponent(config.keyDirectory).path
    }

    /// A replica's keyring: every public key, its own secret.
    public static func replicaKeyring(config: ClusterConfig, configPath: String, id: Int) throws(LiveError) -> Keyring {
        let seeds = try readSeeds(replicaFile(directory(config: config, configPath: configPath), id))
        guard seeds.count == 1 else { throw .config("replica key file must hold one key") }
        let pks = try config.publicKeys()
        guard Ed25519KeyPair(seed: seeds[0]).publicKey == pks[.replica(id)] else {
            throw .config("replica \(id)'s key file does not match the cluster file")
        }
        let base = Keyring(publicKeys: pks, ownSeeds: [.replica(id): seeds[0]])
        guard config.usesMACs else { return base }
        let keys = MACReplicaKeys(seed: seeds[0], clientKX: try config.kxKeys(config.clientKX))
        return Keyring(signers: [.replica(id): MACReplicaSigner(ed25519: base.signer(for: .replica(id)), keys: keys)],
                       verifier: MACReplicaVerifier(id: id, n: config.n, ed25519: base.verifier, keys: keys),
                       replicas: config.n, clients: config.clientKeys.count,
                       publicKeys: base.allPublicKeys, verificationCache: base.verificationCache)
    }

    /// The Ed25519 key pairs of clients `range`, with which a load generator proves its client range to
    /// the replicas (`ClientAuth`; in MAC mode too, since `clientKeys` are Ed25519 keys either way).
    public static func clientHandshakeKeys(config: ClusterConfig, configPath: String, range: Range<Int>) throws(LiveError) -> [Ed25519KeyPair] {
        let seeds = try readSeeds(clientsFile(directory(config: config, configPath: configPath)))
        guard range.lowerBound >= 0, range.upperBound <= seeds.count, range.upperBound <= config.clientKeys.count else {
            throw .config("clients \(range.lowerBound)..<\(range.upperBound) requested but the cluster has \(config.clientKeys.count) client keys (bftsim keygen --clients)")
        }
        return range.map { Ed25519KeyPair(seed: seeds[$0]) }
    }

    /// A load generator's keyring: every public key, the secrets of clients `range`.
    public static func clientKeyring(config: ClusterConfig, configPath: String, range: Range<Int>) throws(LiveError) -> Keyring {
        let seeds = try readSeeds(clientsFile(directory(config: config, configPath: configPath)))
        guard range.upperBound <= seeds.count, range.upperBound <= config.clientKeys.count else {
            throw .config("clients \(range.lowerBound)..<\(range.upperBound) requested but the cluster has \(config.clientKeys.count) client keys (bftsim keygen --clients)")
        }
        if config.usesMACs {
            let replicaKX = try config.kxKeys(config.replicaKX)
            var signers: [Principal: MessageSigner] = [:]
            var clients: [MACClient] = []
            for c in range {
                guard let m = MACClient(client: c, seed: seeds[c], replicaKX: replicaKX) else { throw .config("key exchange failed for client \(c)") }
                signers[.client(c)] = m
                clients.append(m)
            }
            return Keyring(signers: signers, verifier: MACClientsVerifier(first: range.lowerBound, clients: clients),
                           replicas: config.n, clients: config.clientKeys.count)
        }
        var own: [Principal: [UInt8]] = [:]
        for c in range { own[.client(c)] = seeds[c] }
        return Keyring(publicKeys: try config.publicKeys(), ownSeeds: own)
    }
}

/// `bftsim keygen`: fresh random keys and a cluster file.
public enum KeyGen {
    public static func generate(replicas n: Int, clients: Int, out: String, protocolKind: ProtocolKind, host: String = "127.0.0.1",
                                basePort: Int, parameters: ProtocolParameters, clientAuthMAC: Bool = false,
                                metricsBasePort: Int? = nil) throws(LiveError) -> ClusterConfig {
        let keyDir = out + "/keys"
        do {
            try FileManager.default.createDirectory(atPath: keyDir, withIntermediateDirectories: true)
        } catch { throw .io("cannot create \(keyDir)") }
        chmod(keyDir, 0o700)
        var entries: [ClusterConfig.ReplicaEntry] = []
        var replicaKX: [String] = []
        var clientKX: [String] = []
        for i in 0..<n {
            let kp = Ed25519KeyPair()
            replicaKX.append(MACAuth.kxPair(seed: kp.seedBytes).pk.hexString)
            try KeyFiles.writeSecret([kp.seedBytes.hexString], to: KeyFiles.replicaFile(keyDir, i))
            entries.append(.init(id: i, host: host, port: basePort + i, publicKey: kp.publicKey.hexString,
                                 metricsPort: metricsBasePort.map { $0 + i }))
        }
        var clientSeeds: [String] = []
        var clientKeys: [String] = []
        for _ in 0..<clients {
            let kp = Ed25519KeyPair()
            clientSeeds.append(kp.seedBytes.hexString)
            clientKeys.append(kp.publicKey.hexString)
            if clientAuthMAC { clientKX.append(MACAuth.kxPair(seed: kp.seedBytes).pk.hexString) }
        }
        try KeyFiles.writeSecret(clientSeeds, to: KeyFiles.clientsFile(keyDir))
        let config = ClusterConfig(protocolName: protocolKind.rawValue, f: QuorumMath.maxFaulty(n: n), parameters: parameters,
                                   replicas: entries, clientKeys: clientKeys, keyDirectory: "keys",
                                   clientRetryTimeout: 1 * nanosPerSecond, livenessBound: 30 * nanosPerSecond,
                                   clientAuth: clientAuthMAC ? "mac" : nil, replicaKX: clientAuthMAC ? replicaKX : nil,
                                   clientKX: clientAuthMAC ? clientKX : nil)
        try config.validate()
        try config.write(to: out + "/cluster.json")
        return config
    }
}

extension Array where Element == UInt8 {
    init?(hex: String) {
        let u = Array(hex.utf8)
        guard u.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(u.count / 2)
        func nib(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var i = 0
        while i < u.count {
            guard let h = nib(u[i]), let l = nib(u[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        self = out
    }
}
