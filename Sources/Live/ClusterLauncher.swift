import Foundation

/// `bftsim cluster up|down|kill|restart`: a local cluster as separate `bftsim replica` processes.
///
/// Layout under the cluster directory (the one holding `cluster.json`): `data/rI/` (durable state,
/// observations, stats), `logs/rI.log` (stdout and stderr), `pids/rI.pid`. Behaviours given with
/// `--byzantine ID:behaviour` are remembered in `pids/rI.behaviour` so a restart keeps them.
public struct ClusterLauncher {
    public let directory: String
    public let executable: String

    public init(directory: String, executable: String) {
        self.directory = directory
        self.executable = executable
    }

    var configPath: String { directory + "/cluster.json" }
    func pidFile(_ i: Int) -> String { "\(directory)/pids/r\(i).pid" }
    func behaviourFile(_ i: Int) -> String { "\(directory)/pids/r\(i).behaviour" }
    /// Options every replica of the cluster is started with (`cluster up --log-level/--log-format`),
    /// one argument a line, kept so `restart` uses them too.
    var optionsFile: String { "\(directory)/pids/options" }
    public func dataDir(_ i: Int) -> String { "\(directory)/data/r\(i)" }
    public func logFile(_ i: Int) -> String { "\(directory)/logs/r\(i).log" }

    public func replicaIDs() throws -> [Int] {
        let c = try ClusterConfig.load(path: configPath)
        return Array(0..<c.n)
    }

    public func up(byzantine: [Int: String], replicaOptions: [String] = []) throws {
        for d in ["pids", "logs", "data"] {
            try FileManager.default.createDirectory(atPath: directory + "/" + d, withIntermediateDirectories: true)
        }
        try replicaOptions.map { $0 + "\n" }.joined().write(toFile: optionsFile, atomically: true, encoding: .utf8)
        for i in try replicaIDs() {
            if let b = byzantine[i] {
                try b.write(toFile: behaviourFile(i), atomically: true, encoding: .utf8)
            } else {
                try? FileManager.default.removeItem(atPath: behaviourFile(i))
            }
            try start(i)
        }
    }

    /// Starts replica `i` unless its pid file names a live process.
    public func start(_ i: Int) throws {
        if let pid = pid(of: i), ClusterLauncher.isAlive(pid) { return }
        try FileManager.default.createDirectory(atPath: dataDir(i), withIntermediateDirectories: true)
        var args = ["replica", "--config", configPath, "--id", String(i), "--data", dataDir(i)]
        if let b = try? String(contentsOfFile: behaviourFile(i), encoding: .utf8) { args += ["--byzantine", b] }
        if let o = try? String(contentsOfFile: optionsFile, encoding: .utf8) { args += o.split(separator: "\n").map(String.init) }
        let logStart = (try? FileManager.default.attributesOfItem(atPath: logFile(i))[.size] as? Int) ?? 0
        let pid = try spawn(args: args, log: logFile(i))
        try "\(pid)\n".write(toFile: pidFile(i), atomically: true, encoding: .utf8)
        try waitUntilListening(i, pid: pid, logStart: logStart)
    }

    /// Waits (bounded) until replica `i` reports that it listens; if it exits first (a port in use, a
    /// bad key file, ...) the error names the replica and quotes its log.
    func waitUntilListening(_ i: Int, pid: pid_t, logStart: Int, timeout: Double = 10) throws {
        func newLog() -> String {
            guard let d = FileManager.default.contents(atPath: logFile(i)), d.count > logStart else { return "" }
            return String(decoding: d[logStart...], as: UTF8.self)
        }
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(timeout * 1e9)
        while DispatchTime.now().uptimeNanoseconds < deadline {
            if newLog().contains("listening on") { return }
            if !ClusterLauncher.isAlive(pid) {
                var status: Int32 = 0
                _ = waitpid(pid, &status, WNOHANG)
                try? FileManager.default.removeItem(atPath: pidFile(i))
                let why = newLog().split(separator: "\n").last.map(String.init) ?? "no output"
                throw LiveError.io("replica \(i) exited during start-up: \(why) (log: \(logFile(i)))")
            }
            usleep(20_000)
        }
        throw LiveError.io("replica \(i) did not report listening within \(Int(timeout)) s (log: \(logFile(i)))")
    }

    public func pid(of i: Int) -> pid_t? {
        guard let s = try? String(contentsOfFile: pidFile(i), encoding: .utf8) else { return nil }
        return pid_t(s.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Sends `signal` to replica `i` and waits (bounded) for it to exit; removes the pid file.
    public func kill(_ i: Int, signal: Int32) {
        guard let pid = pid(of: i) else { return }
        if Foundation.kill(pid, signal) == 0 {
            var status: Int32 = 0
            for _ in 0..<100 {
                if waitpid(pid, &status, WNOHANG) == pid { break }
                if !ClusterLauncher.isAlive(pid) { break }
                usleep(50_000)
            }
            if ClusterLauncher.isAlive(pid) {
                Foundation.kill(pid, SIGKILL)
                _ = waitpid(pid, &status, WNOHANG)
            }
        }
        try? FileManager.default.removeItem(atPath: pidFile(i))
    }

    /// Alive and not a zombie (a zombie's parent may be a test runner that has not reaped it yet).
    public static func isAlive(_ pid: pid_t) -> Bool {
        guard Foundation.kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        let rest = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces)
        return !rest.hasPrefix("Z")
    }

    public func down() throws {
        for i in try replicaIDs() { kill(i, signal: SIGTERM) }
    }

    public func restart(_ i: Int) throws {
        kill(i, signal: SIGTERM)
        try start(i)
    }

    /// Starts a detached child (own session) with stdout and stderr appended to `log`.
    func spawn(args: [String], log: String) throws -> pid_t {
        var fa = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fa)
        defer { posix_spawn_file_actions_destroy(&fa) }
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&fa, 1, 2)
        // Inherit nothing else: a caller reading our stdout pipe to EOF must not wait on the replica.
        for fd in Int32(3)..<1024 {
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(0x80) /* POSIX_SPAWN_SETSID */)
        let argv = ([executable] + args).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &fa, &attr, argv, environ)
        guard rc == 0 else { throw LiveError.io("cannot start \(executable): errno \(rc)") }
        return pid
    }
}
